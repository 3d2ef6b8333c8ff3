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
  createStateMachine: (name, definition, type) =>
    call("POST", "state-machines", {name, definition, type}),
  updateStateMachine: (stateMachineArn, definition) =>
    call("POST", "state-machine", {stateMachineArn, definition}),
  validate: (definition, type) => call("POST", "validate", {definition, type}),
  graph: (definition) => call("POST", "graph", {definition}),
  executions: (stateMachineArn, status) =>
    call("GET", `executions?${query({stateMachineArn, status})}`),
  startExecution: (stateMachineArn, input, name) =>
    call("POST", "executions", {stateMachineArn, input, name}),
  execution: (arn) => call("GET", `execution?${query({arn})}`),
  stateAt: (arn, event) => call("GET", `state-at?${query({arn, event})}`),
  fork: (executionArn, event, {input, definition, name}) =>
    call("POST", "fork", {executionArn, event, input, definition, name}),
  redrive: (executionArn) => call("POST", "redrive", {executionArn}),
};
