"""Schema migrations: plain SQL files `migrations/NNNN_name.sql`, applied in order.

Each file runs in its own transaction and is recorded with its SHA-256, so a file edited after it
was applied is refused rather than silently diverging. A PostgreSQL advisory lock makes two
processes migrating at once safe: the second waits, then finds nothing left to do.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from core.errors import MigrationError

# Beside core/ in a checkout, and at the same place in an installed wheel.
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"

# Any fixed number works as long as nothing else in the database uses it: "trioxide" in ASCII.
_LOCK_KEY = 0x74_72_69_6F_78_69_64_65

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str
    checksum: str

    @property
    def file_name(self) -> str:
        return f"{self.version:04d}_{self.name}.sql"


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations in `directory`, in order. Raises MigrationError for a stray .sql file
    name or two files with one number."""
    migrations: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named NNNN_lower_case_name.sql")
        version = int(match[1])
        if version in migrations:
            taken_by = migrations[version].file_name
            raise MigrationError(f"{path.name}: number {version:04d} is already used by {taken_by}")
        data = path.read_bytes()
        migrations[version] = Migration(
            version, match[2], data.decode("utf-8"), hashlib.sha256(data).hexdigest()
        )
    return [migrations[version] for version in sorted(migrations)]


def _recorded(connection: psycopg.Connection[tuple[object, ...]]) -> dict[int, tuple[str, str]]:
    rows = connection.execute("SELECT version, name, checksum FROM schema_migrations").fetchall()
    return {int(str(v)): (str(name), str(checksum)) for v, name, checksum in rows}


def _check_recorded(recorded: dict[int, tuple[str, str]], migrations: list[Migration]) -> None:
    on_disk = {migration.version: migration for migration in migrations}
    for version, (name, checksum) in sorted(recorded.items()):
        migration = on_disk.get(version)
        if migration is None:
            raise MigrationError(
                f"the database has migration {version:04d}_{name} that this build does not have; "
                "run a build at least as new as the one that migrated it"
            )
        if migration.checksum != checksum:
            raise MigrationError(
                f"{migration.file_name} was edited after it was applied; "
                "put the change in a new migration instead"
            )


def apply_migrations(url: str, migrations: list[Migration]) -> list[Migration]:
    """Applies the pending `migrations` to the database at `url`; returns those it applied.

    Blocking: call through a worker thread. Raises MigrationError, having applied none of a
    failed migration and none after it.
    """
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            connection.execute(_CREATE_TABLE)
            recorded = _recorded(connection)
            _check_recorded(recorded, migrations)
            applied = []
            for migration in migrations:
                if migration.version in recorded:
                    continue
                try:
                    with connection.transaction():
                        connection.execute(migration.sql.encode())
                        connection.execute(
                            "INSERT INTO schema_migrations (version, name, checksum)"
                            " VALUES (%s, %s, %s)",
                            (migration.version, migration.name, migration.checksum),
                        )
                except psycopg.Error as error:
                    detail = error.diag.message_primary or type(error).__name__
                    raise MigrationError(f"{migration.file_name} failed: {detail}") from error
                applied.append(migration)
            return applied
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))


def migration_problem(
    connection: psycopg.Connection[tuple[object, ...]], migrations: list[Migration]
) -> str | None:
    """Why the schema is not current, or None when every migration is applied as written."""
    exists = connection.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return "no migrations applied; run `trioxide migrate`"
    recorded = _recorded(connection)
    try:
        _check_recorded(recorded, migrations)
    except MigrationError as error:
        return str(error)
    pending = [m.file_name for m in migrations if m.version not in recorded]
    if pending:
        return f"{len(pending)} migration(s) pending: {', '.join(pending)}"
    return None
