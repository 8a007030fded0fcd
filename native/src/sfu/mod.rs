//! The selective forwarding unit: Discord voice over UDP, forwarded by a thread of its own.

pub mod counters;
pub mod crypto;
pub mod replay;
pub mod routes;
pub mod rtp;
