// The definition editor: CodeMirror with the server's validator as the linter (diagnostics
// at the offending line), the graph redrawn as you type, Save (create or update, and publish
// a version of what is saved when asked) and Run.

import {api} from "../api.js";
import {debounce, fill, h, toast} from "../dom.js";
import {renderGraph} from "../graph.js";
import {EditorView, basicSetup, json, lintGutter, setDiagnostics} from "../../vendor/vendor.js";
import {startExecutionDialog} from "./dialogs.js";

const CHECK_DELAY_MS = 250;
const TEMPLATE = `{
  "Comment": "A description of my state machine",
  "StartAt": "Hello",
  "States": {
    "Hello": {
      "Type": "Pass",
      "Result": "Hello",
      "Next": "World"
    },
    "World": {
      "Type": "Pass",
      "End": true
    }
  }
}
`;

/** CodeMirror diagnostics for the server's placed diagnostics (those with a line). */
function editorDiagnostics(doc, diagnostics) {
  return diagnostics.filter((d) => d.line !== null && d.line <= doc.lines).map((d) => {
    const line = doc.line(d.line);
    const from = Math.min(line.from + Math.max(0, (d.column ?? 1) - 1), line.to);
    return {from, to: Math.max(line.to, from), severity: d.severity.toLowerCase(),
            source: d.code, message: d.message};
  });
}

export async function showEditor(main, {arn}) {
  const machine = arn ? await api.stateMachine(arn) : null;
  let savedText = machine ? JSON.stringify(JSON.parse(machine.definition), null, 2) : null;
  const name = h("input", {id: "machine-name", placeholder: "MyStateMachine",
                           value: machine?.name ?? "", disabled: Boolean(machine)});
  const type = h("select", {id: "machine-type", disabled: Boolean(machine)},
    ["STANDARD", "EXPRESS"].map((t) => h("option", {value: t, selected: machine?.type === t}, t)));
  const publish = h("input", {type: "checkbox", id: "publish"});
  const description = h("input", {id: "version-description", placeholder: "Version description",
                                  autocomplete: "off", disabled: true});
  publish.addEventListener("change", () => { description.disabled = !publish.checked; });
  const latestVersion = h("span", {class: "muted", id: "latest-version"});
  const showLatest = (version) => {
    fill(latestVersion, version ? `Latest version: ${version}` : "");
  };
  showLatest(machine?.versions[0]?.version);
  const list = h("ul", {class: "diagnostics", id: "diagnostics"});
  const graphBox = h("div", {class: "graph-box", id: "editor-graph"});
  const editorBox = h("div", {class: "editor", id: "editor"});
  let checked = 0;

  main.append(
    h("div", {class: "title-row"},
      h("h1", {}, machine ? `Edit ${machine.name}` : "Create state machine"),
      h("div", {class: "buttons"},
        h("button", {id: "save", onclick: save}, "Save"),
        h("button", {class: "primary", id: "run", onclick: run}, "Run"))),
    h("div", {class: "filters"}, h("label", {}, "Name ", name), h("label", {}, "Type ", type),
      h("label", {class: "publish"}, publish, " Publish a version on save"), description,
      latestVersion),
    h("section", {class: "split"},
      h("div", {}, editorBox, list),
      h("div", {}, graphBox)));

  const view = new EditorView({
    doc: savedText ?? TEMPLATE,
    parent: editorBox,
    extensions: [basicSetup, json(), lintGutter(),
                 EditorView.updateListener.of((update) => { if (update.docChanged) check(); })],
  });

  async function checkNow() {
    const text = view.state.doc.toString();
    const mine = ++checked;
    const [{diagnostics}, {graph}] = await Promise.all([
      api.validate(text, type.value), api.graph(text)]);
    if (mine !== checked) return;
    view.dispatch(setDiagnostics(view.state, editorDiagnostics(view.state.doc, diagnostics)));
    fill(list, (diagnostics.length === 0
      ? [h("li", {class: "valid"}, "The definition is valid.")]
      : diagnostics.map((d) => h("li", {class: `severity-${d.severity}`},
          d.line !== null ? h("span", {class: "line"}, `Line ${d.line}`) : null,
          h("strong", {}, d.code), " ", d.message))));
    list.dataset.count = diagnostics.length;
    // While the text is not JSON, keep the last graph that could be drawn.
    if (graph.nodes.length > 0 || !diagnostics.some((d) => d.code === "INVALID_JSON_DESCRIPTION")) {
      renderGraph(graphBox, graph);
    }
  }
  const check = debounce(() => checkNow().catch((failure) => toast(failure.message)),
                         CHECK_DELAY_MS);

  async function save() {
    const text = view.state.doc.toString();
    const request = publish.checked
      ? {publish: true, versionDescription: description.value.trim() || undefined} : {};
    const published = (answer) => answer.version ? ` Published version ${answer.version}.` : "";
    try {
      if (machine) {
        const answer = await api.updateStateMachine(machine.stateMachineArn, text, request);
        savedText = text;
        toast(`Saved.${published(answer)}`, false);
        if (answer.version) showLatest(answer.version);
        return machine.stateMachineArn;
      }
      const answer = await api.createStateMachine(name.value.trim(), text, type.value, request);
      const {stateMachineArn} = answer;
      toast(`Created.${published(answer)}`, false);
      location.hash = `#/editor?arn=${encodeURIComponent(stateMachineArn)}`;
      return stateMachineArn;
    } catch (failure) {
      toast(failure.message);
      return null;
    }
  }

  async function run() {
    const unsaved = !machine || view.state.doc.toString() !== savedText;
    const target = unsaved ? await save() : machine.stateMachineArn;
    if (target) startExecutionDialog(target);
  }

  type.addEventListener("change", check);
  await checkNow();
  return () => view.destroy();
}
