// The connection's state, always visible (#status, role=status, aria-live=polite).
import { h, replace } from "./dom.js";

const LABELS = {
  connecting: "Connecting…",
  connected: "Connected",
  resuming: "Reconnecting…",
  reconnecting: "Reconnecting…",
  offline: "Offline: waiting for the network",
};

export function renderStatus(el, gateway) {
  const show = (state) => {
    el.dataset.state = state;
    document.documentElement.dataset.connection = state;
    replace(el, h("span", { class: "status-dot", attrs: { "aria-hidden": "true" } }), h("span", { class: "status-text" }, LABELS[state] || state));
  };
  show(gateway.state);
  const onState = (event) => show(event.detail);
  gateway.addEventListener("state", onState);
  return () => gateway.removeEventListener("state", onState);
}
