// The console's JSON API (served under api/ next to this page).

async function call(method, path, body) {
  const response = await fetch(`api/${path}`, {
    method,
    headers: body === undefined ? {} : {"Content-Type": "application/json"},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const payload = await response.json();
  if (!response.ok) throw new Error(`${payload.error}: ${payload.message}`);
  return payload;
}

const query = (params) => new URLSearchParams(
  Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "")).toString();

export const api = {
  stateMachines: () => call("GET", "state-machines"),
  stateMachine: (arn) => call("GET", `state-machine?${query({arn})}`),
  // `publishing`: {publish, versionDescription}, to publish a version of what is saved.
  createStateMachine: (name, definition, type, publishing = {}) =>
    call("POST", "state-machines", {name, definition, type, ...publishing}),
  updateStateMachine: (stateMachineArn, definition, publishing = {}) =>
    call("POST", "state-machine", {stateMachineArn, definition, ...publishing}),
  // A state machine (with its versions and aliases), or one version.
  deleteStateMachine: (stateMachineArn) =>
    call("POST", "delete-state-machine", {stateMachineArn}),
  validate: (definition, type) => call("POST", "validate", {definition, type}),
  graph: (definition) => call("POST", "graph", {definition}),
  executions: (stateMachineArn, status) =>
    call("GET", `executions?${query({stateMachineArn, status})}`),
  startExecution: (stateMachineArn, input, name) =>
    call("POST", "executions", {stateMachineArn, input, name}),
  // The execution, with the events after id `after` (all of them when not given).
  execution: (arn, after) => call("GET", `execution?${query({arn, after})}`),
  stopExecution: (executionArn, error, cause) =>
    call("POST", "stop", {executionArn, error, cause}),
  stateAt: (arn, event) => call("GET", `state-at?${query({arn, event})}`),
  fork: (executionArn, event, {input, definition, name}) =>
    call("POST", "fork", {executionArn, event, input, definition, name}),
  redrive: (executionArn) => call("POST", "redrive", {executionArn}),
  // An execution's Map Runs (Distributed Map states), with their counts.
  mapRuns: (arn) => call("GET", `map-runs?${query({arn})}`),
  // A Map Run with its parent execution and its child executions.
  mapRun: (arn, status) => call("GET", `map-run?${query({arn, status})}`),
};
