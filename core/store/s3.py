"""Attachment bytes in any S3-compatible store (AWS S3, MinIO, Ceph RGW, R2, Garage…).

Three operations over HTTP with AWS Signature Version 4, path-style addressing
(`{endpoint}/{bucket}/{key}`), which every S3-compatible server accepts. The request signing is
our own, a few lines over the standard library; httpx carries the requests under Trio.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

import httpx
import trio

from core.store.objects import ObjectStoreUnavailable

if TYPE_CHECKING:
    from collections.abc import Mapping

    from core.config import S3Location

_log = logging.getLogger(__name__)

_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
# Deleting a message's files, or a bulk delete's, runs this many requests at once.
_DELETES_AT_ONCE = 8


def _sign(secret: str, date: str, region: str, text: str) -> str:
    key = f"AWS4{secret}".encode()
    for part in (date, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def signed_headers(
    location: S3Location,
    method: str,
    path: str,
    query: Mapping[str, str],
    payload_sha256: str,
    now: datetime,
) -> dict[str, str]:
    """The headers that authorize one request (SigV4, header form). `path` is already
    percent-encoded exactly as it goes on the wire."""
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    date = stamp[:8]
    host = urlsplit(location.endpoint).netloc
    headers = {"host": host, "x-amz-content-sha256": payload_sha256, "x-amz-date": stamp}
    names = ";".join(sorted(headers))
    canonical_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(query.items())
    )
    canonical = "\n".join(
        [
            method,
            path,
            canonical_query,
            "".join(f"{name}:{headers[name]}\n" for name in sorted(headers)),
            names,
            payload_sha256,
        ]
    )
    scope = f"{date}/{location.region}/s3/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    signature = _sign(location.secret_access_key, date, location.region, to_sign)
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={location.access_key_id}/{scope}, "
        f"SignedHeaders={names}, Signature={signature}"
    )
    del headers["host"]  # httpx sends it from the URL, the same value
    return headers


class S3ObjectStore:
    """The ObjectStore interface over S3. One connection pool per process."""

    def __init__(self, location: S3Location, client: httpx.AsyncClient) -> None:
        self._location = location
        self._client = client

    def _path(self, key: str = "") -> str:
        path = f"/{quote(self._location.bucket, safe='')}"
        return f"{path}/{quote(key, safe='/-_.~')}" if key else path

    async def _request(
        self,
        method: str,
        key: str = "",
        data: bytes = b"",
        query: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        path = self._path(key)
        query = query or {}
        digest = hashlib.sha256(data).hexdigest() if data else _EMPTY_SHA256
        headers = signed_headers(self._location, method, path, query, digest, datetime.now(UTC))
        try:
            return await self._client.request(
                method,
                self._location.endpoint + path,
                params=query,
                content=data or None,
                headers=headers,
            )
        except httpx.HTTPError as error:
            raise ObjectStoreUnavailable(f"{method} failed: {type(error).__name__}") from None

    @staticmethod
    def _refused(method: str, response: httpx.Response) -> ObjectStoreUnavailable:
        return ObjectStoreUnavailable(f"{method} answered {response.status_code}")

    async def ensure_bucket(self) -> None:
        """Creates the bucket if it is missing, so a fresh store works without a console."""
        response = await self._request("HEAD")
        if response.status_code == 404:
            response = await self._request("PUT")
            if response.status_code not in (200, 409):  # 409: created meanwhile
                raise self._refused("creating the bucket", response)
            _log.info("created the attachment bucket", extra={"bucket": self._location.bucket})
        elif response.status_code != 200:
            raise self._refused("checking the bucket", response)

    async def put(self, key: str, data: bytes) -> None:
        response = await self._request("PUT", key, data)
        if response.status_code != 200:
            raise self._refused("PUT", response)

    async def get(self, key: str) -> bytes | None:
        response = await self._request("GET", key)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._refused("GET", response)
        return response.content

    async def delete(self, keys: list[str]) -> None:
        limiter = trio.CapacityLimiter(_DELETES_AT_ONCE)

        async def delete_one(key: str) -> None:
            async with limiter:
                response = await self._request("DELETE", key)
            # S3 answers 204 whether or not the key existed; some stores say 404.
            if response.status_code not in (200, 204, 404):
                raise self._refused("DELETE", response)

        async with trio.open_nursery() as nursery:
            for key in keys:
                nursery.start_soon(delete_one, key)
