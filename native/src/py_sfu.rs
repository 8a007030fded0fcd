//! The SFU's Python binding: convert, call, map errors. Nothing else lives here.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsRawFd;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use crate::sfu;

/// The native SFU: a bound UDP socket and the media thread that forwards on it.
#[pyclass(frozen, module = "trioxide_native._native")]
struct SfuHandle(sfu::Sfu);

#[pymethods]
impl SfuHandle {
    /// Binds UDP `host:port` (an IPv4 address; port 0: any free one) and starts the thread.
    #[new]
    fn new(host: &str, port: u16) -> PyResult<Self> {
        let ip: Ipv4Addr = host.parse().map_err(|_| {
            PyValueError::new_err(format!("{host:?} is not an IPv4 address like 127.0.0.1"))
        })?;
        Ok(Self(sfu::Sfu::start(SocketAddrV4::new(ip, port))?))
    }

    #[getter]
    fn port(&self) -> u16 {
        self.0.port()
    }

    #[getter]
    fn running(&self) -> bool {
        self.0.running()
    }

    /// A descriptor readable once the thread has ended, for `trio.lowlevel.wait_readable`.
    #[getter]
    fn ended_fd(&self) -> i32 {
        self.0.ended_fd().as_raw_fd()
    }

    #[pyo3(signature = (ssrc, channel_id, *, speaks, hears))]
    fn add(&self, ssrc: u32, channel_id: u64, speaks: bool, hears: bool) {
        self.0.add(ssrc, channel_id, speaks, hears);
    }

    fn set_key(&self, ssrc: u32, mode: &str, key: &[u8]) -> PyResult<()> {
        self.0
            .set_key(ssrc, mode, key)
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }

    #[pyo3(signature = (ssrc, *, speaks, hears))]
    fn set_flags(&self, ssrc: u32, speaks: bool, hears: bool) {
        self.0.set_flags(ssrc, speaks, hears);
    }

    #[pyo3(name = "move")]
    fn move_to(&self, ssrc: u32, channel_id: u64) {
        self.0.move_to(ssrc, channel_id);
    }

    fn remove(&self, ssrc: u32) {
        self.0.remove(ssrc);
    }

    /// The address the client declared; a host that is not an IPv4 address, or port 0,
    /// declares none (the SSRC gets its most recent discovery source).
    fn bind(&self, ssrc: u32, host: &str, port: u16) {
        let declared = host
            .parse::<Ipv4Addr>()
            .ok()
            .filter(|_| port != 0)
            .map(|ip| SocketAddrV4::new(ip, port));
        self.0.bind(ssrc, declared);
    }

    fn address(&self, ssrc: u32) -> Option<(String, u16)> {
        self.0
            .address(ssrc)
            .map(|address| (address.ip().to_string(), address.port()))
    }

    fn counters(&self) -> HashMap<&'static str, u64> {
        self.0.counters()
    }

    fn close(&self) {
        self.0.close();
    }

    /// Waits for the thread to end, with the GIL released.
    fn join(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.0.join())
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<SfuHandle>()?;
    Ok(())
}
