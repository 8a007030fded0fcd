//! Trioxide's hot paths in plain Rust. `py` is the only module that knows about Python.

pub mod deflate;
pub mod fanout;
pub mod frames;
pub mod permissions;
pub mod sfu;
pub mod snowflake;

#[cfg(feature = "python")]
mod py;
