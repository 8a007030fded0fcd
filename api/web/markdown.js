// Discord's markdown subset, parsed straight into DOM nodes. Nothing here ever turns a string
// into markup: text goes in as text nodes, links only with http(s) hrefs, so hostile content
// renders as the characters it is. Unclosed markers stay literal; the parser never throws.

// Deeper nesting than this renders the rest as plain text (hostile inputs nest thousands deep).
const MAX_DEPTH = 12;
// Longer inputs are not formatted at all: parsing is quadratic at worst.
const MAX_CHARS = 20_000;

const LINK_REL = "noopener noreferrer nofollow";

// Inline rules, tried in order at each position. Each is a sticky regex and a builder.
// Non-greedy bodies with a non-space edge, as Discord's parser (simple-markdown) does.
const INLINE = [
  { re: /\\([^\w\s])/y, build: (m) => text(m[1]) },
  { re: /<@!?(\d{1,20})>/y, build: (m, ctx) => userMention(m[1], ctx) },
  { re: /<@&(\d{1,20})>/y, build: (m, ctx) => chip("@", ctx.role?.(m[1]) ?? "unknown-role", "role") },
  { re: /<#(\d{1,20})>/y, build: (m, ctx) => channelMention(m[1], ctx) },
  { re: /@(everyone|here)(?![\w])/y, build: (m) => chip("@", m[1], "everyone") },
  { re: /<a?:(\w{1,32}):\d{1,20}>/y, build: (m) => text(`:${m[1]}:`) },
  { re: /<t:(-?\d{1,13})(?::([tTdDfFR]))?>/y, build: (m) => timestamp(m[1], m[2]) },
  { re: /<(https?:\/\/[^\s<>]+)>/y, build: (m, ctx) => autolink(m[1], ctx) },
  { re: /\[([^\[\]\n]{1,256})\]\(\s*<?([^\s()<>]+)>?\s*\)/y, build: maskedLink },
  { re: /https?:\/\/[^\s<]+[^\s<.,:;"')\]!?]/y, build: (m, ctx) => autolink(m[0], ctx) },
  { re: /\*\*([\s\S]+?)\*\*(?!\*)/y, build: wrap("strong") },
  { re: /__([\s\S]+?)__(?!_)/y, build: wrap("u") },
  { re: /~~([\s\S]+?)~~/y, build: wrap("s") },
  { re: /\|\|([\s\S]+?)\|\|/y, build: spoiler },
  { re: /\*(?=\S)([\s\S]*?\S)\*(?!\*)/y, build: wrap("em") },
  { re: /_(?=\S)([\s\S]*?\S)_(?![A-Za-z0-9_])/y, build: wrap("em") },
];

// Characters where an inline rule may start; anything else is plain text (the fast path).
const STARTERS = new Set(["\\", "`", "<", "[", "h", "*", "_", "~", "|", "@"]);

// renderMarkdown(text, {mention(id) → name|null, channel(id) → name|null, role(id) → name|null,
// onChannel(id)}) → DocumentFragment
export function renderMarkdown(source, ctx = {}) {
  const fragment = document.createDocumentFragment();
  const input = String(source ?? "");
  try {
    if (input.length > MAX_CHARS) fragment.append(text(input));
    else fragment.append(...blocks(input, ctx));
  } catch {
    // A parser bug must not lose the message: show it as it was typed.
    while (fragment.firstChild) fragment.firstChild.remove();
    fragment.append(text(input));
  }
  return fragment;
}

// Block level: fenced code blocks, then quotes, with everything else inline.
function blocks(input, ctx) {
  const out = [];
  const fence = /```(?:([\w+#.-]{1,32})\n)?\n?([\s\S]*?)```/g;
  let last = 0;
  for (let m = fence.exec(input); m; m = fence.exec(input)) {
    if (m[0].length <= 6 && !m[2]) continue; // "``````" is not a block
    if (m.index > last) out.push(...quotes(input.slice(last, m.index), ctx));
    out.push(codeBlock(m[2], m[1]));
    last = fence.lastIndex;
  }
  if (last < input.length) out.push(...quotes(input.slice(last), ctx));
  return out;
}

// "> line" quotes a line; ">>> " quotes the rest of the text.
function quotes(segment, ctx) {
  const out = [];
  const lines = segment.split("\n");
  let plain = [];
  let quoted = [];
  const flushPlain = () => {
    if (plain.length) out.push(...inline(plain.join("\n"), ctx, 0));
    plain = [];
  };
  const flushQuote = () => {
    if (quoted.length) out.push(quote(quoted.join("\n"), ctx));
    quoted = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith(">>> ")) {
      flushPlain();
      quoted.push(line.slice(4), ...lines.slice(i + 1));
      break;
    }
    if (line.startsWith("> ") || line === ">") {
      flushPlain();
      quoted.push(line.slice(2));
    } else {
      flushQuote();
      plain.push(line);
    }
  }
  flushQuote();
  flushPlain();
  return out;
}

function quote(body, ctx) {
  const el = document.createElement("blockquote");
  el.append(...inline(body, ctx, 1));
  return el;
}

function codeBlock(body, lang) {
  const pre = document.createElement("pre");
  const el = document.createElement("code");
  if (lang) el.dataset.lang = lang;
  el.append(text(body.replace(/\n$/, "")));
  pre.append(el);
  return pre;
}

// Inline: a scan that tries each rule where one may start and collects plain text between.
function inline(input, ctx, depth) {
  if (depth > MAX_DEPTH) return [text(input)];
  const out = [];
  let plain = "";
  let i = 0;
  while (i < input.length) {
    const ch = input[i];
    const found = STARTERS.has(ch) ? match(input, i, ctx, depth) : null;
    if (found) {
      if (plain) out.push(text(plain));
      plain = "";
      out.push(found.node);
      i = found.end;
    } else {
      plain += ch;
      i += 1;
    }
  }
  if (plain) out.push(text(plain));
  return out;
}

function match(input, at, ctx, depth) {
  if (input[at] === "`") return codeSpan(input, at);
  for (const rule of INLINE) {
    rule.re.lastIndex = at;
    const m = rule.re.exec(input);
    if (!m) continue;
    const node = rule.build(m, ctx, depth);
    if (node) return { node, end: at + m[0].length };
  }
  return null;
}

function wrap(tag) {
  return (m, ctx, depth) => {
    const el = document.createElement(tag);
    el.append(...inline(m[1], ctx, depth + 1));
    return el;
  };
}

function spoiler(m, ctx, depth) {
  const el = document.createElement("span");
  el.className = "spoiler";
  el.setAttribute("role", "button");
  el.setAttribute("tabindex", "0");
  el.setAttribute("aria-expanded", "false");
  el.setAttribute("aria-label", "Spoiler, activate to reveal");
  const reveal = (event) => {
    if (event.type === "keydown" && event.key !== "Enter" && event.key !== " ") return;
    if (el.classList.contains("revealed")) return;
    event.preventDefault();
    event.stopPropagation();
    el.classList.add("revealed");
    el.setAttribute("aria-expanded", "true");
    el.removeAttribute("aria-label");
  };
  el.addEventListener("click", reveal);
  el.addEventListener("keydown", reveal);
  el.append(...inline(m[1], ctx, depth + 1));
  return el;
}

// `code`, ``co`de``: a run of n backticks closes at the next run of exactly n. An unclosed run
// is skipped whole as text (trying each shorter run would be cubic on a line of backticks).
function codeSpan(input, at) {
  let n = 0;
  while (input[at + n] === "`") n += 1;
  let search = at + n;
  for (;;) {
    const start = input.indexOf("`", search);
    if (start < 0) return { node: text(input.slice(at, at + n)), end: at + n };
    let run = 0;
    while (input[start + run] === "`") run += 1;
    if (run === n && start > at + n) return { node: code(input.slice(at + n, start)), end: start + n };
    search = start + run;
  }
}

function autolink(url, ctx) {
  return ctx.noLinks ? null : link(url, [text(url)]);
}

function maskedLink(m, ctx, depth) {
  if (ctx.noLinks) return null;
  const href = webHref(m[2]);
  if (!href) return null; // not a web link: the brackets stay literal text
  return link(href, inline(m[1], { ...ctx, noLinks: true }, depth + 1));
}

// A link only to http(s); anything else (javascript:, data:, relative) is text.
function link(url, children) {
  const href = webHref(url);
  if (!href) return null;
  const a = document.createElement("a");
  a.setAttribute("href", href);
  a.setAttribute("rel", LINK_REL);
  a.setAttribute("target", "_blank");
  a.append(...children);
  return a;
}

function webHref(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

function userMention(id, ctx) {
  const name = safeCall(ctx.mention, id);
  const el = chip("@", name ?? "unknown-user", "user");
  el.dataset.userId = id;
  return el;
}

function channelMention(id, ctx) {
  const name = safeCall(ctx.channel, id);
  const el = chip("#", name ?? "unknown-channel", "channel");
  el.dataset.channelId = id;
  if (name && ctx.onChannel) {
    el.setAttribute("role", "link");
    el.setAttribute("tabindex", "0");
    const go = (event) => {
      if (event.type === "keydown" && event.key !== "Enter") return;
      ctx.onChannel(id);
    };
    el.addEventListener("click", go);
    el.addEventListener("keydown", go);
  }
  return el;
}

function chip(prefix, name, kind) {
  const el = document.createElement("span");
  el.className = `mention mention-${kind}`;
  el.append(text(prefix + name));
  return el;
}

function safeCall(fn, id) {
  try {
    const value = fn ? fn(id) : null;
    return value == null ? null : String(value);
  } catch {
    return null;
  }
}

const TIME_STYLES = {
  t: { timeStyle: "short" },
  T: { timeStyle: "medium" },
  d: { dateStyle: "short" },
  D: { dateStyle: "long" },
  f: { dateStyle: "long", timeStyle: "short" },
  F: { dateStyle: "full", timeStyle: "short" },
};

function timestamp(seconds, style = "f") {
  const date = new Date(Number(seconds) * 1000);
  if (Number.isNaN(date.getTime())) return null;
  const el = document.createElement("time");
  el.className = "md-time";
  el.setAttribute("datetime", date.toISOString());
  el.append(text(style === "R" ? relative(date) : formatDate(date, TIME_STYLES[style])));
  return el;
}

function formatDate(date, options) {
  return new Intl.DateTimeFormat(undefined, options).format(date);
}

function relative(date) {
  const seconds = (date.getTime() - Date.now()) / 1000;
  const units = [
    ["year", 31_536_000],
    ["month", 2_592_000],
    ["day", 86_400],
    ["hour", 3_600],
    ["minute", 60],
    ["second", 1],
  ];
  const [unit, size] = units.find(([, s]) => Math.abs(seconds) >= s) ?? units[units.length - 1];
  return new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }).format(
    Math.round(seconds / size),
    unit,
  );
}

function code(body) {
  const el = document.createElement("code");
  el.className = "inline-code";
  el.append(text(body.trim() ? body.replace(/^ (.*) $/s, "$1") : body));
  return el;
}

function text(value) {
  return document.createTextNode(value);
}
