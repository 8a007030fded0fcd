// Short messages in the corner (#toasts, role=alert): errors say what to do next.
import { describe } from "./api.js";
import { h } from "./dom.js";

const SHOWN_MS = 6_000;
const MAX_SHOWN = 4;

// Info toasts fade after a while; errors stay until dismissed (one saying "try again in N s"
// must still be readable then), the oldest giving way when too many pile up.
function show(text, kind) {
  const region = document.getElementById("toasts");
  if (!region) return;
  // The same sentence again (a retry failing the same way) replaces the one shown.
  for (const shown of region.querySelectorAll(`.toast-${kind}`)) if (shown.firstChild?.textContent === text) shown.remove();
  const close = h("button", { class: "toast-close", type: "button", attrs: { "aria-label": "Dismiss" } }, "×");
  const toast = h("div", { class: `toast toast-${kind}`, dataset: { testid: `toast-${kind}` } }, h("span", {}, text), close);
  const remove = () => toast.remove();
  close.addEventListener("click", remove);
  region.append(toast);
  if (kind !== "error") setTimeout(remove, SHOWN_MS);
  while (region.children.length > MAX_SHOWN) region.firstElementChild.remove();
}

export function showError(error) {
  show(typeof error === "string" ? error : describe(error), "error");
}

export function showInfo(text) {
  show(text, "info");
}
