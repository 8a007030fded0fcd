// A bot's modal (INTERACTION_MODAL_CREATE) as a dialog of its text inputs; submitting it is an
// interaction of type 5 the bot answers. Imported once by main.js for its side effect.
import { h } from "./dom.js";
import { openDialog } from "./dialog.js";
import { interact, sentHere, forgetSent } from "./commands.js";
import { subscribe } from "./store.js";

const TEXT_INPUT = 4;
const PARAGRAPH = 2;

// The person's every tab gets the modal: it opens in the one whose command or click asked.
subscribe("dispatch", ({ t, d }) => {
  if (t !== "INTERACTION_MODAL_CREATE" || !sentHere(d?.nonce)) return;
  forgetSent(d.nonce);
  openModal(d);
});

// Text inputs sit in action rows, or (newer) in labels with a `component`.
function inputsOf(components) {
  const found = [];
  for (const row of components ?? []) {
    if (row?.type === TEXT_INPUT) found.push({ input: row, label: row.label });
    for (const child of row?.components ?? []) {
      if (child?.type === TEXT_INPUT) found.push({ input: child, label: child.label });
    }
    if (row?.component?.type === TEXT_INPUT) found.push({ input: row.component, label: row.label ?? row.component.label });
  }
  return found;
}

function field({ input, label }, index) {
  const id = `modal-input-${index}`;
  const paragraph = input.style === PARAGRAPH;
  const control = h(paragraph ? "textarea" : "input", {
    id,
    name: input.custom_id,
    required: input.required !== false,
    value: input.value ?? "",
    dataset: { testid: "modal-input", customId: input.custom_id },
    attrs: {
      placeholder: input.placeholder ?? null,
      minlength: input.min_length ?? null,
      maxlength: input.max_length ?? null,
      rows: paragraph ? 4 : null,
      type: paragraph ? null : "text",
    },
  });
  return {
    control,
    spec: input,
    label,
    node: h("div", { class: "form-field" },
      h("label", { attrs: { for: id } }, label || input.custom_id,
        input.required !== false ? h("span", { class: "required", attrs: { "aria-hidden": "true" } }, " *") : null),
      control),
  };
}

// The text input's own rules, checked here: the browser checks lengths only of typed values.
function problemOf({ control, spec, label }) {
  const value = control.value;
  const name = label || spec.custom_id;
  if (!value) return spec.required !== false ? `${name} is required.` : null;
  const low = spec.min_length ?? 0;
  const high = spec.max_length ?? 4000;
  if (value.length < low || value.length > high) return `${name}: between ${low} and ${high} characters, please.`;
  return null;
}

async function openModal(modal) {
  const fields = inputsOf(modal.components).map(field);
  const error = h("p", { class: "form-result error", attrs: { role: "alert" } });
  const form = h("div", { class: "form modal-form", dataset: { testid: "modal-form" } },
    fields.map((f) => f.node), error);
  const submit = async () => {
    for (const f of fields) f.control.removeAttribute("aria-invalid");
    const invalid = fields.map((f) => ({ f, problem: problemOf(f) })).find((x) => x.problem);
    if (invalid) {
      error.textContent = invalid.problem;
      invalid.f.control.setAttribute("aria-invalid", "true");
      invalid.f.control.focus();
      throw new Error(invalid.problem); // keeps the dialog open
    }
    error.textContent = "";
    await interact({
        type: 5,
        application_id: modal.application?.id ?? modal.application_id,
        channel_id: modal.channel_id,
        data: {
          id: modal.id,
          custom_id: modal.custom_id,
          components: fields.map((f) => ({
            type: 1,
            components: [{ type: TEXT_INPUT, custom_id: f.control.name, value: f.control.value }],
          })),
        },
    }, modal.application?.name);
  };
  await openDialog({
    testid: "modal-dialog",
    title: modal.title || "A question",
    body: form,
    actions: [
      { label: "Submit", primary: true, testid: "modal-submit", run: submit },
    ],
  });
}
