// Short messages in the corner (#toasts, role=alert): errors say what to do next.
import { describe } from "./api.js";
import { h } from "./dom.js";

const SHOWN_MS = 6_000;

function show(text, kind) {
  const region = document.getElementById("toasts");
  if (!region) return;
  const close = h("button", { class: "toast-close", type: "button", attrs: { "aria-label": "Dismiss" } }, "×");
  const toast = h("div", { class: `toast toast-${kind}`, dataset: { testid: `toast-${kind}` } }, h("span", {}, text), close);
  const remove = () => toast.remove();
  close.addEventListener("click", remove);
  region.append(toast);
  setTimeout(remove, SHOWN_MS);
  while (region.children.length > 4) region.firstElementChild.remove();
}

export function showError(error) {
  show(typeof error === "string" ? error : describe(error), "error");
}

export function showInfo(text) {
  show(text, "info");
}
