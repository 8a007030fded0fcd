//! The gateway's delivery path: one call per event numbers it for every recipient session,
//! builds each session's frame (its own `s`; its own zlib-stream or zstd-stream context) and
//! writes it to the socket without blocking. Only what the kernel will not take now is queued
//! for that connection's writer; a queue over its bound closes the connection as a slow
//! consumer (4000), and its client RESUMEs from the session's replay.
//!
//! Two parts: an `Outlet` is one connection's sending side (socket, compression, queue); a
//! `Feed` is one session's numbered dispatches, kept for RESUME, and the outlet it is on.
//!
//! Time is the caller's: every call that needs it takes `now`, in seconds on the caller's
//! clock (the gateway's is Trio's, so tests can run on a mock clock).

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use crate::deflate;
use zstd_safe::zstd_sys::ZSTD_EndDirective;
use zstd_safe::{CCtx, CParameter, InBuffer, OutBuffer};

/// The highest `seq` numbering may start from: half of u64, so a feed never runs out.
pub const MAX_START_SEQ: u64 = u64::MAX / 2;

/// The close a consumer too slow for its queue gets: resumable.
pub const SLOW_CONSUMER: (u16, &str) = (4000, "slow consumer: resume");

/// Slow consumers closed since the process started, for the gateway's metrics.
static SLOW_CONSUMERS_CLOSED: AtomicU64 = AtomicU64::new(0);

#[must_use]
pub fn slow_consumers_closed() -> u64 {
    SLOW_CONSUMERS_CLOSED.load(Ordering::Relaxed)
}

const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;
const MAX_HEADER: usize = 10;

/// Discord's per-connection transport compression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// zlib-stream: one deflate stream, each message ending in a sync flush (`00 00 ff ff`);
    /// built from parts that refer to nothing before them (see `deflate`).
    Zlib,
    /// zstd-stream: one zstd frame, each message ending in a flush, so it decodes on arrival.
    Zstd,
}

// zstd's streaming default window for level 1 is 512 KB: far too much per connection.
const ZSTD_LEVEL: i32 = 1;
const ZSTD_WINDOW_LOG: u32 = 12;

enum Codec {
    Plain,
    /// zlib-stream's only per-connection state: whether the stream's header has gone.
    Zlib {
        started: bool,
    },
    Zstd(CCtx<'static>),
}

impl Codec {
    fn new(compression: Option<Compression>) -> io::Result<Self> {
        Ok(match compression {
            None => Self::Plain,
            Some(Compression::Zlib) => Self::Zlib { started: false },
            Some(Compression::Zstd) => {
                let mut context =
                    CCtx::try_create().ok_or_else(|| io::Error::other("zstd: out of memory"))?;
                for parameter in [
                    CParameter::CompressionLevel(ZSTD_LEVEL),
                    CParameter::WindowLog(ZSTD_WINDOW_LOG),
                    CParameter::HashLog(ZSTD_WINDOW_LOG),
                    CParameter::ChainLog(ZSTD_WINDOW_LOG),
                ] {
                    context.set_parameter(parameter).map_err(zstd_error)?;
                }
                Self::Zstd(context)
            }
        })
    }

    /// Appends `message`, compressed and flushed so that it decodes alone, to `out`; returns
    /// the WebSocket opcode the frame takes.
    fn encode(&mut self, message: &[u8], out: &mut Vec<u8>) -> io::Result<u8> {
        match self {
            Self::Plain => {
                out.extend_from_slice(message);
                Ok(TEXT)
            }
            Self::Zlib { started } => {
                Self::zlib_start(started, out);
                deflate::compress_part(message, out).map_err(io::Error::other)?;
                Ok(BINARY)
            }
            Self::Zstd(context) => {
                let mut input = InBuffer::around(message);
                loop {
                    out.reserve(message.len() + 64);
                    let start = out.len();
                    let mut output = OutBuffer::around_pos(out, start);
                    let unflushed = context
                        .compress_stream2(&mut output, &mut input, ZSTD_EndDirective::ZSTD_e_flush)
                        .map_err(zstd_error)?;
                    if unflushed == 0 {
                        return Ok(BINARY);
                    }
                }
            }
        }
    }
}

impl Codec {
    /// The stream's header, before a connection's first message.
    fn zlib_start(started: &mut bool, out: &mut Vec<u8>) {
        if !*started {
            out.extend_from_slice(&deflate::ZLIB_HEADER);
            *started = true;
        }
    }
}

fn zstd_error(code: usize) -> io::Error {
    io::Error::other(format!("zstd: {}", zstd_safe::get_error_name(code)))
}

/// A WebSocket frame header (final, unmasked) for a payload of `size` bytes, right-aligned in
/// `MAX_HEADER` bytes, and where it starts.
fn frame_header(opcode: u8, size: usize) -> ([u8; MAX_HEADER], usize) {
    let mut header = [0; MAX_HEADER];
    let first = 0x80 | opcode;
    if let Ok(short @ 0..=125) = u8::try_from(size) {
        header[8] = first;
        header[9] = short;
        (header, 8)
    } else if let Ok(medium) = u16::try_from(size) {
        let [high, low] = medium.to_be_bytes();
        header[6..].copy_from_slice(&[first, 126, high, low]);
        (header, 6)
    } else {
        let length = u64::try_from(size).unwrap_or(u64::MAX).to_be_bytes();
        header[0] = first;
        header[1] = 127;
        header[2..].copy_from_slice(&length);
        (header, 0)
    }
}

/// A whole frame: header and payload.
fn framed(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let (header, start) = frame_header(opcode, payload.len());
    let mut frame = Vec::with_capacity(MAX_HEADER + payload.len());
    frame.extend_from_slice(header.get(start..).unwrap_or_default());
    frame.extend_from_slice(payload);
    frame
}

/// What became of bytes handed to an outlet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    /// All in the kernel.
    Written,
    /// Some wait in a queue that was empty: the connection's writer must be started.
    Backlogged,
    /// Some wait behind earlier queued bytes; the writer is already on it.
    Queued,
    /// Not taken: the outlet is closed, or its queue would pass its bound.
    Refused,
}

/// One connection's sending side. Writes never block: the kernel takes what it can, the rest
/// waits in order for `flush`.
pub struct Outlet {
    stream: Option<TcpStream>,
    codec: Codec,
    pending: VecDeque<Vec<u8>>,
    head_started: bool, // part of pending[0]'s frame is already on the wire
    queued: usize,
    max_queued: usize,
    open: bool, // takes new frames: false once a close frame went in or the socket failed
}

impl Outlet {
    /// An outlet on a connected socket; sets it non-blocking and without Nagle's delay.
    ///
    /// # Errors
    /// When the socket refuses those options (it is not a TCP socket, say).
    pub fn new(stream: TcpStream, max_queued: usize) -> io::Result<Self> {
        stream.set_nonblocking(true)?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream: Some(stream),
            codec: Codec::Plain,
            pending: VecDeque::new(),
            head_started: false,
            queued: 0,
            max_queued,
            open: true,
        })
    }

    /// Compresses every later message.
    ///
    /// # Errors
    /// When the compressor cannot be created.
    pub fn compress(&mut self, compression: Compression) -> io::Result<()> {
        self.codec = Codec::new(Some(compression))?;
        Ok(())
    }

    #[must_use]
    pub fn queued(&self) -> usize {
        self.queued
    }

    #[must_use]
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// How many bytes of the peer's arrived in `buffer`: None when none are there yet, 0 at
    /// its end (a socket that failed reads as the end).
    pub fn receive(&mut self, buffer: &mut [u8]) -> Option<usize> {
        let stream = self.stream.as_mut()?;
        loop {
            return match stream.read(buffer) {
                Ok(size) => Some(size),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
                Err(_) => Some(0),
            };
        }
    }

    /// One gateway message, as a text frame or through the connection's compression.
    pub fn send_message(&mut self, message: &[u8], scratch: &mut Vec<u8>) -> Sent {
        if !self.open {
            return Sent::Refused;
        }
        scratch.clear();
        scratch.resize(MAX_HEADER, 0);
        let Ok(opcode) = self.codec.encode(message, scratch) else {
            self.fail();
            return Sent::Refused;
        };
        self.send_framed(opcode, scratch)
    }

    /// A dispatch (op 0) with this connection's `seq`, the payload spliced in as it is.
    fn send_dispatch(&mut self, seq: u64, dispatch: &Dispatch, scratch: &mut Scratch) -> Sent {
        scratch.message.clear();
        if matches!(self.codec, Codec::Plain) {
            // Built straight after the header's room: no copy for the common case.
            scratch.message.resize(MAX_HEADER, 0);
            dispatch.write_message(seq, &mut scratch.message);
            return self.send_framed(TEXT, &mut scratch.message);
        }
        if let Codec::Zlib { started } = &mut self.codec {
            // The shared part is deflated once for every recipient; only this connection's
            // prefix is its own. Header first, on a connection's first message.
            let Some(shared) = dispatch.deflated() else {
                self.fail();
                return Sent::Refused;
            };
            let frame = &mut scratch.frame;
            frame.clear();
            frame.resize(MAX_HEADER, 0);
            Codec::zlib_start(started, frame);
            Dispatch::write_prefix(seq, &mut scratch.message);
            deflate::stored(&scratch.message, frame);
            frame.extend_from_slice(shared);
            return self.send_framed(BINARY, frame);
        }
        dispatch.write_message(seq, &mut scratch.message);
        self.send_message(&scratch.message, &mut scratch.frame)
    }

    /// Whether dispatches go out through their shared deflated part.
    #[must_use]
    pub fn shares_deflate(&self) -> bool {
        matches!(self.codec, Codec::Zlib { .. })
    }

    /// Any frame: `payload` is framed as given (no compression).
    pub fn send_frame(&mut self, opcode: u8, payload: &[u8]) -> Sent {
        self.send_raw(&framed(opcode, payload))
    }

    /// Bytes as they are (an HTTP answer before the upgrade).
    pub fn send_raw(&mut self, data: &[u8]) -> Sent {
        if self.open {
            self.write(data)
        } else {
            Sent::Refused
        }
    }

    /// `framed` holds the payload after `MAX_HEADER` bytes of room for its header.
    fn send_framed(&mut self, opcode: u8, framed: &mut [u8]) -> Sent {
        let (header, start) = frame_header(opcode, framed.len() - MAX_HEADER);
        let (room, _) = framed.split_at_mut(MAX_HEADER);
        room.copy_from_slice(&header);
        self.write(framed.get(start..).unwrap_or_default())
    }

    fn write(&mut self, data: &[u8]) -> Sent {
        let Some(stream) = self.stream.as_mut() else {
            return Sent::Refused;
        };
        let was_empty = self.pending.is_empty();
        let mut rest = data;
        if was_empty {
            let written = loop {
                match stream.write(rest) {
                    Ok(size) => break size,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break 0,
                    Err(_) => {
                        self.fail();
                        return Sent::Refused;
                    }
                }
            };
            if written == rest.len() {
                return Sent::Written;
            }
            rest = rest.get(written..).unwrap_or_default();
            if written > 0 {
                // The frame has started: its tail must follow, whatever the bound says, or
                // the stream would be corrupt.
                self.head_started = true;
                self.enqueue(rest);
                return Sent::Backlogged;
            }
        }
        if self.queued + rest.len() > self.max_queued {
            return Sent::Refused;
        }
        self.enqueue(rest);
        if was_empty {
            Sent::Backlogged
        } else {
            Sent::Queued
        }
    }

    fn enqueue(&mut self, data: &[u8]) {
        self.pending.push_back(data.to_vec());
        self.queued += data.len();
    }

    /// Sends a close frame after the frames already queued, then takes no more. With the
    /// queue full, the frames not yet started are dropped for it (the client RESUMEs).
    pub fn close(&mut self, code: u16, reason: &str) -> Sent {
        if !self.open {
            return Sent::Refused;
        }
        let mut payload = code.to_be_bytes().to_vec();
        let mut cut = reason.len().min(123);
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        payload.extend_from_slice(reason.get(..cut).unwrap_or_default().as_bytes());
        let frame = framed(CLOSE, &payload);
        let mut sent = self.write(&frame);
        if sent == Sent::Refused && self.stream.is_some() {
            let started = if self.head_started {
                self.pending.pop_front()
            } else {
                None
            };
            self.pending.clear();
            self.pending.extend(started);
            self.pending.push_back(frame);
            self.queued = self.pending.iter().map(Vec::len).sum();
            sent = Sent::Queued; // the queue was full, so a writer is already on it
        }
        self.open = false;
        sent
    }

    /// Writes queued bytes as the kernel takes them; true once nothing is left (or the socket
    /// failed, which drops the rest).
    pub fn flush(&mut self) -> bool {
        let Some(stream) = self.stream.as_mut() else {
            return true;
        };
        while let Some(head) = self.pending.front_mut() {
            match stream.write(head) {
                Ok(size) if size == head.len() => {
                    self.queued -= size;
                    self.pending.pop_front();
                    self.head_started = false;
                }
                Ok(size) => {
                    self.queued -= size;
                    head.drain(..size);
                    self.head_started = true;
                    return false;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(_) => {
                    self.fail();
                    return true;
                }
            }
        }
        true
    }

    fn fail(&mut self) {
        self.open = false;
        self.pending.clear();
        self.queued = 0;
    }

    /// Closes the socket; later calls find nothing to do.
    pub fn shutdown(&mut self) {
        self.fail();
        if let Some(stream) = self.stream.take() {
            let _ = stream.shutdown(Shutdown::Both); // the peer may have gone already
        }
    }
}

/// One dispatch, shared by every session it goes to.
pub struct Dispatch {
    pub name: Box<str>,
    pub payload: Box<[u8]>,
    pub event_id: Option<u64>,
    /// The journal's count at staging: a held feed sends it once the journal has that far.
    pub mark: u64,
    /// Kept for a RESUME once sent. READY and the first `GUILD_CREATE`s are not: they are each
    /// session's own and large, and a client resuming from before them identifies again.
    pub keep: bool,
    /// When it was staged, on the caller's clock (seconds).
    at: f64,
    /// `"t":…,"d":…}` deflated once for every zlib-stream recipient, when the first needs it;
    /// None if deflate failed.
    deflated: OnceLock<Option<Box<[u8]>>>,
}

impl Dispatch {
    #[must_use]
    pub fn new(
        name: &str,
        payload: &[u8],
        event_id: Option<u64>,
        mark: u64,
        keep: bool,
        now: f64,
    ) -> Self {
        Self {
            name: name.into(),
            payload: payload.into(),
            event_id,
            mark,
            keep,
            at: now,
            deflated: OnceLock::new(),
        }
    }

    /// `{"op":0,"s":<seq>,"t":<name>,"d":<payload>}`, appended to `out`.
    pub fn write_message(&self, seq: u64, out: &mut Vec<u8>) {
        Self::write_prefix(seq, out);
        self.write_shared(out);
    }

    /// Each session's own part: `{"op":0,"s":<seq>,`.
    fn write_prefix(seq: u64, out: &mut Vec<u8>) {
        let mut digits = itoa::Buffer::new();
        out.extend_from_slice(b"{\"op\":0,\"s\":");
        out.extend_from_slice(digits.format(seq).as_bytes());
        out.push(b',');
    }

    /// The part every session shares: `"t":<name>,"d":<payload>}`.
    fn write_shared(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"\"t\":\"");
        out.extend_from_slice(self.name.as_bytes());
        out.extend_from_slice(b"\",\"d\":");
        out.extend_from_slice(&self.payload);
        out.push(b'}');
    }

    /// The shared part, deflated (once: later calls reuse it). The work of a zlib-stream
    /// delivery that does not grow with recipients, so a caller holding a lock that others
    /// wait on (the GIL) calls this first, without it.
    pub fn deflated(&self) -> Option<&[u8]> {
        self.deflated
            .get_or_init(|| {
                let mut shared = Vec::with_capacity(self.payload.len() + self.name.len() + 16);
                self.write_shared(&mut shared);
                let mut out = Vec::new();
                deflate::compress_part(&shared, &mut out).ok()?;
                Some(out.into_boxed_slice())
            })
            .as_deref()
    }

    #[must_use]
    pub fn is_deflated(&self) -> bool {
        self.deflated.get().is_some()
    }
}

/// Buffers reused across one batch.
#[derive(Default)]
pub struct Scratch {
    message: Vec<u8>,
    frame: Vec<u8>,
}

/// How long a session keeps its dispatches for a RESUME: every one of the last `keep`, at
/// least the last `min_events`, never more than `max_events` (memory stays bounded).
#[derive(Clone, Copy, Debug)]
pub struct ReplayLimits {
    /// Seconds on the caller's clock.
    pub keep_s: f64,
    pub min_events: usize,
    pub max_events: usize,
}

/// What became of a feed's connection in a delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Quiet,
    /// Its queue went from empty to waiting: start its writer.
    Backlogged,
    /// Too slow: its connection was closed (4000) and the feed detached from it.
    Closed,
}

/// A session's handle on the outlet it is attached to.
pub trait OutletHandle {
    fn with_outlet<R>(&self, use_outlet: impl FnOnce(&mut Outlet) -> R) -> R;

    /// Runs `work`, which touches no outlet, without any lock the handle holds (the GIL):
    /// for compression whose cost does not grow with recipients.
    fn unlocked(&self, work: &mut (dyn FnMut() + Send)) {
        work();
    }
}

/// One session's dispatches: numbered (`s`), kept for a RESUME, and sent in order on the
/// outlet it is attached to. A held feed (several nodes) sends a dispatch only once the
/// journal has it (`release`).
pub struct Feed<O> {
    pub number: u64, // its name in this node's journal
    held: bool,
    seq: u64,
    first: u64, // the seq of kept[0]
    kept: VecDeque<Arc<Dispatch>>,
    recorded: u64, // may be sent up to here
    written: u64,  // sent on the current outlet up to here
    outlet: Option<O>,
    // Whether the outlet's codec shares each dispatch's deflated part (zlib-stream): read
    // once when attached, not on every delivery (a look at the outlet costs a borrow).
    shares_deflate: bool,
    detached_at: Option<f64>, // on the caller's clock
    limits: ReplayLimits,
}

impl<O: OutletHandle> Feed<O> {
    /// A session detached since `now`.
    #[must_use]
    pub fn new(number: u64, held: bool, limits: ReplayLimits, now: f64) -> Self {
        Self {
            number,
            held,
            seq: 0,
            first: 1,
            kept: VecDeque::new(),
            recorded: 0,
            written: 0,
            outlet: None,
            shares_deflate: false,
            detached_at: Some(now),
            limits,
        }
    }

    #[must_use]
    pub fn seq(&self) -> u64 {
        self.seq
    }

    #[must_use]
    pub fn recorded(&self) -> u64 {
        if self.held {
            self.recorded
        } else {
            self.seq
        }
    }

    /// For a session taken over from another node: its journal has everything up to `seq`.
    pub fn set_recorded(&mut self, seq: u64) {
        self.recorded = self.recorded.max(seq.min(self.seq));
    }

    /// Numbering goes on from `seq` (a session taken over); only before any dispatch, and
    /// only from below `MAX_START_SEQ`, so numbering never runs out.
    pub fn start_at(&mut self, seq: u64) -> bool {
        if !self.kept.is_empty() || self.seq != 0 || seq > MAX_START_SEQ {
            return false;
        }
        self.seq = seq;
        self.first = seq + 1;
        true
    }

    #[must_use]
    pub fn outlet(&self) -> Option<&O> {
        self.outlet.as_ref()
    }

    /// Seconds since the session lost its connection, if it has, at `now`.
    #[must_use]
    pub fn detached_for(&self, now: f64) -> Option<f64> {
        self.detached_at.map(|at| (now - at).max(0.0))
    }

    /// The session continues on `outlet`, which has had every dispatch up to `sent`, at `now`.
    pub fn attach(&mut self, outlet: O, sent: u64, now: f64, scratch: &mut Scratch) -> Outcome {
        self.shares_deflate = outlet.with_outlet(|o| o.shares_deflate());
        self.outlet = Some(outlet);
        self.written = sent;
        self.detached_at = None;
        self.pump(now, scratch)
    }

    /// Detaches from the outlet, if any: the session counts as detached since `now`.
    pub fn detach(&mut self, now: f64) -> Option<O> {
        self.detached_at = Some(now);
        self.outlet.take()
    }

    /// Closes the connection with `code` and detaches from it at `now`.
    pub fn close(&mut self, code: u16, reason: &str, now: f64) -> Option<(O, Sent)> {
        let outlet = self.detach(now)?;
        let sent = outlet.with_outlet(|o| o.close(code, reason));
        Some((outlet, sent))
    }

    /// Numbers `dispatch`, keeps it, and sends what may be sent. Returns its `seq`.
    pub fn push(&mut self, dispatch: &Arc<Dispatch>, scratch: &mut Scratch) -> (u64, Outcome) {
        self.seq += 1;
        self.kept.push_back(Arc::clone(dispatch));
        self.trim(dispatch.at);
        (self.seq, self.pump(dispatch.at, scratch))
    }

    /// A held feed: the journal has every dispatch up to `mark`, at `now`.
    pub fn release(&mut self, mark: u64, now: f64, scratch: &mut Scratch) -> Outcome {
        while self.recorded < self.seq {
            match self.entry(self.recorded + 1) {
                Some(next) if next.mark <= mark => self.recorded += 1,
                _ => break,
            }
        }
        self.pump(now, scratch)
    }

    /// The client has every dispatch up to `seq` (its heartbeat says so): it never resumes
    /// from before it, so those need not be kept.
    pub fn acknowledge(&mut self, seq: u64) {
        let through = seq.min(self.written).min(self.recorded());
        while self.first <= through && self.kept.pop_front().is_some() {
            self.first += 1;
        }
    }

    /// The dispatches after `seq` that may be sent, as gateway messages; None when some of
    /// them are no longer kept (or `seq` was never sent).
    #[must_use]
    pub fn missed_since(&self, seq: u64) -> Option<Vec<Vec<u8>>> {
        let last = self.recorded();
        if seq > self.seq {
            return None;
        }
        if seq >= last {
            return Some(Vec::new());
        }
        if seq + 1 < self.first {
            return None;
        }
        (seq + 1..=last)
            .map(|number| {
                let dispatch = self.entry(number)?;
                let mut message = Vec::new();
                dispatch.write_message(number, &mut message);
                Some(message)
            })
            .collect()
    }

    fn entry(&self, seq: u64) -> Option<&Arc<Dispatch>> {
        let index = usize::try_from(seq.checked_sub(self.first)?).ok()?;
        self.kept.get(index)
    }

    fn trim(&mut self, now: f64) {
        let limits = self.limits;
        while self.kept.len() > limits.max_events
            || (self.kept.len() > limits.min_events
                && self
                    .kept
                    .front()
                    .is_some_and(|d| now - d.at > limits.keep_s))
        {
            self.kept.pop_front();
            self.first += 1;
        }
    }

    /// Sends, in order, what may be sent and the connection has not had; a slow consumer is
    /// closed at `now`.
    fn pump(&mut self, now: f64, scratch: &mut Scratch) -> Outcome {
        let last = self.recorded();
        if self.written >= last {
            return Outcome::Quiet;
        }
        let Some(outlet) = self.outlet.as_ref() else {
            return Outcome::Quiet;
        };
        if self.shares_deflate {
            // Deflate what this batch shares without the handle's lock: once per dispatch,
            // whichever recipient comes first.
            for seq in self.written + 1..=last {
                if let Some(dispatch) = self.entry(seq).filter(|d| !d.is_deflated()) {
                    outlet.unlocked(&mut || {
                        dispatch.deflated();
                    });
                }
            }
        }
        let mut outcome = Outcome::Quiet;
        let mut refused = false;
        outlet.with_outlet(|o| {
            for seq in self.written + 1..=last {
                let index = seq
                    .checked_sub(self.first)
                    .and_then(|i| usize::try_from(i).ok());
                // An entry pushed out before it was sent (a flood while the journal lagged):
                // this connection can no longer be served in order.
                let Some(dispatch) = index.and_then(|i| self.kept.get(i)) else {
                    refused = true;
                    return;
                };
                match o.send_dispatch(seq, dispatch, scratch) {
                    Sent::Refused => {
                        refused = true;
                        return;
                    }
                    Sent::Backlogged => outcome = Outcome::Backlogged,
                    Sent::Written | Sent::Queued => {}
                }
                self.written = seq;
            }
        });
        if refused {
            SLOW_CONSUMERS_CLOSED.fetch_add(1, Ordering::Relaxed);
            self.close(SLOW_CONSUMER.0, SLOW_CONSUMER.1, now);
            return Outcome::Closed;
        }
        while self.first <= self.written && self.kept.front().is_some_and(|d| !d.keep) {
            self.kept.pop_front();
            self.first += 1;
        }
        outcome
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::net::TcpListener;
    use std::rc::Rc;

    impl OutletHandle for Rc<RefCell<Outlet>> {
        fn with_outlet<R>(&self, use_outlet: impl FnOnce(&mut Outlet) -> R) -> R {
            use_outlet(&mut self.borrow_mut())
        }
    }

    fn pair(max_queued: usize) -> (Rc<RefCell<Outlet>>, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let outlet = Outlet::new(server, max_queued).unwrap();
        (Rc::new(RefCell::new(outlet)), client)
    }

    fn limits() -> ReplayLimits {
        ReplayLimits {
            keep_s: 60.0,
            min_events: 3,
            max_events: 5,
        }
    }

    fn read_frame(client: &mut TcpStream) -> (u8, Vec<u8>) {
        let mut head = [0; 2];
        client.read_exact(&mut head).unwrap();
        let size = match head[1] {
            126 => {
                let mut b = [0; 2];
                client.read_exact(&mut b).unwrap();
                usize::from(u16::from_be_bytes(b))
            }
            127 => {
                let mut b = [0; 8];
                client.read_exact(&mut b).unwrap();
                usize::try_from(u64::from_be_bytes(b)).unwrap()
            }
            n => usize::from(n),
        };
        let mut payload = vec![0; size];
        client.read_exact(&mut payload).unwrap();
        (head[0], payload)
    }

    #[test]
    fn each_feed_frames_the_shared_payload_with_its_own_seq() {
        let (outlet, mut client) = pair(1 << 20);
        let mut scratch = Scratch::default();
        let mut feed = Feed::new(1, false, limits(), 0.0);
        feed.attach(Rc::clone(&outlet), 0, 0.0, &mut scratch);
        let d = Arc::new(Dispatch::new(
            "MESSAGE_CREATE",
            b"{\"x\":1}",
            Some(7),
            0,
            true,
            0.0,
        ));
        feed.push(&d, &mut scratch);
        feed.push(&d, &mut scratch);
        assert_eq!(
            read_frame(&mut client),
            (
                0x81,
                b"{\"op\":0,\"s\":1,\"t\":\"MESSAGE_CREATE\",\"d\":{\"x\":1}}".to_vec()
            )
        );
        assert_eq!(read_frame(&mut client).1[..13], *b"{\"op\":0,\"s\":2");
    }

    #[test]
    fn frame_headers_use_the_shortest_length_form() {
        for (size, start, second) in [
            (125, 8, 125),
            (126, 6, 126),
            (65535, 6, 126),
            (65536, 0, 127),
        ] {
            let (header, at) = frame_header(TEXT, size);
            assert_eq!(
                (at, header[at], header[at + 1]),
                (start, 0x81, second),
                "{size}"
            );
        }
    }

    #[test]
    fn a_held_feed_sends_only_what_the_journal_released() {
        let (outlet, mut client) = pair(1 << 20);
        let mut scratch = Scratch::default();
        let mut feed = Feed::new(1, true, limits(), 0.0);
        feed.attach(Rc::clone(&outlet), 0, 0.0, &mut scratch);
        for mark in 1..=3 {
            let d = Arc::new(Dispatch::new("E", b"{}", None, mark, true, 0.0));
            feed.push(&d, &mut scratch);
        }
        assert_eq!(feed.missed_since(0), Some(vec![]));
        feed.release(2, 0.0, &mut scratch);
        assert_eq!(read_frame(&mut client).1[..13], *b"{\"op\":0,\"s\":1");
        assert_eq!(read_frame(&mut client).1[..13], *b"{\"op\":0,\"s\":2");
        assert_eq!(feed.missed_since(1).map(|m| m.len()), Some(1));
    }

    #[test]
    fn replay_is_bounded_and_refused_whole_past_it() {
        let mut scratch = Scratch::default();
        let mut feed: Feed<Rc<RefCell<Outlet>>> = Feed::new(1, false, limits(), 0.0);
        for _ in 0..8 {
            let d = Arc::new(Dispatch::new("E", b"{}", None, 0, true, 0.0));
            feed.push(&d, &mut scratch);
        }
        assert_eq!(feed.missed_since(3).map(|m| m.len()), Some(5));
        assert_eq!(feed.missed_since(2), None);
        assert_eq!(feed.missed_since(9), None);
    }

    #[test]
    fn dispatches_not_kept_go_once_sent() {
        let (outlet, _client) = pair(1 << 20);
        let mut scratch = Scratch::default();
        let mut feed = Feed::new(1, false, limits(), 0.0);
        for keep in [false, false, true] {
            let d = Arc::new(Dispatch::new("E", b"{}", None, 0, keep, 0.0));
            feed.push(&d, &mut scratch);
        }
        assert_eq!(feed.missed_since(0).map(|m| m.len()), Some(3)); // not sent yet
        feed.attach(Rc::clone(&outlet), 0, 0.0, &mut scratch);
        assert_eq!(feed.missed_since(2).map(|m| m.len()), Some(1));
        assert_eq!(feed.missed_since(1), None);
    }

    #[test]
    fn acknowledged_dispatches_are_let_go() {
        let (outlet, _client) = pair(1 << 20);
        let mut scratch = Scratch::default();
        let mut feed = Feed::new(1, false, limits(), 0.0);
        feed.attach(Rc::clone(&outlet), 0, 0.0, &mut scratch);
        for _ in 0..4 {
            let d = Arc::new(Dispatch::new("E", b"{}", None, 0, true, 0.0));
            feed.push(&d, &mut scratch);
        }
        feed.acknowledge(3);
        assert_eq!(feed.missed_since(3).map(|m| m.len()), Some(1));
        assert_eq!(feed.missed_since(2), None);
    }

    #[test]
    fn a_slow_consumer_is_closed_and_its_feed_detached() {
        let (outlet, _client) = pair(4096);
        let mut scratch = Scratch::default();
        let mut feed = Feed::new(
            1,
            false,
            ReplayLimits {
                max_events: 100_000,
                ..limits()
            },
            0.0,
        );
        feed.attach(Rc::clone(&outlet), 0, 0.0, &mut scratch);
        let d = Arc::new(Dispatch::new("E", &[b' '; 1000], None, 0, true, 0.0));
        let mut outcomes = Vec::new();
        while feed.outlet().is_some() {
            outcomes.push(feed.push(&d, &mut scratch).1);
        }
        assert_eq!(outcomes.last(), Some(&Outcome::Closed));
        assert!(outcomes.contains(&Outcome::Backlogged));
        assert!(!outlet.borrow().is_open());
        assert!(outlet.borrow().queued() <= 4096 + 1100);
    }

    #[test]
    fn zlib_and_zstd_messages_each_decode_on_arrival() {
        for compression in [Compression::Zlib, Compression::Zstd] {
            let mut codec = Codec::new(Some(compression)).unwrap();
            let mut inflate = flate2::Decompress::new(true);
            let mut zstd = zstd_safe::DCtx::create();
            for message in [&b"{\"op\":10}"[..], &[b'a'; 5000][..], b"{\"op\":11}"] {
                let mut out = Vec::new();
                assert_eq!(codec.encode(message, &mut out).unwrap(), BINARY);
                let mut plain = Vec::with_capacity(10_000);
                if compression == Compression::Zlib {
                    assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
                    inflate
                        .decompress_vec(&out, &mut plain, flate2::FlushDecompress::Sync)
                        .unwrap();
                } else {
                    let mut output = OutBuffer::around(&mut plain);
                    zstd.decompress_stream(&mut output, &mut InBuffer::around(&out))
                        .unwrap();
                }
                assert_eq!(plain, message);
            }
        }
    }

    #[test]
    fn zlib_stream_dispatches_share_one_deflate_and_decode_on_every_connection() {
        // Three connections, each its own stream; they get the same dispatches deflated once,
        // in different orders (one attaches late and is replayed them), with standalone
        // messages between. Each connection's one decoder takes every message whole.
        let mut scratch = Scratch::default();
        let mut connections = Vec::new();
        let mut feeds = Vec::new();
        for _ in 0..3 {
            let (outlet, client) = pair(1 << 20);
            outlet.borrow_mut().compress(Compression::Zlib).unwrap();
            connections.push((Rc::clone(&outlet), client, flate2::Decompress::new(true)));
            feeds.push(Feed::new(1, false, limits(), 0.0));
        }
        let hello = b"{\"op\":10}";
        for (outlet, _, _) in &connections[..2] {
            assert_ne!(
                outlet.borrow_mut().send_message(hello, &mut Vec::new()),
                Sent::Refused
            );
        }
        feeds[0].attach(Rc::clone(&connections[0].0), 0, 0.0, &mut scratch);
        feeds[1].attach(Rc::clone(&connections[1].0), 0, 0.0, &mut scratch);
        let payloads: Vec<Vec<u8>> = (0..4_u8)
            .map(|i| {
                let mut p = b"{\"content\":\"".to_vec();
                p.extend(std::iter::repeat_n(b'a' + i, 200 << i));
                p.extend_from_slice(b"\"}");
                p
            })
            .collect();
        for (i, payload) in payloads.iter().enumerate() {
            let d = Arc::new(Dispatch::new("MESSAGE_CREATE", payload, None, 0, true, 0.0));
            // Feed 1 gets the odd ones only, so its seqs and the dispatches differ from 0's.
            let audience = if i % 2 == 0 { 0..3 } else { 1..3 };
            for feed in &mut feeds[audience] {
                feed.push(&d, &mut scratch);
            }
            assert!(d.is_deflated());
        }
        connections[0]
            .0
            .borrow_mut()
            .send_message(b"{\"op\":11}", &mut Vec::new());
        feeds[2].attach(Rc::clone(&connections[2].0), 0, 0.0, &mut scratch); // the replay
        for (index, (_, client, decoder)) in connections.iter_mut().enumerate() {
            let mut expected: Vec<Vec<u8>> = Vec::new();
            if index < 2 {
                expected.push(hello.to_vec());
            }
            let sent: Vec<usize> = match index {
                0 => vec![0, 2],
                _ => vec![0, 1, 2, 3],
            };
            for (seq, &i) in sent.iter().enumerate() {
                let mut m = format!(
                    "{{\"op\":0,\"s\":{},\"t\":\"MESSAGE_CREATE\",\"d\":",
                    seq + 1
                )
                .into_bytes();
                m.extend_from_slice(&payloads[i]);
                m.push(b'}');
                expected.push(m);
            }
            if index == 0 {
                expected.push(b"{\"op\":11}".to_vec());
            }
            for (n, message) in expected.iter().enumerate() {
                let (head, wire) = read_frame(client);
                assert_eq!(head, 0x82);
                assert_eq!(wire.starts_with(&deflate::ZLIB_HEADER), n == 0);
                assert!(wire.ends_with(&[0, 0, 0xff, 0xff]));
                let mut plain = Vec::with_capacity(message.len() + 64);
                decoder
                    .decompress_vec(&wire, &mut plain, flate2::FlushDecompress::Sync)
                    .unwrap();
                assert_eq!(&plain, message, "connection {index}, message {n}");
            }
        }
    }

    #[test]
    fn numbering_never_starts_where_it_could_run_out() {
        let mut feed: Feed<Rc<RefCell<Outlet>>> = Feed::new(1, false, limits(), 0.0);
        assert!(!feed.start_at(u64::MAX));
        assert!(feed.start_at(MAX_START_SEQ));
        let d = Arc::new(Dispatch::new("E", b"{}", None, 0, true, 0.0));
        assert_eq!(feed.push(&d, &mut scratch()).0, MAX_START_SEQ + 1);
    }

    #[test]
    fn replay_keeps_by_the_callers_clock() {
        let mut feed: Feed<Rc<RefCell<Outlet>>> = Feed::new(1, false, limits(), 10.0);
        assert_eq!(feed.detached_for(25.0), Some(15.0));
        for at in [0.0, 1.0, 2.0, 3.0] {
            let d = Arc::new(Dispatch::new("E", b"{}", None, 0, true, at));
            feed.push(&d, &mut scratch());
        }
        // Past keep_s, only min_events (3) stay.
        let d = Arc::new(Dispatch::new("E", b"{}", None, 0, true, 62.0));
        feed.push(&d, &mut scratch());
        assert_eq!(feed.missed_since(2).map(|m| m.len()), Some(3));
        assert_eq!(feed.missed_since(1), None);
    }

    fn scratch() -> Scratch {
        Scratch::default()
    }
}
