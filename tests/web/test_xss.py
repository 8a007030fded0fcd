"""Hostile content renders as the text it is: messages, and the names of a guild, a channel
and a person, made of markup, script links and broken markdown, run nothing, add no element
or attribute of their own, and link only to http(s)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from playwright.async_api import expect

from tests.running import Person
from tests.web.test_chat import WAIT_MS, open_channel, page_errors

if TYPE_CHECKING:
    from tests.web.browser import Web

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
CORPUS = [
    SCRIPT,
    IMG,
    "<svg onload=alert(1)></svg>",
    "[x](javascript:alert(1))",
    "javascript:alert(1)",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "data:text/html,<script>alert(1)</script>",
    "<https://ok.example/angle> [masked **bold**](https://ok.example/masked)",
    "[javascript:alert(1)](https://ok.example/) https://ok.example/plain",
    "**__~~||unbalanced `markers ** __ ~~ ||",
    "`" * 41 + "odd backticks" + "``",
    "``` unclosed fence **x**",
    "</div></article><b onmouseover=alert(1)>escape</b>",
    "\u202eevil\u202c RTL override \u2066isolate\u2069",
    "**__~~||" * 120 + "deep" + "||~~__**" * 120,
    "> quote <script>alert(1)</script>\n>>> rest " + IMG,
    "<@1> <#2> <@&3> <t:abc> <a:x:y>",
    "||spoiler " + IMG + "||",
    "\\<script\\>alert(1)\\</script\\>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
]

# A bot-style embed made of the same: its title's link is not a web link, so it is none.
EMBED = {
    "author": {"name": SCRIPT},
    "title": SCRIPT,
    "url": "javascript:alert(1)",
    "description": f"[x](javascript:alert(1)) {IMG}",
    "fields": [{"name": IMG, "value": SCRIPT, "inline": True}],
    "footer": {"text": IMG},
    "color": 0x5865F2,
}

# Run in the page: everything hostile an element of user data could have brought with it.
AUDIT = """() => {
  const found = [];
  for (const s of document.querySelectorAll('script')) {
    if (!(s.getAttribute('src') || '').startsWith('/app/')) found.push('script ' + s.textContent);
  }
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      if (a.name.toLowerCase().startsWith('on')) found.push(`${el.tagName} ${a.name}`);
    }
    if (['IMG', 'SVG', 'IFRAME', 'OBJECT', 'EMBED', 'B'].includes(el.tagName.toUpperCase())
        && el.closest('.message-content')) found.push('element ' + el.tagName);
  }
  for (const a of document.querySelectorAll('a[href]')) {
    const protocol = new URL(a.href).protocol;
    if (protocol !== 'http:' && protocol !== 'https:') found.push('href ' + a.getAttribute('href'));
  }
  for (const el of document.querySelectorAll('[src], [srcdoc], [formaction], [action]')) {
    const src = el.getAttribute('src') || '';
    if (el.tagName !== 'SCRIPT' && !src.startsWith('http') && !src.startsWith('blob:')) {
      found.push(`${el.tagName} src ${src}`);
    }
  }
  return found;
}"""


async def hostile_person(web: Web) -> Person:
    """Someone whose display name is markup."""
    response = await web.api.http.post(
        "/api/v10/auth/register",
        json={
            "username": "mallory",
            "email": "mallory@example.test",
            "password": "correct horse",
            "global_name": IMG,
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return Person(
        int(body["user"]["id"]), "mallory", "correct horse", body["token"], body["refresh_token"]
    )


async def test_hostile_messages_and_names_render_as_text(web: Web) -> None:
    http = web.api.http
    mallory = await hostile_person(web)
    guild = await http.post("/api/v10/guilds", headers=mallory.auth, json={"name": SCRIPT})
    assert guild.status_code == 201, guild.text
    guild_id = guild.json()["id"]
    made = await http.post(
        f"/api/v10/guilds/{guild_id}/channels",
        headers=mallory.auth,
        json={"name": IMG, "type": 0, "topic": SCRIPT},
    )
    assert made.status_code in (200, 201), made.text
    channel_id = made.json()["id"]
    corpus = [*CORPUS, f"<@{mallory.id}> mentioned <#{channel_id}>", "embedded"]
    for content in corpus:
        body: dict[str, Any] = {"content": content}
        if content == "embedded":
            body["embeds"] = [EMBED]
        sent = await http.post(
            f"/api/v10/channels/{channel_id}/messages", headers=mallory.auth, json=body
        )
        assert sent.status_code == 200, sent.text
    page = await open_channel(web, mallory, guild_id, channel_id)

    async def audit() -> tuple[list[str], list[str], Any]:
        log = page.get_by_test_id("message-log")
        await expect(log.locator("[data-message-id]")).to_have_count(len(corpus), timeout=WAIT_MS)
        # The composer shows the person's name; send one more through the browser itself.
        box = page.get_by_test_id("composer-input")
        await box.fill(SCRIPT + " " + IMG)
        await box.press("Enter")
        await expect(log.locator("[data-message-id]")).to_have_count(len(corpus) + 1)
        texts = await log.locator("[data-message-id] .message-content").all_text_contents()
        links = await log.locator(".message-content a").evaluate_all(
            "links => links.map(a => [a.getAttribute('href'), a.rel, a.target, a.textContent])"
        )
        await expect(page.get_by_test_id("channel-name")).to_have_text("#" + IMG)
        await expect(page.locator(".message-author").first).to_have_text(IMG)
        embed = log.get_by_test_id("embed")
        await expect(embed).to_contain_text(f"{SCRIPT}{SCRIPT}")  # author, title
        await expect(embed.locator(".embed-description")).to_have_text(
            f"[x](javascript:alert(1)) {IMG}"
        )
        await expect(embed.locator(".embed-field-name")).to_have_text(IMG)
        await expect(embed.locator("a")).to_have_count(0)
        return texts, await page.evaluate(AUDIT), links

    texts, hostile, links = await web.run(audit())
    assert hostile == []
    assert page_errors(page) == []  # no alert(), no exception
    # Markup shows as its characters.
    assert texts[0] == SCRIPT
    assert texts[1] == IMG
    assert texts[3] == "[x](javascript:alert(1))"
    assert texts[4] == "javascript:alert(1)"
    assert texts[5].startswith("[click](data:")
    assert "escape</b>" in texts[12]
    assert "deep" in texts[14]
    assert texts[-3] == f"@{IMG} mentioned #{IMG}"
    assert texts[-1] == f"{SCRIPT} {IMG}"
    # Only the http(s) links became links, each opening apart from the client.
    assert [(href, text) for href, _, _, text in links] == [
        ("https://ok.example/angle", "https://ok.example/angle"),
        ("https://ok.example/masked", "masked bold"),
        ("https://ok.example/", "javascript:alert(1)"),
        ("https://ok.example/plain", "https://ok.example/plain"),
    ]
    assert all(
        rel == "noopener noreferrer nofollow" and target == "_blank" for _, rel, target, _ in links
    )
