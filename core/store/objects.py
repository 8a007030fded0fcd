"""The object store: where attachment bytes live. The local filesystem under the data folder by
default; any S3-compatible store (core/store/s3.py) when TRIOXIDE_S3_ENDPOINT is set."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

import trio

if TYPE_CHECKING:
    from collections.abc import Callable

T = TypeVar("T")


class ObjectStoreUnavailable(Exception):
    """The object store refused or did not answer. Carries the status, never the body."""


class ObjectStore(Protocol):
    """Each operation raises ObjectStoreUnavailable when the store cannot do it."""

    async def put(self, key: str, data: bytes) -> None: ...

    async def get(self, key: str) -> bytes | None:
        """The object's bytes, or None if there is none under `key`."""
        ...

    async def delete(self, keys: list[str]) -> None:
        """Deletes what exists of `keys`; missing ones are not an error."""
        ...


class LocalObjectStore:
    """Objects as files under `root`. Keys are made by Trioxide (never by clients), and are
    checked to stay below `root` all the same."""

    def __init__(self, root: Path) -> None:
        self._root = root.resolve()

    def _path(self, key: str) -> Path:
        path = (self._root / key).resolve()
        if self._root not in path.parents:
            raise ValueError(f"object key {key!r} leaves the store")
        return path

    async def put(self, key: str, data: bytes) -> None:
        path = self._path(key)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write aside, then rename: a reader never sees half a file.
            descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
            try:
                with os.fdopen(descriptor, "wb") as file:
                    file.write(data)
                os.replace(temporary, path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise

        await self._run(write)

    async def get(self, key: str) -> bytes | None:
        path = self._path(key)

        def read() -> bytes | None:
            try:
                return path.read_bytes()
            except FileNotFoundError:
                return None

        return await self._run(read)

    async def delete(self, keys: list[str]) -> None:
        paths = [self._path(key) for key in keys]

        def remove() -> None:
            for path in paths:
                path.unlink(missing_ok=True)

        await self._run(remove)

    @staticmethod
    async def _run(work: Callable[[], T]) -> T:
        try:
            return await trio.to_thread.run_sync(work)
        except OSError as error:
            raise ObjectStoreUnavailable(f"{type(error).__name__} (errno {error.errno})") from None
