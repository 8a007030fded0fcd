// Building DOM nodes from data. Everything a person typed goes in as a text node, so no string
// ever becomes markup (see the design: no HTML-from-string APIs anywhere in the client).

// Only web links may become hrefs; anything else (javascript:, data:, relative) is refused.
export function safeHref(url) {
  try {
    const parsed = new URL(String(url), location.href);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

function append(el, child) {
  if (child === null || child === undefined || child === false || child === true) return;
  if (Array.isArray(child)) {
    for (const c of child) append(el, c);
  } else if (child instanceof Node) {
    el.append(child);
  } else {
    el.append(document.createTextNode(String(child)));
  }
}

// Properties that would parse markup (any …HTML), load a document or style from a string, or
// attach a handler from one: never set from props.
function safeProp(key) {
  const lower = key.toLowerCase();
  return !lower.endsWith("html") && lower !== "srcdoc" && lower !== "style" && !lower.startsWith("on");
}

// h("button", {class: "x", on: {click: fn}, dataset: {id}, attrs: {"aria-label": "…"}}, "text")
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null) continue;
    if (key === "class") el.className = value;
    else if (key === "on") for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "attrs") setAttrs(el, value);
    else if (!safeProp(key)) console.warn(`property refused: ${key}`);
    else if (key === "href" || key === "src") {
      const href = safeHref(value);
      if (href) el[key] = href;
    } else el[key] = value;
  }
  append(el, children);
  return el;
}

// Attributes views may set: ARIA, data-*, and plain ones that cannot load or run anything.
// href and src go through safeHref (web links only); style, srcdoc, on* and the rest are
// refused, so no call site can turn data into script or styling by mistake.
const PLAIN_ATTRS = new Set([
  "role", "title", "id", "for", "rel", "target", "download", "datetime", "tabindex", "placeholder",
  "method", "type", "name", "lang", "dir", "alt", "width", "height", "hidden", "disabled",
  "autocomplete", "spellcheck", "inputmode", "enterkeyhint", "maxlength", "minlength", "min",
  "max", "step", "value", "accept", "multiple", "readonly", "required", "draggable", "colspan",
  "rowspan", "scope", "loading", "decoding", "referrerpolicy", "translate", "popover", "open",
  "cols", "rows", "wrap", "pattern", "list", "form", "start", "reversed", "checked", "selected",
]);
const LINK_ATTRS = new Set(["href", "src"]);

export function allowedAttr(name) {
  const lower = String(name).toLowerCase();
  return PLAIN_ATTRS.has(lower) || LINK_ATTRS.has(lower) || /^aria-[a-z]+$/.test(lower) || /^data-[a-z0-9-]+$/.test(lower);
}

function setAttrs(el, attrs) {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    const lower = name.toLowerCase();
    if (!allowedAttr(lower)) {
      console.warn(`attribute refused: ${name}`);
    } else if (LINK_ATTRS.has(lower)) {
      const href = safeHref(value);
      if (href) el.setAttribute(lower, href);
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function replace(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

// An in-app link: a real <a href> (middle-click, copy link work) that navigates without a load.
export function appLink(path, props, ...children) {
  const link = h("a", props, ...children);
  link.setAttribute("href", path);
  link.addEventListener("click", (event) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    link.dispatchEvent(new CustomEvent("app-navigate", { bubbles: true, detail: path }));
  });
  return link;
}

// Re-renders `el` through `draw()` and puts keyboard focus back on the element that stands for
// the same thing (same channel, guild or test id), so live updates never steal a Tab position.
export function redraw(el, draw) {
  const active = document.activeElement;
  const selector = active && active !== el && el.contains(active) ? focusSelector(active) : null;
  draw();
  if (selector) el.querySelector(selector)?.focus({ preventScroll: true });
}

function focusSelector(node) {
  const { channelId, guildId, testid } = node.dataset || {};
  const parts = [];
  if (testid) parts.push(`[data-testid="${CSS.escape(testid)}"]`);
  if (channelId) parts.push(`[data-channel-id="${CSS.escape(channelId)}"]`);
  if (guildId) parts.push(`[data-guild-id="${CSS.escape(guildId)}"]`);
  return parts.length ? parts.join("") : null;
}
