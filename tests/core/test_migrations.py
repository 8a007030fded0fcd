from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg
import pytest
import trio

from core.errors import MigrationError
from core.store.migrations import (
    apply_migrations,
    load_migrations,
    migration_problem,
)

if TYPE_CHECKING:
    from pathlib import Path

FIRST = "CREATE TABLE first (id bigint PRIMARY KEY);"
SECOND = "CREATE TABLE second (id bigint PRIMARY KEY);"


def write(directory: Path, name: str, sql: str) -> None:
    (directory / name).write_text(sql)


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {str(name) for (name,) in rows}


def recorded(url: str) -> list[tuple[int, str]]:
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT version, name FROM schema_migrations ORDER BY version"
        ).fetchall()
    return [(int(str(version)), str(name)) for version, name in rows]


def problem(url: str, directory: Path) -> str | None:
    with psycopg.connect(url) as connection:
        return migration_problem(connection, load_migrations(directory))


def test_migrations_apply_in_order_once_each(empty_database_url: str, tmp_path: Path) -> None:
    write(tmp_path, "0002_second.sql", SECOND + "INSERT INTO first VALUES (1);")
    write(tmp_path, "0001_first.sql", FIRST)
    assert problem(empty_database_url, tmp_path) == "no migrations applied; run `trioxide migrate`"

    applied = apply_migrations(empty_database_url, load_migrations(tmp_path))
    again = apply_migrations(empty_database_url, load_migrations(tmp_path))

    assert [m.file_name for m in applied] == ["0001_first.sql", "0002_second.sql"]
    assert again == []
    assert recorded(empty_database_url) == [(1, "first"), (2, "second")]
    assert problem(empty_database_url, tmp_path) is None


def test_pending_migration_is_reported_then_applied(
    empty_database_url: str, tmp_path: Path
) -> None:
    write(tmp_path, "0001_first.sql", FIRST)
    apply_migrations(empty_database_url, load_migrations(tmp_path))
    write(tmp_path, "0002_second.sql", SECOND)

    assert problem(empty_database_url, tmp_path) == "1 migration(s) pending: 0002_second.sql"
    apply_migrations(empty_database_url, load_migrations(tmp_path))
    assert "second" in tables(empty_database_url)


def test_edited_migration_is_refused_and_changes_nothing(
    empty_database_url: str, tmp_path: Path
) -> None:
    write(tmp_path, "0001_first.sql", FIRST)
    apply_migrations(empty_database_url, load_migrations(tmp_path))
    write(tmp_path, "0001_first.sql", FIRST + " -- tweaked")
    write(tmp_path, "0002_second.sql", SECOND)

    with pytest.raises(MigrationError, match=r"0001_first\.sql was edited after it was applied"):
        apply_migrations(empty_database_url, load_migrations(tmp_path))

    assert recorded(empty_database_url) == [(1, "first")]
    assert "second" not in tables(empty_database_url)
    assert "0001_first.sql was edited" in (problem(empty_database_url, tmp_path) or "")


def test_failed_migration_rolls_back_itself_and_stops(
    empty_database_url: str, tmp_path: Path
) -> None:
    write(tmp_path, "0001_first.sql", FIRST)
    write(tmp_path, "0002_broken.sql", SECOND + "SELECT no_such_column FROM first;")
    write(tmp_path, "0003_third.sql", "CREATE TABLE third (id bigint);")

    with pytest.raises(MigrationError, match=r"0002_broken.sql failed: .*no_such_column"):
        apply_migrations(empty_database_url, load_migrations(tmp_path))

    assert recorded(empty_database_url) == [(1, "first")]
    assert tables(empty_database_url) == {"first", "schema_migrations"}


def test_database_newer_than_the_build_is_refused(empty_database_url: str, tmp_path: Path) -> None:
    write(tmp_path, "0001_first.sql", FIRST)
    write(tmp_path, "0002_second.sql", SECOND)
    apply_migrations(empty_database_url, load_migrations(tmp_path))
    (tmp_path / "0002_second.sql").unlink()

    with pytest.raises(MigrationError, match="database has migration 0002_second"):
        apply_migrations(empty_database_url, load_migrations(tmp_path))


@pytest.mark.parametrize(
    ("names", "says"),
    [
        (["1_first.sql"], "named NNNN_lower_case_name.sql"),
        (["0001_First.sql"], "named NNNN_lower_case_name.sql"),
        (["0001_first.sql", "0001_again.sql"], "number 0001 is already used"),
    ],
)
def test_badly_named_migration_files_are_refused(
    tmp_path: Path, names: list[str], says: str
) -> None:
    for name in names:
        write(tmp_path, name, FIRST)
    with pytest.raises(MigrationError, match=says):
        load_migrations(tmp_path)


async def test_concurrent_migrators_apply_each_migration_once(
    empty_database_url: str, tmp_path: Path
) -> None:
    # CREATE TABLE without IF NOT EXISTS fails if run twice: the advisory lock must serialise.
    for number in range(1, 6):
        write(tmp_path, f"{number:04d}_table_{number}.sql", f"CREATE TABLE t{number} (id int);")
    migrations = load_migrations(tmp_path)
    applied_counts: list[int] = []

    async def migrator() -> None:
        applied = await trio.to_thread.run_sync(apply_migrations, empty_database_url, migrations)
        applied_counts.append(len(applied))

    async with trio.open_nursery() as nursery:
        for _ in range(4):
            nursery.start_soon(migrator)

    assert sorted(applied_counts) == [0, 0, 0, 5]
    assert [version for version, _ in recorded(empty_database_url)] == [1, 2, 3, 4, 5]


def test_the_projects_migrations_apply_cleanly(empty_database_url: str) -> None:
    migrations = load_migrations()
    assert migrations, "migrations/ holds the schema"
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    apply_migrations(empty_database_url, migrations)
    with psycopg.connect(empty_database_url) as connection:
        assert migration_problem(connection, migrations) is None
