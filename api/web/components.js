// A bot message's interactive parts: action rows of buttons and string selects. A click or a
// choice is an interaction (type 3) the bot answers, usually by editing the message.
import { h, safeHref } from "./dom.js";
import { showError } from "./toast.js";
import { interact } from "./commands.js";

const TYPE = { ACTION_ROW: 1, BUTTON: 2, STRING_SELECT: 3 };
const STYLE = { 1: "primary", 2: "secondary", 3: "success", 4: "danger", 5: "link" };

export function renderComponents(message) {
  const rows = (message?.components ?? []).filter((row) => row?.type === TYPE.ACTION_ROW);
  if (!rows.length) return null;
  return h("div", { class: "components", dataset: { testid: "components" } },
    rows.map((row) => h("div", { class: "component-row", attrs: { role: "group" } },
      (row.components ?? []).map((component) => renderOne(message, component)))));
}

function renderOne(message, component) {
  if (component.type === TYPE.BUTTON) return button(message, component);
  if (component.type === TYPE.STRING_SELECT) return select(message, component);
  return null; // other kinds (user/role selects…) are not offered by this client yet
}

function label(component) {
  const emoji = component.emoji?.name && !component.emoji.id ? `${component.emoji.name} ` : "";
  return `${emoji}${component.label ?? ""}`.trim() || "…";
}

function button(message, component) {
  const style = STYLE[component.style] ?? "secondary";
  if (component.style === 5) {
    // A link button opens its web address only; anything else is shown disabled.
    const href = safeHref(component.url);
    return h(href ? "a" : "span", {
      class: `component-button ${style}${href ? "" : " disabled"}`,
      dataset: { testid: "component-link" },
      attrs: href && !component.disabled
        ? { href, target: "_blank", rel: "noopener noreferrer nofollow" }
        : { "aria-disabled": "true" },
    }, label(component), h("span", { class: "external", attrs: { "aria-hidden": "true" } }, " ↗"));
  }
  if (component.style === 6) return null; // premium buttons: nothing to buy here
  const el = h("button", {
    type: "button",
    class: `component-button ${style}`,
    disabled: Boolean(component.disabled),
    dataset: { testid: "component-button", customId: component.custom_id ?? "" },
    on: { click: () => send(message, el, { component_type: TYPE.BUTTON, custom_id: component.custom_id }) },
  }, label(component));
  return el;
}

function select(message, component) {
  const many = (component.max_values ?? 1) > 1;
  const options = (component.options ?? []).map((option) => h("option", {
    value: option.value,
    selected: Boolean(option.default),
    title: option.description ?? "",
  }, option.label));
  const el = h("select", {
    class: "component-select",
    multiple: many,
    disabled: Boolean(component.disabled),
    dataset: { testid: "component-select", customId: component.custom_id ?? "" },
    attrs: { "aria-label": component.placeholder || "Choose" },
  },
  many ? null : h("option", { value: "", disabled: true, selected: !options.some((o) => o.selected) },
    component.placeholder || "Make a selection"),
  options);
  const choose = () => {
    const values = [...el.selectedOptions].map((o) => o.value).filter(Boolean);
    if (values.length < (component.min_values ?? 1)) return;
    send(message, el, { component_type: TYPE.STRING_SELECT, custom_id: component.custom_id, values });
  };
  if (!many) {
    el.addEventListener("change", choose);
    return el;
  }
  return h("span", { class: "component-multi" }, el,
    h("button", { type: "button", class: "component-button secondary", on: { click: choose } }, "Choose"));
}

async function send(message, el, data) {
  const applicationId = message.application_id ?? message.interaction_metadata?.application_id
    ?? message.author?.id;
  const botName = message.author?.global_name || message.author?.username || "The application";
  el.disabled = true;
  el.setAttribute("aria-busy", "true");
  try {
    const { answered } = await interact({
      type: 3,
      application_id: applicationId,
      channel_id: message.channel_id,
      message_id: message.id,
      message_flags: message.flags ?? 0,
      data,
    }, botName);
    await answered;
  } catch (error) {
    showError(error);
  } finally {
    // (The bot's edit usually replaces this element; if not, it is usable again.)
    el.disabled = false;
    el.removeAttribute("aria-busy");
  }
}

// (Exported for message.js, which may want to know whether a message has anything to click.)
export function hasComponents(message) {
  return (message?.components ?? []).some((row) => row?.type === TYPE.ACTION_ROW);
}
