//! The Python binding: convert, call, map errors. Nothing else lives here.

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use std::sync::Arc;

use pyo3::types::PyBytes;

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

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<SnowflakeGenerator>()?;
    m.add_class::<GuildPermissions>()?;
    m.add_class::<GuildMembers>()?;
    m.add_class::<ChannelPermissions>()?;
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
    Ok(())
}
