"""The client's files as the API role serves them: where, with which headers, and how small."""

from __future__ import annotations

import gzip
import re
from typing import TYPE_CHECKING

from api.web_app import WEB_DIR, load_web_files

if TYPE_CHECKING:
    from tests.web.browser import Web


async def test_root_redirects_to_the_client(web: Web) -> None:
    response = await web.api.http.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/app")


async def test_client_routes_serve_the_page_and_missing_files_are_404(web: Web) -> None:
    index = (WEB_DIR / "index.html").read_bytes()
    for path in ("/app", "/app/", "/app/invite/abc123", "/app/channels/@me", "/app/login"):
        response = await web.api.http.get(path)
        assert response.status_code == 200, path
        assert response.content == index
        assert response.headers["Content-Type"].startswith("text/html")
    missing = await web.api.http.get("/app/no-such-file.js")
    assert missing.status_code == 404


async def test_every_answer_forbids_inline_script_and_other_origins(web: Web) -> None:
    response = await web.api.http.get("/app/main.js")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/javascript")
    policy = dict(
        part.strip().split(" ", 1)
        for part in response.headers["Content-Security-Policy"].split(";")
    )
    assert policy["script-src"] == "'self'"
    assert policy["default-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    gateway = f"ws://{web.api.services.settings.gateway_addr}"
    assert policy["connect-src"] == f"'self' {gateway}"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_files_are_gzipped_and_revalidated_by_etag(web: Web) -> None:
    response = await web.api.http.get("/app/main.js", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.content == (WEB_DIR / "main.js").read_bytes()  # httpx inflates it
    again = await web.api.http.get(
        "/app/main.js", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304
    assert again.content == b""


def test_no_file_holds_inline_script_or_html_injection() -> None:
    """The client never writes markup from strings: user data could become markup there."""
    for name, found in load_web_files().items():
        text = found.body.decode()
        for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert banned not in text, f"{name} uses {banned}"
        if name.endswith(".html"):
            assert "<script>" not in text  # only <script type="module" src=…>
            assert re.search(r"\s(on[a-z]+|style)=", text) is None
        assert gzip.decompress(found.gzipped) == found.body


async def test_the_page_loads_in_chromium_without_csp_violations(web: Web) -> None:
    page = await web.new_page()
    errors: list[str] = []
    await web.listen(
        page,
        "console",
        lambda message: errors.append(message.text) if message.type == "error" else None,
    )
    await web.run(page.goto(web.url + "/app"))
    await web.run(page.wait_for_load_state("networkidle"))
    assert await web.run(page.title()) == "Trioxide"
    assert [e for e in errors if "Content Security Policy" in e] == []
