"""markdown.js in the page: Discord's subset becomes the right elements, anything else stays
text, and no input (random marker soup, pathological runs, hostile links) makes it throw, hang,
or produce an element, attribute or link it should not."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.async_api import Page

    from tests.web.browser import Web

# Renders each input into a box and describes the result: a compact serialisation (tags with
# their class and href), and whatever should never be there.
RENDER = """async (inputs) => {
  const { renderMarkdown } = await import('/app/markdown.js');
  const names = {mention: (id) => (id === '1' ? 'ada' : null), channel: (id) => (id === '9' ? 'general' : null)};
  const allowed = new Set(['STRONG', 'EM', 'U', 'S', 'CODE', 'PRE', 'BLOCKQUOTE', 'SPAN', 'A', 'TIME']);
  const ser = (node) => {
    if (node.nodeType === Node.TEXT_NODE) return node.data;
    const tag = node.tagName.toLowerCase();
    const cls = node.getAttribute('class') ? ` class="${node.getAttribute('class')}"` : '';
    const href = node.getAttribute('href') ? ` href="${node.getAttribute('href')}"` : '';
    return `<${tag}${cls}${href}>${[...node.childNodes].map(ser).join('')}</${tag}>`;
  };
  return inputs.map((input) => {
    const box = document.createElement('div');
    let problems = [];
    try {
      box.append(renderMarkdown(input, names));
    } catch (error) {
      problems.push('threw ' + error);
    }
    for (const el of box.querySelectorAll('*')) {
      if (!allowed.has(el.tagName)) problems.push('element ' + el.tagName);
      for (const a of el.attributes) if (a.name.startsWith('on')) problems.push('attribute ' + a.name);
    }
    for (const a of box.querySelectorAll('a')) {
      if (!/^https?:$/.test(new URL(a.href).protocol)) problems.push('href ' + a.href);
      if (a.rel !== 'noopener noreferrer nofollow' || a.target !== '_blank') problems.push('rel');
    }
    return {html: [...box.childNodes].map(ser).join(''), text: box.textContent, problems};
  });
}"""

CASES = {
    "**bold**": "<strong>bold</strong>",
    "*it* and _it_": "<em>it</em> and <em>it</em>",
    "__under__ ~~struck~~": "<u>under</u> <s>struck</s>",
    "***both***": "<strong><em>both</em></strong>",
    "`co*de*` ``a`b``": '<code class="inline-code">co*de*</code> <code class="inline-code">a`b</code>',
    "```py\nprint('**x**')\n```": "<pre><code>print('**x**')</code></pre>",
    "```\nplain\n```after": "<pre><code>plain</code></pre>after",
    "||secret||": '<span class="spoiler">secret</span>',
    "> quoted **b**\nplain": "<blockquote>quoted <strong>b</strong></blockquote>plain",
    ">>> all\nof it": "<blockquote>all\nof it</blockquote>",
    "see https://a.example/x.": 'see <a href="https://a.example/x">https://a.example/x</a>.',
    "(https://a.example/p)": '(<a href="https://a.example/p">https://a.example/p</a>)',
    "[site **b**](https://a.example/)": '<a href="https://a.example/">site <strong>b</strong></a>',
    "[bad](javascript:alert(1))": "[bad](javascript:alert(1))",
    "[data](data:text/html,x)": "[data](data:text/html,x)",
    "javascript:alert(1)": "javascript:alert(1)",
    "<@1> <@!2> <#9>": (
        '<span class="mention mention-user">@ada</span>'
        ' <span class="mention mention-user">@unknown-user</span>'
        ' <span class="mention mention-channel">#general</span>'
    ),
    "hi @everyone, @here and ada@example": (
        'hi <span class="mention mention-everyone">@everyone</span>,'
        ' <span class="mention mention-everyone">@here</span> and ada@example'
    ),
    "**unclosed and `tick": "**unclosed and `tick",
    "\\*not italic\\*": "*not italic*",
    "snake_case_name": "snake_case_name",
    "<b>html</b>": "<b>html</b>",  # text: the serialisation shows text nodes as they are
    "": "",
}

MARKERS = [
    "*",
    "**",
    "_",
    "__",
    "~~",
    "||",
    "`",
    "```",
    "\\",
    "[",
    "]",
    "(",
    ")",
    "<@1>",
    "<#",
    ">",
    "> ",
    ">>> ",
    "\n",
    " ",
    "a",
    "b",
    "https://x.example/",
    "javascript:",
    "<",
    "</div>",
    ":",
]


def soup(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(MARKERS) for _ in range(length))


PATHOLOGICAL = [
    "`" * 4000,
    "*" * 4000,
    "_" * 4000,
    "|" * 4000,
    "~" * 4000,
    "[" * 2000 + "](" * 1000,
    "**__~~||" * 500,
    "*a " * 1300,
    "<@" * 2000,
    "https://" * 500,
    "> " * 2000,
    "```" * 1300,
    "\\" * 4000,
]


async def render(page: Page, inputs: list[str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await page.evaluate(RENDER, inputs)
    return found


async def test_the_subset_renders_as_discord_does(web: Web) -> None:
    page = await web.new_page()
    await web.run(page.goto(web.url + "/app/login"))
    results = await web.run(render(page, list(CASES)))
    for (source, expected), result in zip(CASES.items(), results, strict=True):
        assert result["problems"] == [], source
        assert result["html"] == expected, source


async def test_no_input_throws_hangs_or_injects(web: Web) -> None:
    rng = random.Random(21)
    inputs = [soup(rng, rng.randint(1, 120)) for _ in range(1500)] + PATHOLOGICAL
    page = await web.new_page()
    await web.run(page.goto(web.url + "/app/login"))
    results = await web.run(render(page, inputs), timeout_s=60)
    for source, result in zip(inputs, results, strict=True):
        assert result["problems"] == [], source
        # Only markers are taken away: text around them stays.
        if "b" in source and "```" not in source:
            assert "b" in result["text"], source
