// Modal dialogs: start, fork and stop an execution; delete a state machine or a version.

import {api} from "../api.js";
import {h, toast} from "../dom.js";

function modal(title, fields, submitLabel, onSubmit, {danger = false} = {}) {
  const error = h("p", {class: "dialog-error", hidden: true});
  const submit = h("button", {class: danger ? "danger" : "primary", type: "submit"},
                   submitLabel);
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

/**
 * Ask for a name and an input, start an execution of `stateMachineArn` (a state machine or
 * one of its versions, named in `title`), open it.
 */
export function startExecutionDialog(stateMachineArn,
                                     {input = "{}", title = "Start execution"} = {}) {
  const name = h("input", {name: "name", placeholder: "(generated)", autocomplete: "off"});
  const inputBox = h("textarea", {name: "input", rows: 10, spellcheck: "false", value: input});
  modal(title, [
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

/** Confirm stopping a running execution (with an optional error and cause), then `onStopped`. */
export function stopExecutionDialog(executionArn, executionName, onStopped) {
  const error = h("input", {name: "error", placeholder: "(none)", autocomplete: "off"});
  const cause = h("input", {name: "cause", placeholder: "(none)", autocomplete: "off"});
  modal(`Stop ${executionName}?`, [
    h("p", {}, "The execution ends ABORTED, where it is now; it can be redriven later."),
    h("label", {}, "Error", error),
    h("label", {}, "Cause", cause),
  ], "Stop execution", async () => {
    await api.stopExecution(executionArn, error.value.trim(), cause.value.trim());
    toast("Stopped.", false);
    await onStopped();
  }, {danger: true});
}

/**
 * Confirm deleting a state machine (its versions and aliases with it) or one version by
 * typing its name or version number, then `onDeleted`.
 */
export function deleteDialog({stateMachineArn, name, version}, onDeleted) {
  const expected = version ? String(version) : name;
  const what = version ? `version ${version} of ${name}` : `state machine ${name}`;
  const typed = h("input", {name: "confirm", autocomplete: "off", placeholder: expected});
  const dialog = modal(`Delete ${what}?`, [
    h("p", {}, version
      ? "Executions already started on it run to their end. An alias that routes to it " +
        "must be changed first."
      : "Its versions and aliases are deleted with it. Executions already running go on " +
        "to their end."),
    h("label", {}, `Type ${version ? "the version number" : "its name"} to confirm`, typed),
  ], "Delete", async () => {
    if (typed.value.trim() !== expected) throw new Error(`Type "${expected}" to confirm.`);
    await api.deleteStateMachine(stateMachineArn);
    toast("Deleted.", false);
    onDeleted();
  }, {danger: true});
  const submit = dialog.querySelector("button[type=submit]");
  const check = () => { submit.disabled = typed.value.trim() !== expected; };
  typed.addEventListener("input", check);
  check();
}
