//! Trioxide's hot paths in plain Rust. `py` and `py_sfu` are the only modules
//! that know about Python.

pub mod deflate;
pub mod fanout;
pub mod frames;
pub mod permissions;
pub mod sfu;
pub mod snowflake;

#[cfg(feature = "python")]
mod py;
#[cfg(feature = "python")]
mod py_sfu;
