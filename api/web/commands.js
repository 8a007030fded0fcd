// Slash commands: what the channel's bots offer (for the composer's autocomplete), running one
// typed as `/name option:value …`, and every interaction's round trip (commands, component
// clicks and modal submissions all go through `interact`).
import { h } from "./dom.js";
import { request, ApiError } from "./api.js";
import { state, subscribe } from "./store.js";
import { showError } from "./toast.js";
import { gateway } from "./app.js";
// Modals answer commands and clicks: listening from here covers every way one can come.
import "./modals.js";

const INDEX_TTL_MS = 60_000;
// The server fails an unanswered interaction after 3 s (INTERACTION_FAILURE); this is the
// client's own limit, should that dispatch never come (a worker down).
const ANSWER_WAIT_MS = 8_000;

const OPTION = { SUB_COMMAND: 1, SUB_COMMAND_GROUP: 2, STRING: 3, INTEGER: 4, BOOLEAN: 5, USER: 6,
  CHANNEL: 7, ROLE: 8, MENTIONABLE: 9, NUMBER: 10 };

const indexes = new Map(); // channelId → {at, promise}

function commandIndex(channelId) {
  const cached = indexes.get(channelId);
  if (cached && Date.now() - cached.at < INDEX_TTL_MS) return cached.promise;
  const promise = request("GET", `/channels/${encodeURIComponent(channelId)}/application-command-index`)
    .catch((error) => { indexes.delete(channelId); throw error; });
  indexes.set(channelId, { at: Date.now(), promise });
  return promise;
}

function appName(index, command) {
  return index.applications?.find((a) => a.id === command.application_id)?.name ?? "A bot";
}

/** The composer's suggestions for `text` (starting with "/"): commands, then their options. */
export async function commandSuggestions(channelId, text) {
  if (!text.startsWith("/")) return [];
  let index;
  try {
    index = await commandIndex(channelId);
  } catch {
    return [];
  }
  const commands = (index.application_commands ?? []).filter((c) => c.type === 1 || c.type === undefined);
  const typed = text.slice(1);
  const space = typed.search(/\s/);
  if (space < 0) {
    const prefix = typed.toLowerCase();
    return commands
      .filter((c) => c.name.startsWith(prefix))
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((command) => ({
        label: `/${command.name}`,
        description: `${command.description || ""} · ${appName(index, command)}`,
        insert: `/${command.name} `,
        command,
      }));
  }
  // After the name: the options not given yet, filtered by the word being typed.
  const command = commands.find((c) => c.name === typed.slice(0, space));
  if (!command) return [];
  const { options } = leafOf(command, typed.slice(space + 1));
  const partial = text.match(/(\S*)$/)[1];
  if (partial.includes(":")) return choicesFor(command, options, text, partial);
  const given = new Set([...text.matchAll(/(?:^|\s)([\w-]+):/g)].map((m) => m[1]));
  const before = text.slice(0, text.length - partial.length);
  return options
    .filter((o) => o.type > OPTION.SUB_COMMAND_GROUP && !given.has(o.name) && o.name.startsWith(partial))
    .map((option) => ({
      label: `${option.name}:`,
      description: `${option.description || ""}${option.required ? " (required)" : ""}`,
      insert: `${before}${option.name}:`,
      command,
    }));
}

// `name:ab`: the option's choices starting with "ab", when it has a fixed list.
function choicesFor(command, options, text, partial) {
  const [name, typed] = [partial.slice(0, partial.indexOf(":")), partial.slice(partial.indexOf(":") + 1)];
  const option = options.find((o) => o.name === name);
  const before = text.slice(0, text.length - typed.length);
  return (option?.choices ?? [])
    .filter((c) => c.name.toLowerCase().startsWith(typed.toLowerCase()) && c.name !== typed)
    .map((choice) => ({ label: choice.name, description: option.description || "", insert: `${before}${choice.name} `, command }));
}

// A command with subcommands: the words after its name choose the leaf whose options apply.
function leafOf(command, rest) {
  const words = rest.trim().split(/\s+/);
  let options = command.options ?? [];
  const path = [];
  for (const word of words) {
    const sub = options.find((o) => o.type <= OPTION.SUB_COMMAND_GROUP && o.name === word);
    if (!sub) break;
    path.push(sub);
    options = sub.options ?? [];
  }
  return { options, path };
}

function guildOf(channelId) {
  for (const guild of state.guilds?.values?.() ?? []) {
    if (guild.channels?.has?.(channelId)) return guild.id;
  }
  return null;
}

/** Parses `/name opt:value …` against the command and invokes it. */
export async function runCommand(channelId, text) {
  try {
    const index = await commandIndex(channelId);
    const name = text.slice(1).split(/\s/)[0];
    const command = (index.application_commands ?? []).find((c) => c.name === name);
    if (!command) throw new Error(`No command /${name} here.`);
    const rest = text.slice(1 + name.length);
    const { options: specs, path } = leafOf(command, rest);
    let remaining = rest.trim();
    for (const sub of path) remaining = remaining.slice(sub.name.length).trim();
    let options = parseOptions(specs, remaining, channelId);
    for (const sub of [...path].reverse()) options = [{ type: sub.type, name: sub.name, options }];
    await interact({
      type: 2,
      application_id: command.application_id,
      channel_id: channelId,
      data: { id: command.id, name: command.name, type: command.type ?? 1, version: command.version, options },
    }, appName(index, command));
  } catch (error) {
    showError(error);
    throw error;
  }
}

// `a:1 b:two words c:"quoted"`: each known option name followed by a colon starts a value,
// which runs until the next one.
function parseOptions(specs, text, channelId) {
  const names = specs.map((s) => s.name.replace(/[-]/g, "\\-")).join("|");
  const found = new Map();
  if (names) {
    const starts = [...text.matchAll(new RegExp(`(?:^|\\s)(${names}):`, "g"))];
    starts.forEach((match, i) => {
      const from = match.index + match[0].length;
      const to = i + 1 < starts.length ? starts[i + 1].index : text.length;
      found.set(match[1], text.slice(from, to).trim().replace(/^"(.*)"$/s, "$1"));
    });
  } else if (text) {
    throw new Error("This command takes no options.");
  }
  if (names && text && found.size === 0) {
    // A lone value: it goes to the first option, the way people often type it.
    found.set(specs[0].name, text.replace(/^"(.*)"$/s, "$1"));
  }
  const options = [];
  for (const spec of specs) {
    const raw = found.get(spec.name);
    if (raw === undefined || raw === "") {
      if (spec.required) throw new Error(`/${spec.name} is required: add ${spec.name}:value`);
      continue;
    }
    options.push({ type: spec.type, name: spec.name, value: convert(spec, raw, channelId) });
  }
  return options;
}

function convert(spec, raw, channelId) {
  const choice = spec.choices?.find((c) => c.name.toLowerCase() === raw.toLowerCase() || String(c.value) === raw);
  if (spec.choices?.length && !choice) {
    throw new Error(`${spec.name} must be one of: ${spec.choices.map((c) => c.name).join(", ")}`);
  }
  if (choice) return choice.value;
  switch (spec.type) {
    case OPTION.INTEGER: {
      if (!/^-?\d+$/.test(raw)) throw new Error(`${spec.name} must be a whole number.`);
      return Number(raw);
    }
    case OPTION.NUMBER: {
      const value = Number(raw);
      if (!Number.isFinite(value)) throw new Error(`${spec.name} must be a number.`);
      return value;
    }
    case OPTION.BOOLEAN: {
      const word = raw.toLowerCase();
      if (["true", "yes", "1", "on"].includes(word)) return true;
      if (["false", "no", "0", "off"].includes(word)) return false;
      throw new Error(`${spec.name} must be true or false.`);
    }
    case OPTION.USER: case OPTION.MENTIONABLE: case OPTION.ROLE: case OPTION.CHANNEL:
      return idOf(spec, raw, channelId);
    default:
      return raw;
  }
}

// <@id>, <@!id>, <@&id>, <#id>, a bare id, or @username of someone in this guild.
function idOf(spec, raw, channelId) {
  const mention = raw.match(/^<(?:@[!&]?|#)(\d+)>$/) ?? raw.match(/^(\d{5,20})$/);
  if (mention) return mention[1];
  const wanted = raw.replace(/^@/, "").toLowerCase();
  const guild = state.guilds?.get?.(guildOf(channelId));
  for (const member of guild?.members?.values?.() ?? []) {
    const user = member.user ?? {};
    if ([user.username, user.global_name, member.nick].some((n) => n?.toLowerCase() === wanted)) return user.id;
  }
  throw new Error(`${spec.name}: mention someone (@name) or paste an id.`);
}

// Pending interactions by nonce, and the "thinking" note shown while one waits.
const pending = new Map(); // nonce → {resolve, note, timer}
let listening = false;
// The nonces this tab sent lately. Every tab of the person gets each interaction's dispatches
// (a modal among them); only the tab that asked answers. Kept past `pending`, whose entry the
// modal's own dispatch may end before modals.js sees it.
const sent = new Set();
const SENT_KEPT = 50;

/** Whether `nonce` is an interaction this tab sent (so its modal is this tab's to show). */
export function sentHere(nonce) {
  return nonce !== undefined && nonce !== null && sent.has(String(nonce));
}

/** Forgets a nonce once its modal is shown: it opens once. */
export function forgetSent(nonce) {
  sent.delete(String(nonce));
}

function noteSent(nonce) {
  sent.add(nonce);
  if (sent.size > SENT_KEPT) sent.delete(sent.values().next().value);
}

function listen() {
  if (listening) return;
  listening = true;
  subscribe("dispatch", ({ t, d }) => {
    const waiting = d && pending.get(d.nonce);
    if (!waiting) return;
    if (t === "INTERACTION_SUCCESS" || t === "INTERACTION_MODAL_CREATE" || t === "MESSAGE_CREATE") {
      finish(d.nonce, true);
    } else if (t === "INTERACTION_FAILURE") {
      finish(d.nonce, false);
    }
  });
}

function finish(nonce, answered) {
  const waiting = pending.get(nonce);
  if (!waiting) return;
  pending.delete(nonce);
  clearTimeout(waiting.timer);
  if (answered) {
    waiting.note.remove();
  } else {
    waiting.note.textContent = "The application did not respond";
    waiting.note.classList.add("failed");
    waiting.note.setAttribute("role", "alert");
    setTimeout(() => waiting.note.remove(), 6000);
  }
  waiting.resolve(answered);
}

function thinkingArea() {
  let area = document.getElementById("interaction-notes");
  if (!area) {
    area = h("div", { id: "interaction-notes", class: "interaction-notes", attrs: { role: "status", "aria-live": "polite" } });
    document.body.append(area);
  }
  return area;
}

export function newNonce() {
  // A snowflake-shaped number made from the clock: unique enough per tab, ≤ 25 characters.
  return String((BigInt(Date.now() - 1420070400000) << 22n) | BigInt(Math.floor(Math.random() * 4194304)));
}

/** POSTs an interaction; resolves once the server took it, with `answered`: a promise of
 * whether the bot answered (false once it failed or took too long). */
export async function interact(body, botName = "The application") {
  listen();
  const nonce = newNonce();
  noteSent(nonce);
  const full = { ...body, nonce, session_id: gateway.sessionId ?? undefined, guild_id: guildOf(body.channel_id) ?? undefined };
  const note = h("div", { class: "interaction-note", dataset: { testid: "interaction-thinking", nonce } },
    h("span", { class: "dots", attrs: { "aria-hidden": "true" } }), `${botName} is thinking…`);
  const answered = new Promise((resolve) => {
    const timer = setTimeout(() => finish(nonce, false), ANSWER_WAIT_MS);
    pending.set(nonce, { resolve, note, timer });
  });
  thinkingArea().append(note);
  try {
    await request("POST", "/interactions", { json: full });
  } catch (error) {
    const waiting = pending.get(nonce);
    pending.delete(nonce);
    clearTimeout(waiting?.timer);
    note.remove();
    throw error instanceof ApiError ? error : new Error(String(error?.message ?? error));
  }
  return { answered };
}
