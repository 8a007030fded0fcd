// Modal dialogs on <dialog>: showModal() traps focus and Esc closes; labelled by their title.
import { h } from "./dom.js";
import { showError } from "./toast.js";

let counter = 0;

// actions: [{label, primary?, danger?, run() → value | Promise}] — a run that throws keeps the
// dialog open and shows the error; otherwise the dialog closes and the promise resolves to the
// run's value. Esc or Cancel resolve to null, except while an action runs: its request is on
// its way, so the dialog stays until it settles (a guild created must still be navigated to).
export function openDialog({ title, body = null, actions = [], testid = null }) {
  counter += 1;
  const titleId = `dialog-title-${counter}`;
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "dialog", attrs: { "aria-labelledby": titleId } });
    if (testid) dialog.setAttribute("data-testid", testid);
    let running = false;
    const finish = (value) => {
      if (dialog.open) dialog.close();
      dialog.remove();
      resolve(value);
    };
    const cancel = h("button", { type: "button", class: "button", on: { click: () => finish(null) } }, "Cancel");
    const buttons = actions.map((action) => {
      const button = h("button", {
        type: action.primary ? "submit" : "button",
        class: `button ${action.primary ? "button-primary" : ""} ${action.danger ? "button-danger" : ""}`,
      }, action.label);
      if (action.testid) button.setAttribute("data-testid", action.testid);
      button.addEventListener("click", async (event) => {
        event.preventDefault();
        if (running) return;
        running = true;
        button.disabled = true;
        cancel.disabled = true;
        dialog.setAttribute("aria-busy", "true");
        try {
          const value = action.run ? await action.run() : true;
          finish(value === undefined ? true : value);
        } catch (error) {
          showError(error);
        } finally {
          running = false;
          button.disabled = false;
          cancel.disabled = false;
          dialog.removeAttribute("aria-busy");
        }
      });
      return button;
    });
    const form = h("form", { class: "dialog-form", attrs: { method: "dialog" } },
      h("h2", { id: titleId, class: "dialog-title" }, title),
      body,
      h("div", { class: "dialog-actions" }, cancel, buttons),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const primary = buttons[actions.findIndex((a) => a.primary)];
      if (primary) primary.click();
    });
    dialog.append(form);
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      if (!running) finish(null);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
