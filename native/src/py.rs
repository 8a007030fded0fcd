//! The Python binding: convert, call, map errors. Nothing else lives here.

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

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

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<SnowflakeGenerator>()?;
    m.add_function(wrap_pyfunction!(decode_snowflake, m)?)?;
    m.add(
        "SnowflakeValueError",
        m.py().get_type::<SnowflakeValueError>(),
    )?;
    m.add("DISCORD_EPOCH_MS", snowflake::DISCORD_EPOCH_MS)?;
    m.add("MAX_SNOWFLAKE_BATCH", snowflake::MAX_BATCH)?;
    Ok(())
}
