//! The Python binding: convert, call, map errors. Nothing else lives here.

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use std::net::TcpStream;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use pyo3::exceptions::PyOSError;
use pyo3::types::PyBytes;

use crate::fanout::{self, Dispatch, Outcome, OutletHandle, ReplayLimits, Scratch, Sent};
use crate::frames::{self, FrameError};
use crate::permissions::{self, Overwrite, PermissionsError, Target};
use crate::snowflake::{self, SnowflakeError};

create_exception!(
    _native,
    SnowflakeValueError,
    PyValueError,
    "A snowflake argument out of range, or a clock the snowflake format cannot express."
);

fn snowflake_error(error: &SnowflakeError) -> PyErr {
    SnowflakeValueError::new_err(error.to_string())
}

create_exception!(
    _native,
    PermissionsValueError,
    PyValueError,
    "Roles or overwrites that do not describe a guild: no @everyone, a role twice, a bad type."
);

fn permissions_error(error: &PermissionsError) -> PyErr {
    PermissionsValueError::new_err(error.to_string())
}

create_exception!(
    _native,
    FrameValueError,
    PyValueError,
    "Client frames that break RFC 6455: `.code` is the close code to answer with (1002, or \
     1009 for a message over the limit), `.reason` the close reason."
);

fn frame_error(py: Python<'_>, error: &FrameError) -> PyErr {
    let reason = error.to_string();
    let err = FrameValueError::new_err(reason.clone());
    let value = err.value(py);
    // Plain attributes on the instance; setting them on a fresh exception cannot fail short
    // of memory, and then that error is the one to raise.
    if let Err(failed) = value
        .setattr("code", error.code())
        .and_then(|()| value.setattr("reason", reason))
    {
        return failed;
    }
    err
}

/// Discord overwrites as `(id, type, allow, deny)`, type 0 for a role and 1 for a member.
type OverwriteTuple = (u64, u8, u64, u64);

fn overwrites(raw: &[OverwriteTuple]) -> PyResult<Vec<Overwrite>> {
    raw.iter()
        .map(|&(id, kind, allow, deny)| {
            let target = Target::from_discord(id, kind).map_err(|e| permissions_error(&e))?;
            Ok(Overwrite {
                id,
                target,
                allow,
                deny,
            })
        })
        .collect()
}

/// A guild's roles, built once and rebuilt when roles change.
#[pyclass(frozen, module = "trioxide_native._native")]
struct GuildPermissions(Arc<permissions::Guild>);

/// A channel's overwrites laid out for one `GuildPermissions`; rebuilt when they change.
#[pyclass(frozen, module = "trioxide_native._native")]
struct ChannelPermissions {
    guild: Arc<permissions::Guild>,
    channel: permissions::Channel,
}

impl GuildPermissions {
    /// The channel's layout, if it was built for this very snapshot: one built for an older
    /// snapshot of the guild would index its roles wrongly.
    fn layout<'c>(&self, channel: &'c ChannelPermissions) -> PyResult<&'c permissions::Channel> {
        if Arc::ptr_eq(&self.0, &channel.guild) {
            Ok(&channel.channel)
        } else {
            Err(PermissionsValueError::new_err(
                "the channel was built for another GuildPermissions; build it again from this one",
            ))
        }
    }
}

#[pymethods]
impl GuildPermissions {
    #[new]
    fn new(guild_id: u64, owner_id: u64, roles: Vec<(u64, u64)>) -> PyResult<Self> {
        permissions::Guild::new(guild_id, owner_id, &roles)
            .map(|guild| Self(Arc::new(guild)))
            .map_err(|e| permissions_error(&e))
    }

    /// A channel with these overwrites; `text` applies the text-channel rules.
    #[pyo3(signature = (overwrites, *, text = false))]
    fn channel(&self, overwrites: Vec<OverwriteTuple>, text: bool) -> PyResult<ChannelPermissions> {
        let overwrites = self::overwrites(&overwrites)?;
        Ok(ChannelPermissions {
            guild: Arc::clone(&self.0),
            channel: self.0.channel(&overwrites, text),
        })
    }

    /// One member's permissions: guild-wide, or in `channel`.
    #[pyo3(signature = (user_id, role_ids, *, timed_out = false, channel = None))]
    fn resolve(
        &self,
        user_id: u64,
        role_ids: Vec<u64>,
        timed_out: bool,
        channel: Option<&ChannelPermissions>,
    ) -> PyResult<u64> {
        let member = self.0.member(user_id, &role_ids, timed_out);
        Ok(match channel {
            None => self.0.base(&member),
            Some(channel) => self.0.in_channel(&member, self.layout(channel)?),
        })
    }

    /// A snapshot of members for bulk checks, as `(user_id, role_ids, timed_out)` triples.
    fn members(&self, py: Python<'_>, members: Vec<(u64, Vec<u64>, bool)>) -> GuildMembers {
        let guild = Arc::clone(&self.0);
        let resolved = py.detach(|| {
            members
                .iter()
                .map(|(user_id, role_ids, timed_out)| guild.member(*user_id, role_ids, *timed_out))
                .collect()
        });
        GuildMembers {
            guild: GuildPermissions(Arc::clone(&self.0)),
            members: resolved,
        }
    }
}

/// Members of one guild, resolved against its roles; rebuilt when members or roles change.
#[pyclass(frozen, module = "trioxide_native._native")]
struct GuildMembers {
    guild: GuildPermissions,
    members: Vec<permissions::Member>,
}

#[pymethods]
impl GuildMembers {
    fn __len__(&self) -> usize {
        self.members.len()
    }

    /// One byte per member, in snapshot order: 1 when they have every bit of `permission` in
    /// `channel`, else 0. Computed with the GIL released.
    fn who_has<'py>(
        &self,
        py: Python<'py>,
        permission: u64,
        channel: &ChannelPermissions,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let layout = self.guild.layout(channel)?;
        let mask = py.detach(|| self.guild.0.who_has(&self.members, layout, permission));
        Ok(PyBytes::new(py, &mask))
    }
}

/// Issues strictly increasing Discord snowflakes for one worker/process pair. Thread-safe.
#[pyclass(frozen, module = "trioxide_native._native")]
struct SnowflakeGenerator(snowflake::Generator);

#[pymethods]
impl SnowflakeGenerator {
    #[new]
    #[pyo3(signature = (worker_id, process_id, *, after = 0))]
    fn new(worker_id: u64, process_id: u64, after: u64) -> PyResult<Self> {
        snowflake::Generator::new(worker_id, process_id, after)
            .map(Self)
            .map_err(|e| snowflake_error(&e))
    }

    #[getter]
    fn worker_id(&self) -> u64 {
        self.0.worker_id()
    }

    #[getter]
    fn process_id(&self) -> u64 {
        self.0.process_id()
    }

    /// The next id. Holds the GIL on the fast path; releases it only to wait for the clock.
    fn next_id(&self, py: Python<'_>) -> PyResult<u64> {
        match self.0.try_next() {
            Ok(Some(id)) => Ok(id),
            Ok(None) => py.detach(|| self.0.next()).map_err(|e| snowflake_error(&e)),
            Err(e) => Err(snowflake_error(&e)),
        }
    }

    /// `count` strictly increasing ids, generated with the GIL released.
    fn next_ids(&self, py: Python<'_>, count: usize) -> PyResult<Vec<u64>> {
        py.detach(|| self.0.next_batch(count))
            .map_err(|e| snowflake_error(&e))
    }

    fn __repr__(&self) -> String {
        format!(
            "SnowflakeGenerator(worker_id={}, process_id={})",
            self.0.worker_id(),
            self.0.process_id()
        )
    }
}

/// `(unix_ms, worker_id, process_id, increment)` of a snowflake.
#[pyfunction]
fn decode_snowflake(snowflake: u64) -> (u64, u64, u64, u64) {
    let parts = snowflake::decode(snowflake);
    (
        parts.unix_ms,
        parts.worker_id,
        parts.process_id,
        parts.increment,
    )
}

/// One connection's sending side (gateway/connection.py subclasses it). Owns the socket.
#[pyclass(subclass, module = "trioxide_native._native")]
struct Outlet {
    fd: RawFd,
    inner: fanout::Outlet,
}

const RECEIVE_BYTES: usize = 65536;

fn sent_code(sent: Sent) -> u8 {
    match sent {
        Sent::Written => 0,
        Sent::Backlogged => 1,
        Sent::Queued => 2,
        Sent::Refused => 3,
    }
}

#[pymethods]
impl Outlet {
    /// Takes ownership of the connected TCP socket `fd` (from `socket.detach()`).
    #[new]
    fn new(fd: RawFd, max_queued: usize) -> PyResult<Self> {
        if fd < 0 {
            return Err(PyValueError::new_err("not a file descriptor"));
        }
        // SAFETY: the caller detached `fd` from its Python socket and hands it over: nothing
        // else owns or closes it from here on.
        #[allow(unsafe_code)]
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        let inner = fanout::Outlet::new(TcpStream::from(owned), max_queued)
            .map_err(|e| PyOSError::new_err(e.to_string()))?;
        Ok(Self { fd, inner })
    }

    /// The socket's descriptor, to wait on; not valid after `shutdown`.
    #[getter]
    fn fileno(&self) -> RawFd {
        self.fd
    }

    /// Bytes waiting for the writer.
    #[getter]
    fn queued(&self) -> usize {
        self.inner.queued()
    }

    /// False once a close frame went in or the socket failed.
    #[getter]
    fn open(&self) -> bool {
        self.inner.is_open()
    }

    /// Compresses every later message: "zlib-stream" or "zstd-stream".
    fn compress(&mut self, kind: &str) -> PyResult<()> {
        let compression = match kind {
            "zlib-stream" => fanout::Compression::Zlib,
            "zstd-stream" => fanout::Compression::Zstd,
            _ => {
                return Err(PyValueError::new_err(format!(
                    "unknown compression {kind:?}"
                )))
            }
        };
        self.inner
            .compress(compression)
            .map_err(|e| PyOSError::new_err(e.to_string()))
    }

    /// The peer's next bytes: None when none have arrived, b"" at its end.
    fn read<'py>(&mut self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        let mut buffer = vec![0; RECEIVE_BYTES];
        let size = self.inner.receive(&mut buffer)?;
        Some(PyBytes::new(py, buffer.get(..size).unwrap_or_default()))
    }

    /// A gateway message; returns a SENT_* code.
    fn send_message(&mut self, message: &[u8]) -> u8 {
        sent_code(self.inner.send_message(message, &mut Vec::new()))
    }

    /// A frame with this opcode, uncompressed; returns a SENT_* code.
    fn send_frame(&mut self, opcode: u8, payload: &[u8]) -> u8 {
        sent_code(self.inner.send_frame(opcode, payload))
    }

    /// Bytes as they are (HTTP before the upgrade); returns a SENT_* code.
    fn send_raw(&mut self, data: &[u8]) -> u8 {
        sent_code(self.inner.send_raw(data))
    }

    /// A close frame after what is queued, then nothing more; returns a SENT_* code.
    fn close(&mut self, code: u16, reason: &str) -> u8 {
        sent_code(self.inner.close(code, reason))
    }

    /// Writes what is queued as far as the kernel takes it; True once nothing is left.
    fn flush(&mut self) -> bool {
        self.inner.flush()
    }

    fn shutdown(&mut self) {
        self.inner.shutdown();
    }
}

impl OutletHandle for Py<Outlet> {
    fn with_outlet<R>(&self, use_outlet: impl FnOnce(&mut fanout::Outlet) -> R) -> R {
        Python::attach(|py| use_outlet(&mut self.bind(py).borrow_mut().inner))
    }

    fn unlocked(&self, work: &mut (dyn FnMut() + Send)) {
        Python::attach(|py| py.detach(work));
    }
}

/// `now`, checked: a time on the caller's clock, in seconds.
fn clock(now: f64) -> PyResult<f64> {
    if now.is_finite() {
        Ok(now)
    } else {
        Err(PyValueError::new_err(format!(
            "now must be a finite number of seconds, not {now}"
        )))
    }
}

/// One session's numbered dispatches, kept for RESUME, and the outlet it is attached to.
#[pyclass(module = "trioxide_native._native")]
struct Feed(fanout::Feed<Py<Outlet>>);

fn to_drain(outcome: Outcome, feed: &Feed, py: Python<'_>, into: &mut Vec<Py<Outlet>>) {
    if outcome == Outcome::Backlogged {
        if let Some(outlet) = feed.0.outlet() {
            into.push(outlet.clone_ref(py));
        }
    }
}

#[pymethods]
impl Feed {
    /// `held`: several nodes; a dispatch is sent only once `release` says the journal has it.
    /// Detached (not yet on a connection) since `now`.
    #[new]
    fn new(
        number: u64,
        held: bool,
        keep_s: f64,
        min_events: usize,
        max_events: usize,
        now: f64,
    ) -> PyResult<Self> {
        if keep_s.is_nan() || keep_s < 0.0 {
            return Err(PyValueError::new_err(format!(
                "keep_s must be 0 or more seconds, not {keep_s}"
            )));
        }
        let limits = ReplayLimits {
            keep_s,
            min_events,
            max_events,
        };
        Ok(Self(fanout::Feed::new(number, held, limits, clock(now)?)))
    }

    #[getter]
    fn number(&self) -> u64 {
        self.0.number
    }

    /// The last dispatch numbered.
    #[getter]
    fn seq(&self) -> u64 {
        self.0.seq()
    }

    /// Dispatches up to here may be sent (or replayed).
    #[getter]
    fn recorded_seq(&self) -> u64 {
        self.0.recorded()
    }

    /// A session taken over: another node's journal already has everything up to `seq`.
    fn set_recorded(&mut self, seq: u64) {
        self.0.set_recorded(seq);
    }

    /// Numbering carries on from `seq`; False once anything was dispatched, or for a `seq`
    /// over `MAX_START_SEQ` (numbering must never run out).
    fn start_at(&mut self, seq: u64) -> bool {
        self.0.start_at(seq)
    }

    /// The outlet the session is attached to, if any.
    #[getter]
    fn outlet(&self, py: Python<'_>) -> Option<Py<Outlet>> {
        self.0.outlet().map(|o| o.clone_ref(py))
    }

    fn is_on(&self, outlet: &Bound<'_, Outlet>) -> bool {
        self.0.outlet().is_some_and(|o| o.is(outlet))
    }

    /// Seconds from losing its connection to `now`; None while it has one.
    fn detached_for(&self, now: f64) -> PyResult<Option<f64>> {
        Ok(self.0.detached_for(clock(now)?))
    }

    /// Continues on `outlet`, which has had every dispatch up to `sent`, and sends it what it
    /// may. Returns the outlet if its writer must be started.
    fn attach(
        &mut self,
        py: Python<'_>,
        outlet: Py<Outlet>,
        sent: u64,
        now: f64,
    ) -> PyResult<Option<Py<Outlet>>> {
        let outcome = self
            .0
            .attach(outlet, sent, clock(now)?, &mut Scratch::default());
        let mut drain = Vec::new();
        to_drain(outcome, self, py, &mut drain);
        Ok(drain.pop())
    }

    /// Leaves the connection, if any: detached since `now`.
    fn detach(&mut self, now: f64) -> PyResult<()> {
        self.0.detach(clock(now)?);
        Ok(())
    }

    /// Closes the connection with `code` and detaches (since `now`); returns the outlet if its
    /// writer must be started to send the close.
    fn close(&mut self, code: u16, reason: &str, now: f64) -> PyResult<Option<Py<Outlet>>> {
        Ok(match self.0.close(code, reason, clock(now)?) {
            Some((outlet, Sent::Backlogged)) => Some(outlet),
            _ => None,
        })
    }

    /// The client's heartbeat says it has everything up to `seq`.
    fn acknowledge(&mut self, seq: u64) {
        self.0.acknowledge(seq);
    }

    /// The gateway messages after `seq`, or None when they are not all kept.
    fn missed_since<'py>(&self, py: Python<'py>, seq: u64) -> Option<Vec<Bound<'py, PyBytes>>> {
        let missed = self.0.missed_since(seq)?;
        Some(missed.iter().map(|m| PyBytes::new(py, m)).collect())
    }
}

/// One dispatch to every feed in `feeds`, each numbered, framed and written in turn (`keep`:
/// kept for a RESUME once sent, unlike READY and the first `GUILD_CREATE`s). Returns
/// `(journal, drain)`: for held feeds, `[number, seq, …]` to journal; the outlets whose
/// writers must be started. Slow consumers are closed (4000) and detached on the way. `now`
/// (seconds, the caller's clock) dates the dispatch for replay trimming.
#[pyfunction]
#[pyo3(signature = (feeds, name, payload, event_id, mark, now, *, keep = true))]
#[allow(clippy::too_many_arguments)] // the Python signature: one coarse call per event
fn deliver(
    py: Python<'_>,
    feeds: Vec<Bound<'_, Feed>>,
    name: &str,
    payload: &[u8],
    event_id: Option<u64>,
    mark: u64,
    now: f64,
    keep: bool,
) -> PyResult<(Vec<u64>, Vec<Py<Outlet>>)> {
    let dispatch = Arc::new(Dispatch::new(
        name,
        payload,
        event_id,
        mark,
        keep,
        clock(now)?,
    ));
    let mut scratch = Scratch::default();
    let mut journal = Vec::new();
    let mut drain = Vec::new();
    for feed in &feeds {
        let mut feed = feed.borrow_mut();
        let (seq, outcome) = feed.0.push(&dispatch, &mut scratch);
        if feed.0.recorded() < seq {
            journal.extend([feed.0.number, seq]);
        }
        to_drain(outcome, &feed, py, &mut drain);
    }
    Ok((journal, drain))
}

/// Slow consumers the delivery calls have closed (4000) since the process started.
#[pyfunction]
fn slow_consumers_closed() -> u64 {
    fanout::slow_consumers_closed()
}

/// The journal has every dispatch staged up to `mark`: held feeds send them (a slow consumer
/// is closed at `now`). Returns the outlets whose writers must be started.
#[pyfunction]
fn release(
    py: Python<'_>,
    feeds: Vec<Bound<'_, Feed>>,
    mark: u64,
    now: f64,
) -> PyResult<Vec<Py<Outlet>>> {
    let now = clock(now)?;
    let mut scratch = Scratch::default();
    let mut drain = Vec::new();
    for feed in &feeds {
        let mut feed = feed.borrow_mut();
        let outcome = feed.0.release(mark, now, &mut scratch);
        to_drain(outcome, &feed, py, &mut drain);
    }
    Ok(drain)
}

/// One connection's client frames (RFC 6455): masked, maybe fragmented, control frames
/// between. Holds at most one unfinished frame and one unfinished message.
#[pyclass(module = "trioxide_native._native")]
struct FrameParser(frames::FrameParser);

#[pymethods]
impl FrameParser {
    /// Refuses data messages over `max_bytes` (1009) as soon as a frame header says so.
    #[new]
    fn new(max_bytes: usize) -> Self {
        Self(frames::FrameParser::new(max_bytes))
    }

    /// The whole messages and control frames `data` completes, as `(opcode, payload)`.
    /// Raises `FrameValueError` when the frames break RFC 6455, then on every later call.
    fn feed<'py>(
        &mut self,
        py: Python<'py>,
        data: &[u8],
    ) -> PyResult<Vec<(u8, Bound<'py, PyBytes>)>> {
        let messages = self.0.feed(data).map_err(|e| frame_error(py, &e))?;
        Ok(messages
            .iter()
            .map(|m| (m.opcode as u8, PyBytes::new(py, &m.payload)))
            .collect())
    }

    /// Bytes held for an unfinished frame and an unfinished message.
    #[getter]
    fn buffered(&self) -> usize {
        self.0.buffered()
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<SnowflakeGenerator>()?;
    m.add_class::<GuildPermissions>()?;
    m.add_class::<GuildMembers>()?;
    m.add_class::<ChannelPermissions>()?;
    m.add_class::<Outlet>()?;
    m.add_class::<Feed>()?;
    m.add_class::<FrameParser>()?;
    m.add("FrameValueError", m.py().get_type::<FrameValueError>())?;
    m.add_function(wrap_pyfunction!(deliver, m)?)?;
    m.add_function(wrap_pyfunction!(release, m)?)?;
    m.add_function(wrap_pyfunction!(slow_consumers_closed, m)?)?;
    m.add("SENT_WRITTEN", sent_code(Sent::Written))?;
    m.add("SENT_BACKLOGGED", sent_code(Sent::Backlogged))?;
    m.add("SENT_QUEUED", sent_code(Sent::Queued))?;
    m.add("SENT_REFUSED", sent_code(Sent::Refused))?;
    m.add(
        "PermissionsValueError",
        m.py().get_type::<PermissionsValueError>(),
    )?;
    m.add_function(wrap_pyfunction!(decode_snowflake, m)?)?;
    m.add(
        "SnowflakeValueError",
        m.py().get_type::<SnowflakeValueError>(),
    )?;
    m.add("DISCORD_EPOCH_MS", snowflake::DISCORD_EPOCH_MS)?;
    m.add("MAX_SNOWFLAKE_BATCH", snowflake::MAX_BATCH)?;
    crate::py_sfu::register(m)?;
    Ok(())
}
