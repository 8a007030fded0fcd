//! The selective forwarding unit: Discord voice over UDP, forwarded by a thread of its own.

pub mod batch;
pub mod binding;
pub mod counters;
pub mod crypto;
pub mod handle;
pub mod hchacha;
pub mod keyhash;
pub mod media;
pub mod replay;
pub mod routes;
pub mod rtp;

pub use handle::Sfu;
