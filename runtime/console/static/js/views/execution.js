// One execution: graph coloured by each state's outcome, the state inspector, the event
// table, and time travel (a step control over the events: the graph, inspector and table
// show the execution as of the chosen event, from which it can be forked).

import {api} from "../api.js";
import {
  arnName, debounce, duration, fill, formatDate, h, pretty, statusBadge, toast,
} from "../dom.js";
import {legend, renderGraph} from "../graph.js";
import {forkDialog} from "./dialogs.js";

const REFRESH_MS = 1000;
const REDRIVABLE = new Set(["FAILED", "TIMED_OUT", "ABORTED"]);

/** Each event's step (state name): its own, or that of the event it follows from. */
function stepNames(events) {
  const byId = new Map();
  for (const event of events) {
    const own = (event.stateEnteredEventDetails ?? event.stateExitedEventDetails)?.name;
    byId.set(event.id, own ?? byId.get(event.previousEventId) ?? "");
  }
  return byId;
}

function eventDetails(event) {
  const key = Object.keys(event).find((k) => k.endsWith("EventDetails"));
  if (!key) return null;
  const details = {...event[key]};
  // AWS sends payloads as JSON text; show them as the values they encode.
  for (const field of ["input", "output", "parameters"]) {
    if (typeof details[field] === "string") details[field] = parsedOrText(details[field]);
  }
  return details;
}

function parsedOrText(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function section(title, body, id) {
  return h("div", {class: "inspector-section", id},
    h("h3", {}, title), body);
}

export async function showExecution(main, {arn}) {
  let data = await api.execution(arn);
  const {graph} = await api.graph(data.definition);
  let cursor = data.events.length;           // the event shown (1-based id)
  let selected = null;                        // the selected state's name
  let snapshot = null;                        // api.stateAt for `cursor`
  let request = 0;

  const header = h("div");
  const slider = h("input", {type: "range", id: "event-slider", min: 1, step: 1});
  const position = h("span", {class: "position", id: "event-position"});
  const graphBox = h("div", {class: "graph-box", id: "execution-graph"});
  const inspector = h("aside", {class: "inspector", id: "inspector"});
  const tbody = h("tbody");
  const step = (delta) => moveTo(Math.min(data.events.length, Math.max(1, cursor + delta)));

  main.append(
    header,
    h("section", {class: "timetravel"},
      h("button", {title: "First event", id: "first-event", onclick: () => moveTo(1)}, "\u00AB"),
      h("button", {title: "Previous event", id: "previous-event", onclick: () => step(-1)},
        "\u2039"),
      slider,
      h("button", {title: "Next event", id: "next-event", onclick: () => step(1)}, "\u203A"),
      h("button", {title: "Latest event", id: "last-event",
                   onclick: () => moveTo(data.events.length)}, "\u00BB"),
      position,
      h("button", {id: "fork", onclick: openFork}, "Fork from here")),
    h("section", {class: "split execution-split"},
      h("div", {}, graphBox, legend()),
      inspector),
    h("section", {},
      h("h2", {}, "Events"),
      h("table", {class: "list events", id: "events"},
        h("thead", {}, h("tr", {}, ["ID", "Type", "Step", "Elapsed", ""]
          .map((title) => h("th", {}, title)))),
        tbody)));

  slider.addEventListener("input", () => moveTo(Number(slider.value)));

  function openFork() {
    const top = snapshot?.view.frames[""];
    forkDialog(arn, cursor, top?.input, data.definition);
  }

  async function redrive() {
    try {
      await api.redrive(arn);
      toast("Redriven.", false);
      // Poll until the redriven run ends (the redrive may not be recorded yet).
      data.execution.status = "RUNNING";
      drawHeader();
    } catch (failure) {
      toast(failure.message);
    }
  }

  function drawHeader() {
    const {execution} = data;
    fill(header,
      h("div", {class: "title-row"},
        h("h1", {}, execution.name, " ", statusBadge(execution.status)),
        h("div", {class: "buttons"},
          REDRIVABLE.has(execution.status) &&
            h("button", {id: "redrive", onclick: redrive}, "Redrive"))),
      h("dl", {class: "facts"},
        h("dt", {}, "State machine"),
        h("dd", {}, h("a", {href: `#/machine?arn=${encodeURIComponent(
          execution.stateMachineArn)}`}, arnName(execution.stateMachineArn))),
        h("dt", {}, "Started"), h("dd", {}, formatDate(execution.startDate)),
        h("dt", {}, "Duration"), h("dd", {}, duration(execution.startDate, execution.stopDate)),
        execution.redriveCount > 0 && [h("dt", {}, "Redrives"),
                                       h("dd", {}, execution.redriveCount)],
        execution.error && [h("dt", {}, "Error"),
                            h("dd", {class: "error-text"}, execution.error)],
        execution.cause && [h("dt", {}, "Cause"),
                            h("dd", {class: "error-text"}, execution.cause)]));
  }

  function drawEvents() {
    const steps = stepNames(data.events);
    const start = data.events[0]?.timestamp ?? 0;
    tbody.replaceChildren(...data.events.map((event) => {
      const details = eventDetails(event);
      const row = h("tr", {"data-event": event.id,
                           class: event.id > cursor ? "future" : event.id === cursor ? "current" : "",
                           onclick: () => moveTo(event.id)},
        h("td", {}, event.id),
        h("td", {class: /Failed|TimedOut|Aborted/.test(event.type) ? "error-text" : ""},
          event.type),
        h("td", {}, steps.get(event.id)),
        h("td", {}, duration(start, event.timestamp)),
        h("td", {}, details && h("details", {onclick: (e) => e.stopPropagation()},
          h("summary", {}, "details"), h("pre", {class: "json"}, pretty(details)))));
      return row;
    }));
  }

  function drawPosition() {
    const event = data.events[cursor - 1];
    slider.max = data.events.length;
    slider.value = cursor;
    position.textContent = event
      ? `Event ${cursor} of ${data.events.length}: ${event.type}` : "";
    for (const row of tbody.rows) {
      const id = Number(row.dataset.event);
      row.className = id > cursor ? "future" : id === cursor ? "current" : "";
    }
  }

  function drawGraph() {
    renderGraph(graphBox, graph, {
      outcomes: snapshot?.states, selected,
      onSelect: (name) => { selected = name; drawGraph(); drawInspector(); },
    });
  }

  function drawInspector() {
    if (!snapshot) return;
    const {view, states} = snapshot;
    if (!selected) {
      fill(inspector,
        h("h2", {}, `As of event ${view.event_id}`),
        h("p", {}, "Status: ", statusBadge(view.status)),
        h("p", {class: "muted"}, "Select a state in the graph to inspect it."),
        section("Execution input", h("pre", {class: "json"}, pretty(data.execution.input))),
        view.output !== null && section("Execution output",
                                        h("pre", {class: "json"}, pretty(view.output))),
        view.error && section("Error", h("pre", {class: "json error-text"},
                                         `${view.error}\n${view.cause ?? ""}`)));
      return;
    }
    const summary = states[selected];
    const frames = Object.values(view.frames).filter((frame) => frame.state === selected);
    const frame = frames[frames.length - 1];
    fill(inspector,
      h("div", {class: "title-row"}, h("h2", {}, selected),
        h("button", {onclick: () => { selected = null; drawGraph(); drawInspector(); }},
          "Close")),
      summary
        ? h("p", {}, h("span", {class: `badge outcome-${summary.outcome}`, id: "state-outcome"},
                       summary.outcome),
            ` ${summary.visits} visit(s), ${summary.retries} retr${summary.retries === 1 ? "y" : "ies"}`)
        : h("p", {class: "muted"}, "Not entered by this event."),
      summary && section("Input", h("pre", {class: "json", id: "state-input"},
                                    pretty(summary.input))),
      summary && summary.output !== null &&
        section("Output", h("pre", {class: "json", id: "state-output"}, pretty(summary.output))),
      frame && Object.keys(frame.variables).length > 0 &&
        section("Variables", h("pre", {class: "json"}, pretty(frame.variables))),
      summary?.error && section("Error", h("pre", {class: "json error-text", id: "state-error"},
                                           `${summary.error}\n${summary.cause ?? ""}`)));
  }

  const fetchState = debounce(async () => {
    const mine = ++request;
    try {
      const result = await api.stateAt(arn, cursor);
      if (mine !== request) return;
      snapshot = result;
      drawGraph();
      drawInspector();
    } catch (failure) {
      toast(failure.message);
    }
  }, 60);

  function moveTo(eventId) {
    if (!eventId) return;
    cursor = eventId;
    drawPosition();
    fetchState();
  }

  async function reload() {
    const following = cursor === data.events.length;
    data = await api.execution(arn);
    drawHeader();
    drawEvents();
    if (following) moveTo(data.events.length);
    else drawPosition();
  }

  drawHeader();
  drawEvents();
  drawGraph();
  moveTo(cursor);
  const timer = setInterval(() => {
    if (data.execution.status === "RUNNING") reload().catch((failure) => toast(failure.message));
  }, REFRESH_MS);
  return () => clearInterval(timer);
}
