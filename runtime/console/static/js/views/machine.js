// One state machine: its graph and definition, and its executions (filtered by status,
// searched by name, refreshed every two seconds).

import {api} from "../api.js";
import {debounce, duration, formatDate, h, pretty, statusBadge} from "../dom.js";
import {renderGraph} from "../graph.js";
import {startExecutionDialog} from "./dialogs.js";

const STATUSES = ["", "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"];
const REFRESH_MS = 2000;

export async function showMachine(main, {arn}) {
  const machine = await api.stateMachine(arn);
  const {graph} = await api.graph(machine.definition);
  const graphBox = h("div", {class: "graph-box", id: "machine-graph"});
  const status = h("select", {id: "status-filter"},
    STATUSES.map((s) => h("option", {value: s}, s || "Any status")));
  const search = h("input", {id: "name-search", type: "search", placeholder: "Search by name"});
  const tbody = h("tbody");

  main.append(
    h("div", {class: "title-row"},
      h("h1", {}, machine.name),
      h("div", {class: "buttons"},
        h("a", {class: "button", href: `#/editor?arn=${encodeURIComponent(arn)}`}, "Edit"),
        h("button", {class: "primary", id: "start-execution",
                     onclick: () => startExecutionDialog(arn)}, "Start execution"))),
    h("dl", {class: "facts"},
      h("dt", {}, "ARN"), h("dd", {}, h("code", {}, arn)),
      h("dt", {}, "Type"), h("dd", {}, machine.type),
      h("dt", {}, "Created"), h("dd", {}, formatDate(machine.creationDate))),
    h("section", {class: "split"},
      h("div", {}, h("h2", {}, "Graph"), graphBox),
      h("div", {}, h("h2", {}, "Definition"),
        h("pre", {class: "json definition"}, pretty(JSON.parse(machine.definition))))),
    h("section", {},
      h("div", {class: "title-row"}, h("h2", {}, "Executions"),
        h("div", {class: "filters"}, status, search)),
      h("table", {class: "list", id: "executions"},
        h("thead", {}, h("tr", {}, ["Name", "Status", "Started", "Ended", "Duration"]
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
      h("td", {}, formatDate(e.startDate)),
      h("td", {}, formatDate(e.stopDate)),
      h("td", {}, duration(e.startDate, e.stopDate)))));
    if (shown.length === 0) {
      tbody.append(h("tr", {}, h("td", {colspan: 5, class: "muted"}, "No executions.")));
    }
  }
  status.addEventListener("change", refresh);
  search.addEventListener("input", debounce(refresh, 200));
  await refresh();
  const timer = setInterval(() => refresh().catch(() => {}), REFRESH_MS);
  return () => clearInterval(timer);
}
