// The sign-in and register screens. Registration may need an invite code (the server's
// `registration = invite` setting); the field is always offered and sent only when filled.
import { describe, fieldErrors } from "./api.js";
import { login, register } from "./auth.js";
import { appLink, h, replace } from "./dom.js";

function field(label, props) {
  const input = h("input", { class: "input", ...props });
  return { input, row: h("label", { class: "field" }, h("span", { class: "field-label" }, label), input) };
}

function showFailure(errorEl, error, inputs) {
  for (const input of Object.values(inputs)) input.removeAttribute("aria-invalid");
  for (const { field: name } of fieldErrors(error.errors)) inputs[name]?.setAttribute("aria-invalid", "true");
  replace(errorEl, describe(error));
  errorEl.hidden = false;
}

function screen(title, subtitle, form, note) {
  return h("div", { class: "auth-card" },
    h("div", { class: "auth-brand", attrs: { "aria-hidden": "true" } }, "O₃"),
    h("h1", { class: "auth-title" }, title),
    h("p", { class: "auth-subtitle" }, subtitle),
    note ? h("p", { class: "auth-note", dataset: { testid: "auth-note" } }, note) : null,
    form,
  );
}

// onDone(): called once signed in. note: a line shown above the form (why sign-in is needed).
export function renderLogin(el, { onDone, note = "" }) {
  const errorEl = h("p", { class: "form-error", hidden: true, attrs: { role: "alert" }, dataset: { testid: "login-error" } });
  const loginField = field("Email or username", { name: "login", autocomplete: "username", required: true, dataset: { testid: "login-login" } });
  const password = field("Password", { name: "password", type: "password", autocomplete: "current-password", required: true, dataset: { testid: "login-password" } });
  const submit = h("button", { class: "button button-primary button-wide", type: "submit", dataset: { testid: "login-submit" } }, "Sign in");
  const form = h("form", { class: "auth-form", dataset: { testid: "login-form" }, attrs: { "aria-label": "Sign in" } },
    loginField.row, password.row, errorEl, submit,
    h("p", { class: "auth-switch" }, "Need an account? ", appLink("/app/register", { dataset: { testid: "to-register" } }, "Register")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    try {
      await login(loginField.input.value.trim(), password.input.value);
      onDone();
    } catch (error) {
      showFailure(errorEl, error, { login: loginField.input, password: password.input });
      submit.disabled = false;
    }
  });
  replace(el, screen("Welcome back", "Sign in to Trioxide", form, note));
  loginField.input.focus();
}

export function renderRegister(el, { onDone, note = "" }) {
  const errorEl = h("p", { class: "form-error", hidden: true, attrs: { role: "alert" }, dataset: { testid: "register-error" } });
  const email = field("Email", { name: "email", type: "email", autocomplete: "email", required: true, dataset: { testid: "register-email" } });
  const username = field("Username", { name: "username", autocomplete: "username", required: true, dataset: { testid: "register-username" } });
  const globalName = field("Display name (optional)", { name: "global_name", autocomplete: "nickname", dataset: { testid: "register-global-name" } });
  const password = field("Password", { name: "password", type: "password", autocomplete: "new-password", required: true, dataset: { testid: "register-password" } });
  const invite = field("Registration code (if required)", { name: "invite", autocomplete: "off", dataset: { testid: "register-invite" } });
  const submit = h("button", { class: "button button-primary button-wide", type: "submit", dataset: { testid: "register-submit" } }, "Create account");
  const form = h("form", { class: "auth-form", dataset: { testid: "register-form" }, attrs: { "aria-label": "Register" } },
    email.row, username.row, globalName.row, password.row, invite.row, errorEl, submit,
    h("p", { class: "auth-switch" }, "Already have an account? ", appLink("/app/login", { dataset: { testid: "to-login" } }, "Sign in")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    const body = {
      email: email.input.value.trim(),
      username: username.input.value.trim(),
      password: password.input.value,
    };
    if (globalName.input.value.trim()) body.global_name = globalName.input.value.trim();
    if (invite.input.value.trim()) body.invite = invite.input.value.trim();
    try {
      await register(body);
      onDone();
    } catch (error) {
      showFailure(errorEl, error, {
        email: email.input, username: username.input, global_name: globalName.input,
        password: password.input, invite: invite.input,
      });
      submit.disabled = false;
    }
  });
  replace(el, screen("Create an account", "Join Trioxide", form, note));
  email.input.focus();
}
