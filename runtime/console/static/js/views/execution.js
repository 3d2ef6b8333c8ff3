// One execution: graph coloured by each state's outcome, the state inspector, the event
// table (a page at a time: histories run to thousands of events), the definition it runs,
// and time travel (a step control over the events: the graph, inspector and table show the
// execution as of the chosen event, from which it can be forked). A running execution is
// followed (polling for the events it adds) and can be stopped. A Distributed Map state's
// Map Runs are shown when it is selected, linking to their child executions; a child
// execution links back to its Map Run and parent execution.

import {api} from "../api.js";
import {
  arnName, debounce, duration, fill, formatDate, h, pretty, statusBadge, toast,
} from "../dom.js";
import {legend, renderGraph} from "../graph.js";
import {forkDialog, stopExecutionDialog} from "./dialogs.js";

const REFRESH_MS = 1000;
const PAGE_SIZE = 100;
const REDRIVABLE = new Set(["FAILED", "TIMED_OUT", "ABORTED"]);
/** Where the definition the execution runs came from (it is always the exact one). */
const DEFINITION_NOTES = {
  fork: () => "The definition this execution was forked with.",
  mapRun: () => "A child execution of a Map Run: it runs its Distributed Map's ItemProcessor.",
  version: (execution) => `The definition of version ${execution.version}, which it runs.`,
  stateMachine: () => "The state machine's definition, unchanged since this execution started.",
  updated: () => "The state machine was updated after this execution started: this is the " +
    "definition the execution runs, not the machine's current one.",
  deleted: () => "The state machine has been deleted: this is the definition the execution ran.",
};

/** Add each event's step (state name) to `byId`: its own, or that of the event it follows
 * from. */
function addStepNames(events, byId) {
  for (const event of events) {
    const own = (event.stateEnteredEventDetails ?? event.stateExitedEventDetails)?.name;
    byId.set(event.id, own ?? byId.get(event.previousEventId) ?? "");
  }
}

const pageOf = (eventId) => Math.max(0, Math.floor((eventId - 1) / PAGE_SIZE));

/** The state machine an execution belongs to (its ARN less the version, if any; for a Map
 * Run's child, whose machine is the labelled ".../Label", its parent's machine). */
function machineArnOf(execution) {
  const arn = execution.stateMachineArn;
  if (execution.mapRunArn) return arn.slice(0, arn.lastIndexOf("/"));
  return execution.version ? arn.slice(0, arn.lastIndexOf(":")) : arn;
}

const executionLink = (arn, text) =>
  h("a", {href: `#/execution?arn=${encodeURIComponent(arn)}`}, text ?? arnName(arn));
export const mapRunLink = (arn, text) =>
  h("a", {href: `#/map-run?arn=${encodeURIComponent(arn)}`, class: "map-run-link"},
    text ?? arnName(arn));

/** Whether the history shows a Map Run (only then are Map Runs asked for). */
const startsMapRuns = (events) => events.some((event) => event.type === "MapRunStarted");

/** A Map Run's counts, as AWS's console sums them up. */
export function mapRunCounts(run) {
  return `${run.succeeded} succeeded, ${run.failed} failed, ${run.running} running ` +
    `of ${run.total} item(s)`;
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
  const {graph} = data.definition ? await api.graph(data.definition) : {graph: null};
  const steps = new Map();
  addStepNames(data.events, steps);
  let cursor = data.events.length;           // the event shown (1-based id)
  let page = pageOf(cursor);                 // the page of the event table shown
  let selected = null;                        // the selected state's name
  let snapshot = null;                        // api.stateAt for `cursor`
  let request = 0;
  let mapRuns = startsMapRuns(data.events) ? (await api.mapRuns(arn)).mapRuns : [];

  const header = h("div");
  const slider = h("input", {type: "range", id: "event-slider", min: 1, step: 1});
  const position = h("span", {class: "position", id: "event-position"});
  const graphBox = h("div", {class: "graph-box", id: "execution-graph"});
  const inspector = h("aside", {class: "inspector", id: "inspector"});
  const tbody = h("tbody");
  const pageInfo = h("span", {class: "position", id: "events-page"});
  const pager = {
    first: h("button", {title: "First page", id: "events-first-page",
                        onclick: () => showPage(0)}, "\u00AB"),
    previous: h("button", {title: "Previous page", id: "events-previous-page",
                           onclick: () => showPage(page - 1)}, "\u2039"),
    next: h("button", {title: "Next page", id: "events-next-page",
                       onclick: () => showPage(page + 1)}, "\u203A"),
    last: h("button", {title: "Last page", id: "events-last-page",
                       onclick: () => showPage(Infinity)}, "\u00BB"),
  };
  const definitionSection = h("section", {id: "execution-definition"});
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
      h("button", {id: "fork", onclick: openFork, disabled: !data.definition},
        "Fork from here")),
    h("section", {class: "split execution-split"},
      h("div", {}, graphBox, legend()),
      inspector),
    h("section", {},
      h("div", {class: "title-row"}, h("h2", {}, "Events"),
        h("div", {class: "buttons pager"},
          pager.first, pager.previous, pageInfo, pager.next, pager.last)),
      h("table", {class: "list events", id: "events"},
        h("thead", {}, h("tr", {}, ["ID", "Type", "Step", "Elapsed", ""]
          .map((title) => h("th", {}, title)))),
        tbody)),
    definitionSection);

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
    const machineLink = `#/machine?arn=${encodeURIComponent(machineArnOf(execution))}`;
    fill(header,
      h("div", {class: "title-row"},
        h("h1", {}, execution.name, " ", statusBadge(execution.status)),
        h("div", {class: "buttons"},
          execution.status === "RUNNING" &&
            h("button", {id: "stop-execution", class: "danger",
                         onclick: () => stopExecutionDialog(arn, execution.name, reload)},
              "Stop execution"),
          REDRIVABLE.has(execution.status) &&
            h("button", {id: "redrive", onclick: redrive}, "Redrive"))),
      h("dl", {class: "facts"},
        h("dt", {}, "State machine"),
        h("dd", {}, h("a", {href: machineLink}, arnName(machineArnOf(execution)))),
        execution.mapRunArn && [
          h("dt", {}, "Map Run"), h("dd", {id: "execution-map-run"},
                                    mapRunLink(execution.mapRunArn)),
          h("dt", {}, "Parent execution"), h("dd", {id: "execution-parent"},
                                             executionLink(execution.parentExecutionArn))],
        execution.version && [h("dt", {}, "Version"),
                              h("dd", {id: "execution-version"}, execution.version)],
        h("dt", {}, "Started"), h("dd", {}, formatDate(execution.startDate)),
        h("dt", {}, "Duration"), h("dd", {}, duration(execution.startDate, execution.stopDate)),
        execution.redriveCount > 0 && [h("dt", {}, "Redrives"),
                                       h("dd", {}, execution.redriveCount)],
        execution.error && [h("dt", {}, "Error"),
                            h("dd", {class: "error-text"}, execution.error)],
        execution.cause && [h("dt", {}, "Cause"),
                            h("dd", {class: "error-text"}, execution.cause)]));
  }

  function drawDefinition() {
    const note = DEFINITION_NOTES[data.definitionSource]?.(data.execution) ?? "";
    fill(definitionSection,
      h("h2", {}, "Definition"),
      h("p", {class: data.definitionSource === "updated" ? "warning-text" : "muted",
              id: "definition-note"}, note),
      data.definition && h("details", {},
        h("summary", {}, "Show the definition"),
        h("pre", {class: "json definition"}, pretty(parsedOrText(data.definition)))));
  }

  /** Show page `number` of the event table (clamped to the pages there are). */
  function showPage(number) {
    const pages = Math.max(1, Math.ceil(data.events.length / PAGE_SIZE));
    page = Math.min(pages - 1, Math.max(0, number));
    drawEvents();
  }

  function drawEvents() {
    const total = data.events.length;
    const first = page * PAGE_SIZE;
    const shown = data.events.slice(first, first + PAGE_SIZE);
    const start = data.events[0]?.timestamp ?? 0;
    pageInfo.textContent = total === 0 ? "No events"
      : `${first + 1}\u2013${first + shown.length} of ${total}`;
    pager.first.disabled = pager.previous.disabled = page === 0;
    pager.next.disabled = pager.last.disabled = first + PAGE_SIZE >= total;
    tbody.replaceChildren(...shown.map((event) => {
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
                                           `${summary.error}\n${summary.cause ?? ""}`)),
      mapRunsSection(mapRuns.filter((run) => run.state === selected)));
  }

  function mapRunsSection(runs) {
    if (runs.length === 0) return null;
    return section(runs.length === 1 ? "Map Run" : `Map Runs (${runs.length})`,
      h("ul", {class: "map-runs"}, runs.map((run) => h("li", {"data-map-run": run.mapRunArn},
        statusBadge(run.status), " ", mapRunLink(run.mapRunArn, "child executions"),
        h("div", {class: "muted"}, mapRunCounts(run))))), "state-map-runs");
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

  /** Show the execution as of `eventId`; the event table turns to its page, unless
   * `keepPage` and the page shown is not the one the cursor was on (the user is reading
   * another page while the latest event is followed). */
  function moveTo(eventId, {keepPage = false} = {}) {
    if (!eventId) return;
    const turn = !keepPage || page === pageOf(cursor);
    cursor = eventId;
    if (turn && page !== pageOf(cursor)) {
      page = pageOf(cursor);
      drawEvents();
    }
    drawPosition();
    fetchState();
  }

  async function reload() {
    const following = cursor === data.events.length;
    const update = await api.execution(arn, data.events.length);
    addStepNames(update.events, steps);
    data = {...update, events: data.events.concat(update.events)};
    if (startsMapRuns(data.events)) mapRuns = (await api.mapRuns(arn)).mapRuns;
    drawHeader();
    drawEvents();
    if (following) moveTo(data.events.length, {keepPage: true});
    else drawPosition();
  }

  drawHeader();
  drawEvents();
  drawDefinition();
  drawGraph();
  moveTo(cursor);
  const timer = setInterval(() => {
    if (data.execution.status === "RUNNING") reload().catch((failure) => toast(failure.message));
  }, REFRESH_MS);
  return () => clearInterval(timer);
}
