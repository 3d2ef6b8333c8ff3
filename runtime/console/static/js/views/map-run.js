// One Map Run (a Distributed Map state's run): its parent execution, counts and limits,
// and its child executions (filtered by status, refreshed every two seconds while it runs),
// each linking to its own execution page.

import {api} from "../api.js";
import {arnName, duration, fill, formatDate, h, statusBadge} from "../dom.js";
import {mapRunCounts} from "./execution.js";

const STATUSES = ["", "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"];
const REFRESH_MS = 2000;

export async function showMapRun(main, {arn}) {
  const header = h("div");
  const status = h("select", {id: "child-status-filter"},
    STATUSES.map((s) => h("option", {value: s}, s || "Any status")));
  const tbody = h("tbody");
  main.append(
    header,
    h("section", {},
      h("div", {class: "title-row"}, h("h2", {}, "Child executions"),
        h("div", {class: "filters"}, status)),
      h("table", {class: "list", id: "map-run-executions"},
        h("thead", {}, h("tr", {}, ["Name", "Status", "Started", "Ended", "Duration"]
          .map((title) => h("th", {}, title)))),
        tbody)));
  let running = true;

  async function refresh() {
    const {mapRun, executionArn, executions} = await api.mapRun(arn, status.value);
    running = mapRun.status === "RUNNING";
    fill(header,
      h("div", {class: "title-row"},
        h("h1", {}, `Map Run ${arnName(arn)} `, statusBadge(mapRun.status))),
      h("dl", {class: "facts"},
        h("dt", {}, "Parent execution"),
        h("dd", {id: "map-run-parent"},
          h("a", {href: `#/execution?arn=${encodeURIComponent(executionArn)}`},
            arnName(executionArn))),
        h("dt", {}, "Map state"), h("dd", {}, mapRun.state),
        h("dt", {}, "Items"), h("dd", {id: "map-run-counts"}, mapRunCounts(mapRun)),
        h("dt", {}, "Max concurrency"),
        h("dd", {}, mapRun.maxConcurrency || "unlimited"),
        h("dt", {}, "Started"), h("dd", {}, formatDate(mapRun.startDate)),
        h("dt", {}, "Duration"), h("dd", {}, duration(mapRun.startDate, mapRun.stopDate))));
    tbody.replaceChildren(...executions.map((e) => h("tr", {"data-status": e.status},
      h("td", {}, h("a", {href: `#/execution?arn=${encodeURIComponent(e.executionArn)}`},
                    e.name)),
      h("td", {}, statusBadge(e.status)),
      h("td", {}, formatDate(e.startDate)),
      h("td", {}, formatDate(e.stopDate)),
      h("td", {}, duration(e.startDate, e.stopDate)))));
    if (executions.length === 0) {
      tbody.append(h("tr", {}, h("td", {colspan: 5, class: "muted"}, "No executions.")));
    }
  }

  status.addEventListener("change", refresh);
  await refresh();
  const timer = setInterval(() => {
    if (running) refresh().catch(() => {});
  }, REFRESH_MS);
  return () => clearInterval(timer);
}
