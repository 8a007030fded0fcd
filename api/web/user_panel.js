// The bottom of the sidebar: who is signed in, their settings (profile) and log out.
import { callFeature } from "./app.js";
import { logout } from "./auth.js";
import { h, replace } from "./dom.js";
import { icon } from "./icons.js";
import { initials } from "./rail.js";
import { state, subscribe } from "./store.js";

export function renderUserPanel(el) {
  const draw = () => {
    const me = state.me;
    const name = me ? me.global_name || me.username : "…";
    const settings = h("button", {
      type: "button", class: "icon-button", attrs: { "aria-label": "Profile and settings", title: "Profile and settings" },
      dataset: { testid: "settings-button" },
      on: { click: () => callFeature("profile.js", "openProfile") },
    }, icon("settings"));
    const out = h("button", {
      type: "button", class: "icon-button", attrs: { "aria-label": "Log out", title: "Log out" },
      dataset: { testid: "logout-button" },
      on: { click: () => logout() },
    }, icon("logout"));
    replace(el,
      h("span", { class: "avatar", attrs: { "aria-hidden": "true" } }, initials(name).toUpperCase()),
      h("span", { class: "user-names" },
        h("span", { class: "user-name", dataset: { testid: "user-name" } }, name),
        me ? h("span", { class: "user-tag" }, me.username) : null),
      settings, out);
  };
  draw();
  return subscribe("me", draw);
}
