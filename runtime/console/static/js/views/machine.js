// One state machine: its graph and definition, its versions and aliases, and its executions
// (those started on its versions included; filtered by status, searched by name, refreshed
// every two seconds). It can be deleted from here, and executions started on it or on any
// of its versions.

import {api} from "../api.js";
import {arnName, debounce, duration, formatDate, h, pretty, statusBadge} from "../dom.js";
import {renderGraph} from "../graph.js";
import {deleteDialog, startExecutionDialog} from "./dialogs.js";

const STATUSES = ["", "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"];
const REFRESH_MS = 2000;

function versionsTable(machine, onDeleted) {
  if (machine.versions.length === 0) {
    return h("p", {class: "muted"},
      "No versions: publish one when saving in the editor.");
  }
  return h("table", {class: "list", id: "versions"},
    h("thead", {}, h("tr", {}, ["Version", "Description", "Published", ""]
      .map((title) => h("th", {}, title)))),
    h("tbody", {}, machine.versions.map((v) => h("tr", {"data-version": v.version},
      h("td", {}, h("strong", {}, v.version)),
      h("td", {}, v.description ?? h("span", {class: "muted"}, "–")),
      h("td", {}, formatDate(v.creationDate)),
      h("td", {class: "actions-cell"},
        h("button", {class: "start-version", onclick: () => startExecutionDialog(
          v.stateMachineArn, {title: `Start execution of version ${v.version}`})},
          "Start execution"),
        h("button", {class: "delete-version", onclick: () => deleteDialog(
          {stateMachineArn: v.stateMachineArn, name: machine.name, version: v.version},
          onDeleted)}, "Delete"))))));
}

function aliasesTable(machine) {
  if (machine.aliases.length === 0) return null;
  const routes = (alias) => alias.routingConfiguration.map(
    (r) => `version ${arnName(r.stateMachineVersionArn)}: ${r.weight}%`).join(", ");
  return h("table", {class: "list", id: "aliases"},
    h("thead", {}, h("tr", {}, ["Alias", "Routes", "Description", "Updated"]
      .map((title) => h("th", {}, title)))),
    h("tbody", {}, machine.aliases.map((alias) => h("tr", {},
      h("td", {}, h("strong", {}, alias.name)),
      h("td", {}, routes(alias)),
      h("td", {}, alias.description ?? h("span", {class: "muted"}, "–")),
      h("td", {}, formatDate(alias.updateDate))))));
}

export async function showMachine(main, {arn}) {
  const machine = await api.stateMachine(arn);
  const {graph} = await api.graph(machine.definition);
  const graphBox = h("div", {class: "graph-box", id: "machine-graph"});
  const status = h("select", {id: "status-filter"},
    STATUSES.map((s) => h("option", {value: s}, s || "Any status")));
  const search = h("input", {id: "name-search", type: "search", placeholder: "Search by name"});
  const tbody = h("tbody");
  const aliases = aliasesTable(machine);
  // After deleting a version, the page is shown again from the server's answer.
  const reopen = () => window.dispatchEvent(new HashChangeEvent("hashchange"));

  main.append(
    h("div", {class: "title-row"},
      h("h1", {}, machine.name),
      h("div", {class: "buttons"},
        h("button", {id: "delete-machine", onclick: () => deleteDialog(
          {stateMachineArn: arn, name: machine.name}, () => { location.hash = "#/"; })},
          "Delete"),
        h("a", {class: "button", href: `#/editor?arn=${encodeURIComponent(arn)}`}, "Edit"),
        h("button", {class: "primary", id: "start-execution",
                     onclick: () => startExecutionDialog(arn)}, "Start execution"))),
    h("dl", {class: "facts"},
      h("dt", {}, "ARN"), h("dd", {}, h("code", {}, arn)),
      h("dt", {}, "Type"), h("dd", {}, machine.type),
      h("dt", {}, "Created"), h("dd", {}, formatDate(machine.creationDate)),
      machine.updateDate && [h("dt", {}, "Updated"), h("dd", {}, formatDate(machine.updateDate))]),
    h("section", {class: "split"},
      h("div", {}, h("h2", {}, "Graph"), graphBox),
      h("div", {}, h("h2", {}, "Definition"),
        h("pre", {class: "json definition"}, pretty(JSON.parse(machine.definition))))),
    h("section", {id: "versions-section"},
      h("h2", {}, `Versions (${machine.versions.length})`), versionsTable(machine, reopen),
      aliases && [h("h2", {}, `Aliases (${machine.aliases.length})`), aliases]),
    h("section", {},
      h("div", {class: "title-row"}, h("h2", {}, "Executions"),
        h("div", {class: "filters"}, status, search)),
      h("table", {class: "list", id: "executions"},
        h("thead", {}, h("tr", {}, ["Name", "Status", "Version", "Started", "Ended", "Duration"]
          .map((title) => h("th", {}, title)))),
        tbody)));
  renderGraph(graphBox, graph);

  async function refresh() {
    const {executions} = await api.executions(arn, status.value);
    const needle = search.value.trim().toLowerCase();
    const shown = executions.filter((e) => e.name.toLowerCase().includes(needle));
    tbody.replaceChildren(...shown.map((e) => h("tr", {"data-status": e.status},
      h("td", {}, h("a", {href: `#/execution?arn=${encodeURIComponent(e.executionArn)}`},
                    e.name)),
      h("td", {}, statusBadge(e.status)),
      h("td", {}, e.version ?? h("span", {class: "muted"}, "–")),
      h("td", {}, formatDate(e.startDate)),
      h("td", {}, formatDate(e.stopDate)),
      h("td", {}, duration(e.startDate, e.stopDate)))));
    if (shown.length === 0) {
      tbody.append(h("tr", {}, h("td", {colspan: 6, class: "muted"}, "No executions.")));
    }
  }
  status.addEventListener("change", refresh);
  search.addEventListener("input", debounce(refresh, 200));
  await refresh();
  const timer = setInterval(() => refresh().catch(() => {}), REFRESH_MS);
  return () => clearInterval(timer);
}
