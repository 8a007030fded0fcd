//! The gateway's delivery path: one call per event numbers it for every recipient session,
//! builds each session's frame (its own `s`; its own zlib-stream or zstd-stream context) and
//! writes it to the socket without blocking. Only what the kernel will not take now is queued
//! for that connection's writer; a queue over its bound closes the connection as a slow
//! consumer (4000), and its client RESUMEs from the session's replay.
//!
//! Two parts: an `Outlet` is one connection's sending side (socket, compression, queue); a
//! `Feed` is one session's numbered dispatches, kept for RESUME, and the outlet it is on.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flate2::{Compress, Compression as Level, FlushCompress};
use zstd_safe::zstd_sys::ZSTD_EndDirective;
use zstd_safe::{CCtx, CParameter, InBuffer, OutBuffer};

/// The close a consumer too slow for its queue gets: resumable.
pub const SLOW_CONSUMER: (u16, &str) = (4000, "slow consumer: resume");

const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;
const MAX_HEADER: usize = 10;

/// Discord's per-connection transport compression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// zlib-stream: one deflate stream, each message ending in a sync flush (`00 00 ff ff`).
    Zlib,
    /// zstd-stream: one zstd frame, each message ending in a flush, so it decodes on arrival.
    Zstd,
}

// Level 1 and a 4 KB window: ~8-13 µs and ~18-37 KB a connection against 59 µs and 207 KB at
// zlib's defaults (ARCHITECTURE.md). Clients inflate any level and window.
const ZLIB_LEVEL: u32 = 1;
const ZLIB_WINDOW_BITS: u8 = 12;
// zstd's streaming default window for level 1 is 512 KB: far too much per connection.
const ZSTD_LEVEL: i32 = 1;
const ZSTD_WINDOW_LOG: u32 = 12;

enum Codec {
    Plain,
    Zlib(Box<Compress>),
    Zstd(CCtx<'static>),
}

impl Codec {
    fn new(compression: Option<Compression>) -> io::Result<Self> {
        Ok(match compression {
            None => Self::Plain,
            Some(Compression::Zlib) => Self::Zlib(Box::new(Compress::new_with_window_bits(
                Level::new(ZLIB_LEVEL),
                true,
                ZLIB_WINDOW_BITS,
            ))),
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
            Self::Zlib(deflate) => {
                let mut rest = message;
                loop {
                    out.reserve(rest.len() + 64);
                    let before = deflate.total_in();
                    deflate
                        .compress_vec(rest, out, FlushCompress::Sync)
                        .map_err(io::Error::other)?;
                    let taken =
                        usize::try_from(deflate.total_in() - before).map_err(io::Error::other)?;
                    rest = rest.get(taken..).unwrap_or_default();
                    // A sync flush is whole once deflate stops short of filling the output.
                    if rest.is_empty() && out.len() < out.capacity() {
                        return Ok(BINARY);
                    }
                }
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
        dispatch.write_message(seq, &mut scratch.message);
        self.send_message(&scratch.message, &mut scratch.frame)
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
    at: Instant,
}

impl Dispatch {
    #[must_use]
    pub fn new(name: &str, payload: &[u8], event_id: Option<u64>, mark: u64, keep: bool) -> Self {
        Self {
            name: name.into(),
            payload: payload.into(),
            event_id,
            mark,
            keep,
            at: Instant::now(),
        }
    }

    /// `{"op":0,"s":<seq>,"t":<name>,"d":<payload>}`, appended to `out`.
    pub fn write_message(&self, seq: u64, out: &mut Vec<u8>) {
        let mut digits = itoa::Buffer::new();
        out.extend_from_slice(b"{\"op\":0,\"s\":");
        out.extend_from_slice(digits.format(seq).as_bytes());
        out.extend_from_slice(b",\"t\":\"");
        out.extend_from_slice(self.name.as_bytes());
        out.extend_from_slice(b"\",\"d\":");
        out.extend_from_slice(&self.payload);
        out.push(b'}');
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
    pub keep: Duration,
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
    detached_at: Option<Instant>,
    limits: ReplayLimits,
}

impl<O: OutletHandle> Feed<O> {
    #[must_use]
    pub fn new(number: u64, held: bool, limits: ReplayLimits) -> Self {
        Self {
            number,
            held,
            seq: 0,
            first: 1,
            kept: VecDeque::new(),
            recorded: 0,
            written: 0,
            outlet: None,
            detached_at: Some(Instant::now()),
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

    /// Numbering goes on from `seq` (a session taken over); only before any dispatch.
    pub fn start_at(&mut self, seq: u64) -> bool {
        if !self.kept.is_empty() || self.seq != 0 {
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

    /// Seconds since the session lost its connection, if it has.
    #[must_use]
    pub fn detached_for(&self) -> Option<Duration> {
        self.detached_at.map(|at| at.elapsed())
    }

    /// The session continues on `outlet`, which has had every dispatch up to `sent`.
    pub fn attach(&mut self, outlet: O, sent: u64, scratch: &mut Scratch) -> Outcome {
        self.outlet = Some(outlet);
        self.written = sent;
        self.detached_at = None;
        self.pump(scratch)
    }

    pub fn detach(&mut self) -> Option<O> {
        self.detached_at = Some(Instant::now());
        self.outlet.take()
    }

    /// Closes the connection with `code` and detaches from it.
    pub fn close(&mut self, code: u16, reason: &str) -> Option<(O, Sent)> {
        let outlet = self.detach()?;
        let sent = outlet.with_outlet(|o| o.close(code, reason));
        Some((outlet, sent))
    }

    /// Numbers `dispatch`, keeps it, and sends what may be sent. Returns its `seq`.
    pub fn push(
        &mut self,
        dispatch: &Arc<Dispatch>,
        now: Instant,
        scratch: &mut Scratch,
    ) -> (u64, Outcome) {
        self.seq += 1;
        self.kept.push_back(Arc::clone(dispatch));
        self.trim(now);
        (self.seq, self.pump(scratch))
    }

    /// A held feed: the journal has every dispatch up to `mark`.
    pub fn release(&mut self, mark: u64, scratch: &mut Scratch) -> Outcome {
        while self.recorded < self.seq {
            match self.entry(self.recorded + 1) {
                Some(next) if next.mark <= mark => self.recorded += 1,
                _ => break,
            }
        }
        self.pump(scratch)
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

    fn trim(&mut self, now: Instant) {
        let limits = self.limits;
        while self.kept.len() > limits.max_events
            || (self.kept.len() > limits.min_events
                && self
                    .kept
                    .front()
                    .is_some_and(|d| now.duration_since(d.at) > limits.keep))
        {
            self.kept.pop_front();
            self.first += 1;
        }
    }

    /// Sends, in order, what may be sent and the connection has not had.
    fn pump(&mut self, scratch: &mut Scratch) -> Outcome {
        let last = self.recorded();
        if self.written >= last {
            return Outcome::Quiet;
        }
        let Some(outlet) = self.outlet.as_ref() else {
            return Outcome::Quiet;
        };
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
            self.close(SLOW_CONSUMER.0, SLOW_CONSUMER.1);
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
            keep: Duration::from_secs(60),
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
        let mut feed = Feed::new(1, false, limits());
        feed.attach(Rc::clone(&outlet), 0, &mut scratch);
        let d = Arc::new(Dispatch::new(
            "MESSAGE_CREATE",
            b"{\"x\":1}",
            Some(7),
            0,
            true,
        ));
        feed.push(&d, Instant::now(), &mut scratch);
        feed.push(&d, Instant::now(), &mut scratch);
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
        let mut feed = Feed::new(1, true, limits());
        feed.attach(Rc::clone(&outlet), 0, &mut scratch);
        for mark in 1..=3 {
            let d = Arc::new(Dispatch::new("E", b"{}", None, mark, true));
            feed.push(&d, Instant::now(), &mut scratch);
        }
        assert_eq!(feed.missed_since(0), Some(vec![]));
        feed.release(2, &mut scratch);
        assert_eq!(read_frame(&mut client).1[..13], *b"{\"op\":0,\"s\":1");
        assert_eq!(read_frame(&mut client).1[..13], *b"{\"op\":0,\"s\":2");
        assert_eq!(feed.missed_since(1).map(|m| m.len()), Some(1));
    }

    #[test]
    fn replay_is_bounded_and_refused_whole_past_it() {
        let mut scratch = Scratch::default();
        let mut feed: Feed<Rc<RefCell<Outlet>>> = Feed::new(1, false, limits());
        for _ in 0..8 {
            let d = Arc::new(Dispatch::new("E", b"{}", None, 0, true));
            feed.push(&d, Instant::now(), &mut scratch);
        }
        assert_eq!(feed.missed_since(3).map(|m| m.len()), Some(5));
        assert_eq!(feed.missed_since(2), None);
        assert_eq!(feed.missed_since(9), None);
    }

    #[test]
    fn dispatches_not_kept_go_once_sent() {
        let (outlet, _client) = pair(1 << 20);
        let mut scratch = Scratch::default();
        let mut feed = Feed::new(1, false, limits());
        for keep in [false, false, true] {
            let d = Arc::new(Dispatch::new("E", b"{}", None, 0, keep));
            feed.push(&d, Instant::now(), &mut scratch);
        }
        assert_eq!(feed.missed_since(0).map(|m| m.len()), Some(3)); // not sent yet
        feed.attach(Rc::clone(&outlet), 0, &mut scratch);
        assert_eq!(feed.missed_since(2).map(|m| m.len()), Some(1));
        assert_eq!(feed.missed_since(1), None);
    }

    #[test]
    fn acknowledged_dispatches_are_let_go() {
        let (outlet, _client) = pair(1 << 20);
        let mut scratch = Scratch::default();
        let mut feed = Feed::new(1, false, limits());
        feed.attach(Rc::clone(&outlet), 0, &mut scratch);
        for _ in 0..4 {
            let d = Arc::new(Dispatch::new("E", b"{}", None, 0, true));
            feed.push(&d, Instant::now(), &mut scratch);
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
        );
        feed.attach(Rc::clone(&outlet), 0, &mut scratch);
        let d = Arc::new(Dispatch::new("E", &[b' '; 1000], None, 0, true));
        let mut outcomes = Vec::new();
        while feed.outlet().is_some() {
            outcomes.push(feed.push(&d, Instant::now(), &mut scratch).1);
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
}
