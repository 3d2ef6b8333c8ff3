// Modal dialogs: start an execution, fork an execution.

import {api} from "../api.js";
import {h, toast} from "../dom.js";

function modal(title, fields, submitLabel, onSubmit) {
  const error = h("p", {class: "dialog-error", hidden: true});
  const submit = h("button", {class: "primary", type: "submit"}, submitLabel);
  const dialog = h("dialog", {class: "modal"},
    h("form", {method: "dialog"},
      h("h2", {}, title), fields, error,
      h("div", {class: "actions"},
        h("button", {type: "button", onclick: () => dialog.close()}, "Cancel"), submit)));
  dialog.querySelector("form").addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    try {
      await onSubmit();
      dialog.close();
    } catch (failure) {
      error.textContent = failure.message;
      error.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

function parsesAsJson(text, what) {
  try {
    JSON.parse(text);
  } catch (failure) {
    throw new Error(`The ${what} is not valid JSON: ${failure.message}`);
  }
}

/** Ask for a name and an input, start an execution of `stateMachineArn`, open it. */
export function startExecutionDialog(stateMachineArn, input = "{}") {
  const name = h("input", {name: "name", placeholder: "(generated)", autocomplete: "off"});
  const inputBox = h("textarea", {name: "input", rows: 10, spellcheck: "false", value: input});
  modal("Start execution", [
    h("label", {}, "Name", name),
    h("label", {}, "Input", inputBox),
  ], "Start execution", async () => {
    parsesAsJson(inputBox.value, "input");
    const {executionArn} = await api.startExecution(stateMachineArn, inputBox.value,
                                                     name.value.trim());
    location.hash = `#/execution?arn=${encodeURIComponent(executionArn)}`;
  });
}

/**
 * Fork `executionArn` just after event `eventId`, with the top-level state's input there
 * (editable) and the execution's definition (editable). Only what was changed is sent.
 */
export function forkDialog(executionArn, eventId, stateInput, definition) {
  const initialInput = JSON.stringify(stateInput ?? {}, null, 2);
  const inputBox = h("textarea", {name: "input", rows: 8, spellcheck: "false",
                                  value: initialInput});
  const definitionBox = h("textarea", {name: "definition", rows: 12, spellcheck: "false",
                                       value: definition});
  const name = h("input", {name: "name", placeholder: "(generated)", autocomplete: "off"});
  modal(`Fork from event #${eventId}`, [
    h("p", {class: "muted"},
      "The fork starts where this execution was at the end of the step holding the event, " +
      "then runs on its own."),
    h("label", {}, "Name", name),
    h("label", {}, "Input of the current top-level state", inputBox),
    h("details", {}, h("summary", {}, "Definition"), definitionBox),
  ], "Fork", async () => {
    const changes = {name: name.value.trim()};
    if (inputBox.value !== initialInput) {
      parsesAsJson(inputBox.value, "input");
      changes.input = inputBox.value;
    }
    if (definitionBox.value !== definition) {
      parsesAsJson(definitionBox.value, "definition");
      changes.definition = definitionBox.value;
    }
    const {executionArn: fork} = await api.fork(executionArn, eventId, changes);
    toast("Forked.", false);
    location.hash = `#/execution?arn=${encodeURIComponent(fork)}`;
  });
}
