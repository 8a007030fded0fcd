// Editing one's own profile: display name and username, with the server's field errors shown
// beside the field they are about.
import { h, replace } from "./dom.js";
import { request, fieldErrors, ApiError } from "./api.js";
import { state } from "./store.js";
import { openDialog } from "./dialog.js";
import { showInfo } from "./toast.js";

function input(name, value, props) {
  return h("input", { type: "text", name, id: `profile-${name}`, value: value ?? "", autocomplete: "off",
    dataset: { testid: `profile-${name}` }, attrs: { "aria-describedby": `profile-${name}-error` }, ...props });
}

export async function openProfile() {
  const me = state.me ?? (await request("GET", "/users/@me"));
  const fields = {
    global_name: input("global_name", me.global_name, { maxLength: 32, placeholder: me.username }),
    username: input("username", me.username, { maxLength: 32, required: true }),
  };
  const errors = {
    global_name: h("p", { id: "profile-global_name-error", class: "field-error", attrs: { role: "alert" } }),
    username: h("p", { id: "profile-username-error", class: "field-error", attrs: { role: "alert" } }),
  };
  const row = (key, label, hint) => h("div", { class: "form-field" },
    h("label", { attrs: { for: fields[key].id } }, label), fields[key],
    hint ? h("p", { class: "muted hint" }, hint) : null, errors[key]);
  const saved = await openDialog({
    title: "Your profile",
    testid: "profile-dialog",
    body: h("div", { class: "form" },
      row("global_name", "Display name", "What others see; leave empty to show your username."),
      row("username", "Username", "Letters, numbers, _ and . only.")),
    actions: [{ label: "Save", primary: true, testid: "profile-save", run: () => save(me, fields, errors) }],
  });
  if (saved && saved !== true) showInfo("Profile saved");
  return saved;
}

async function save(me, fields, errors) {
  for (const el of Object.values(errors)) replace(el);
  for (const el of Object.values(fields)) el.removeAttribute("aria-invalid");
  const json = {};
  const name = fields.global_name.value.trim();
  if (name !== (me.global_name ?? "")) json.global_name = name || null;
  const username = fields.username.value.trim();
  if (username !== me.username) json.username = username;
  if (!Object.keys(json).length) return true;
  try {
    const user = await request("PATCH", "/users/@me", { json });
    // (USER_UPDATE will say the same to every tab; this one need not wait for it.)
    state.me = { ...state.me, ...user };
    return user;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    const found = fieldErrors(error.errors);
    let placed = false;
    for (const { field, message } of found) {
      const key = field.split(".")[0];
      if (!errors[key]) continue;
      errors[key].append(h("span", null, message));
      fields[key].setAttribute("aria-invalid", "true");
      placed = true;
    }
    if (placed) fields[found.find((f) => errors[f.field.split(".")[0]]).field.split(".")[0]].focus();
    throw error;
  }
}
