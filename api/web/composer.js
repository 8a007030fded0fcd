// The composer: a growing textarea (Enter sends, Shift+Enter breaks the line, Up edits your
// last message), the reply bar, files to attach (button, paste, drop), the typing signal, and
// an autocomplete list for @mentions and slash commands.
import { request } from "./api.js";
import { h, replace } from "./dom.js";
import { fit, icon, size } from "./message.js";

const TYPING_EVERY_MS = 8_000;
const MAX_SUGGESTIONS = 8;

let commands = null; // community's commands.js, once it loads (slash commands need it)
import("./commands.js")
  .then((module) => {
    commands = module;
  })
  .catch(() => {});

// options: {channelId, placeholder, canSend, members() → [{id, name, username}],
// send({content, files, replyTo}), editLast() → bool (whether there was one to edit),
// toPresent() (before a command runs: brings the view to the newest)}.
// A line "/name …" naming a command of this channel's bots runs it (commands.js) instead.
export function createComposer(options) {
  let replyTo = null;
  let files = [];
  let lastTyping = 0;
  let suggestions = [];
  let active = -1;
  let suggestToken = 0;

  const input = h("textarea", {
    class: "composer-input",
    rows: 1,
    attrs: {
      "data-testid": "composer-input",
      // ARIA 1.2's combobox: the textarea keeps the focus; the listbox it controls shows the
      // suggestions, the active one named by aria-activedescendant.
      role: "combobox",
      "aria-haspopup": "listbox",
      "aria-autocomplete": "list",
      "aria-controls": `autocomplete-${options.channelId}`,
      "aria-expanded": "false",
    },
  });
  const list = h("ul", {
    class: "autocomplete",
    id: `autocomplete-${options.channelId}`,
    hidden: true,
    attrs: { role: "listbox", "aria-label": "Suggestions", "data-testid": "autocomplete" },
  });
  const replyBar = h("div", { class: "reply-bar", hidden: true, attrs: { "data-testid": "reply-bar" } });
  const fileBar = h("div", { class: "file-bar", hidden: true });
  const fileInput = h("input", {
    type: "file",
    multiple: true,
    class: "visually-hidden",
    tabIndex: -1,
    attrs: { "data-testid": "file-input", "aria-hidden": "true" },
    on: { change: () => addFiles(fileInput.files) },
  });
  const attach = h(
    "button",
    {
      type: "button",
      class: "icon-button attach-button",
      title: "Attach files",
      attrs: { "aria-label": "Attach files", "data-testid": "attach-button" },
      on: { click: () => fileInput.click() },
    },
    "+",
  );
  const sendButton = h(
    "button",
    {
      type: "button",
      class: "icon-button send-button",
      attrs: { "aria-label": "Send message", "data-testid": "send-button" },
      on: { click: () => submit() },
    },
    icon("send"),
  );
  const el = h(
    "form",
    { class: "composer", on: { submit: (event) => event.preventDefault() } },
    list,
    replyBar,
    fileBar,
    h(
      "div",
      { class: "composer-row" },
      attach,
      fileInput,
      input,
      sendButton, // phones: Enter on a touch keyboard may be wanted for new lines
    ),
  );

  // The channel's name and the person's permissions may only be known after the first render.
  function setAllowed(canSend, placeholder) {
    input.placeholder = canSend ? placeholder : "You can't send messages in this channel.";
    input.setAttribute("aria-label", placeholder);
    for (const control of [input, attach, sendButton]) control.disabled = !canSend;
  }
  setAllowed(options.canSend, options.placeholder);

  input.addEventListener("keydown", onKey);
  input.addEventListener("input", onInput);
  // Closed when the focus has gone elsewhere (picking a suggestion keeps it: its mousedown is
  // prevented); checked late, as a blur may be followed by the focus coming straight back.
  input.addEventListener("blur", () => setTimeout(() => {
    if (document.activeElement !== input) closeList();
  }, 150));
  input.addEventListener("paste", (event) => {
    if (event.clipboardData?.files?.length) {
      event.preventDefault();
      addFiles(event.clipboardData.files);
    }
  });
  el.addEventListener("dragover", (event) => event.preventDefault());
  el.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer?.files?.length) addFiles(event.dataTransfer.files);
  });

  function onKey(event) {
    if (!list.hidden && suggestions.length) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        highlight((active + (event.key === "ArrowDown" ? 1 : -1) + suggestions.length) % suggestions.length);
        return;
      }
      if ((event.key === "Enter" || event.key === "Tab") && active >= 0) {
        event.preventDefault();
        choose(suggestions[active]);
        return;
      }
      if (event.key === "Escape") {
        event.preventDefault();
        closeList();
        return;
      }
    }
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    } else if (event.key === "Escape" && replyTo) {
      event.preventDefault();
      setReply(null);
    } else if (event.key === "ArrowUp" && !input.value && !files.length) {
      if (options.editLast()) event.preventDefault();
    }
  }

  function onInput() {
    fit(input);
    const now = Date.now();
    // Discord's clients signal typing at most every 8 s (the indicator lasts 10 s).
    if (input.value.trim() && !input.value.startsWith("/") && now - lastTyping > TYPING_EVERY_MS) {
      lastTyping = now;
      request("POST", `/channels/${encodeURIComponent(options.channelId)}/typing`).catch(() => {});
    }
    suggest();
  }

  async function submit() {
    const content = input.value;
    if (!content.trim() && !files.length) return;
    if (content.startsWith("/") && !files.length && (await isCommand(content))) {
      clearInput();
      try {
        await options.toPresent?.();
        await commands.runCommand(options.channelId, content.trim());
      } catch {
        input.value = content; // runCommand has said what was wrong: give the line back to fix
      }
      return;
    }
    options.send({ content, files, replyTo });
    clearInput();
    setReply(null);
    lastTyping = 0;
  }

  // "/name …" runs a command only when a bot here offers /name; else it is a message.
  async function isCommand(content) {
    if (!commands?.runCommand || !commands.commandSuggestions) return false;
    const name = content.trim().split(/\s/)[0];
    try {
      const found = await commands.commandSuggestions(options.channelId, name);
      return (found || []).some((s) => s.label === name);
    } catch {
      return false;
    }
  }

  function clearInput() {
    input.value = "";
    files = [];
    renderFiles();
    fit(input);
    closeList();
  }

  function addFiles(found) {
    files = [...files, ...Array.from(found)].slice(0, 10);
    fileInput.value = "";
    renderFiles();
    input.focus();
  }

  function renderFiles() {
    fileBar.hidden = !files.length;
    replace(
      fileBar,
      files.map((file, index) =>
        h(
          "span",
          { class: "file-chip" },
          h("span", { class: "file-name" }, file.name),
          h("span", { class: "file-size" }, size(file.size)),
          h(
            "button",
            {
              type: "button",
              class: "icon-button",
              attrs: { "aria-label": `Remove ${file.name}` },
              on: {
                click: () => {
                  files = files.filter((_, i) => i !== index);
                  renderFiles();
                },
              },
            },
            "×",
          ),
        ),
      ),
    );
  }

  // message: the one to answer, or null.
  function setReply(message) {
    replyTo = message;
    replyBar.hidden = !message;
    if (!message) return replace(replyBar);
    replace(
      replyBar,
      h("span", {}, "Replying to ", h("strong", {}, message.authorName)),
      h(
        "button",
        {
          type: "button",
          class: "icon-button",
          attrs: { "aria-label": "Cancel reply", "data-testid": "cancel-reply" },
          on: { click: () => setReply(null) },
        },
        "×",
      ),
    );
    input.focus();
  }

  // The word being typed: "@ad" → member suggestions; a line starting "/" → commands.
  async function suggest() {
    const token = ++suggestToken;
    const text = input.value;
    const caret = input.selectionStart ?? text.length;
    if (text.startsWith("/") && commands?.commandSuggestions) {
      let found = [];
      try {
        found = await commands.commandSuggestions(options.channelId, text);
      } catch {
        found = [];
      }
      if (token !== suggestToken) return;
      return show((found || []).slice(0, MAX_SUGGESTIONS).map((s) => ({ ...s, kind: "command" })));
    }
    const word = /(^|\s)@([^\s@]{0,32})$/.exec(text.slice(0, caret));
    if (!word) return closeList();
    const query = word[2].toLowerCase();
    const start = caret - word[2].length - 1;
    const matches = options
      .members()
      .filter((m) => m.name.toLowerCase().startsWith(query) || m.username.toLowerCase().startsWith(query))
      .slice(0, MAX_SUGGESTIONS)
      .map((m) => ({
        kind: "mention",
        label: m.name,
        description: m.username !== m.name ? m.username : "",
        insert: `<@${m.id}> `,
        start,
        end: caret,
      }));
    show(matches);
  }

  function show(found) {
    suggestions = found;
    if (!found.length) return closeList();
    replace(
      list,
      found.map((s, index) =>
        h(
          "li",
          {
            id: `suggestion-${options.channelId}-${index}`,
            class: "suggestion",
            attrs: { role: "option", "aria-selected": "false" },
            on: {
              mousedown: (event) => event.preventDefault(), // keep the textarea's focus
              click: () => choose(s),
            },
          },
          h("span", { class: "suggestion-label" }, s.kind === "mention" ? `@${s.label}` : s.label),
          s.description ? h("span", { class: "suggestion-description" }, s.description) : null,
        ),
      ),
    );
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    highlight(0);
  }

  function highlight(index) {
    active = index;
    list.querySelectorAll("[role=option]").forEach((option, i) => {
      option.setAttribute("aria-selected", i === index ? "true" : "false");
      if (i === index) {
        input.setAttribute("aria-activedescendant", option.id);
        option.scrollIntoView({ block: "nearest" });
      }
    });
  }

  function choose(s) {
    if (s.kind === "mention") {
      input.value = input.value.slice(0, s.start) + s.insert + input.value.slice(s.end);
      const caret = s.start + s.insert.length;
      input.setSelectionRange(caret, caret);
    } else {
      input.value = s.insert ?? s.label;
    }
    closeList();
    input.focus();
    fit(input);
    if (s.kind === "command") suggest();
  }

  function closeList() {
    suggestions = [];
    active = -1;
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    replace(list);
  }

  return {
    el,
    focus: () => input.focus(),
    setAllowed,
    setReply,
    get replyTo() {
      return replyTo;
    },
  };
}
