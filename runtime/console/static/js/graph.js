// Drawing a definition's graph (from api/graph) as SVG. Each (sub)machine is laid out by
// dagre on its own, innermost first: a Parallel or Map state becomes one node as large as
// its laid-out branches or processor, so edges never cross a group's border.

import {dagre} from "../vendor/vendor.js";

const SVG = "http://www.w3.org/2000/svg";
const NODE_HEIGHT = 34;
const GROUP_HEADER = 26;
const GROUP_PADDING = 14;
const MARKER_SIZE = 22;
const START = "\u0000start";
const END = "\u0000end";

function textWidth(text) {
  return Math.max(110, text.length * 7.4 + 28);
}

/** Position every node and edge of a machine graph; `framed` adds Start and End markers. */
function layoutMachine(graph, framed) {
  const g = new dagre.graphlib.Graph({multigraph: true});
  g.setGraph({rankdir: "TB", nodesep: 28, ranksep: 36, edgesep: 12, marginx: 8, marginy: 8});
  g.setDefaultEdgeLabel(() => ({}));
  const nested = new Map();
  for (const node of graph.nodes) {
    const inner = node.branches ?? (node.processor ? [node.processor] : null);
    if (inner) {
      const parts = inner.map((machine) => layoutMachine(machine, false));
      const width = parts.reduce((sum, p) => sum + p.width, 0) +
        GROUP_PADDING * (parts.length + 1);
      const height = Math.max(40, ...parts.map((p) => p.height)) + GROUP_HEADER + GROUP_PADDING;
      nested.set(node.id, parts);
      g.setNode(node.id, {width: Math.max(width, textWidth(node.id) + 60), height, node});
    } else {
      g.setNode(node.id, {width: textWidth(node.id), height: NODE_HEIGHT, node});
    }
  }
  const edges = graph.edges.map((edge, index) => ({...edge, name: `e${index}`}));
  if (framed && graph.start) {
    g.setNode(START, {width: MARKER_SIZE * 3, height: MARKER_SIZE, marker: "Start"});
    g.setNode(END, {width: MARKER_SIZE * 3, height: MARKER_SIZE, marker: "End"});
    edges.push({from: START, to: graph.start, kind: "next", label: null, name: "start"});
    for (const node of graph.nodes) {
      if (node.end) edges.push({from: node.id, to: END, kind: "next", label: null,
                                name: `end-${node.id}`});
    }
  }
  for (const edge of edges) {
    const label = edge.label ? {width: edge.label.length * 6.2 + 10, height: 16} : {};
    g.setEdge(edge.from, edge.to, {...label, labelpos: "c", edge}, edge.name);
  }
  dagre.layout(g);
  const nodes = g.nodes().map((id) => {
    const laid = g.node(id);
    const box = {id, x: laid.x - laid.width / 2, y: laid.y - laid.height / 2,
                 width: laid.width, height: laid.height, node: laid.node, marker: laid.marker};
    const parts = nested.get(id);
    if (parts) {
      let left = box.x + GROUP_PADDING;
      box.children = parts.map((part) => {
        const placed = {part, dx: left, dy: box.y + GROUP_HEADER};
        left += part.width + GROUP_PADDING;
        return placed;
      });
    }
    return box;
  });
  const laidEdges = g.edges().map((key) => {
    const laid = g.edge(key);
    return {...laid.edge, points: laid.points, labelX: laid.x, labelY: laid.y};
  });
  const size = g.graph();
  return {width: size.width, height: size.height, nodes, edges: laidEdges};
}

function svg(tag, attributes = {}) {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  return element;
}

function edgePath(points) {
  // Straight segments meeting in gentle curves through dagre's bend points.
  let d = `M${points[0].x},${points[0].y}`;
  for (let i = 1; i < points.length - 1; i++) {
    const p = points[i];
    const next = points[i + 1];
    d += ` Q${p.x},${p.y} ${(p.x + next.x) / 2},${(p.y + next.y) / 2}`;
  }
  const last = points[points.length - 1];
  return `${d} L${last.x},${last.y}`;
}

function drawMachine(layout, parent, dx, dy, options) {
  const group = svg("g", {transform: `translate(${dx},${dy})`});
  parent.append(group);
  for (const edge of layout.edges) {
    group.append(svg("path", {d: edgePath(edge.points), class: `edge edge-${edge.kind}`,
                              "marker-end": "url(#arrow)"}));
    if (edge.label) {
      const width = edge.label.length * 6.2 + 10;
      const label = svg("g", {class: `edge-label edge-label-${edge.kind}`});
      label.append(svg("rect", {x: edge.labelX - width / 2, y: edge.labelY - 8, width,
                                height: 16, rx: 3}));
      const text = svg("text", {x: edge.labelX, y: edge.labelY + 4});
      text.textContent = edge.label;
      label.append(text);
      group.append(label);
    }
  }
  for (const box of layout.nodes) {
    if (box.marker) {
      const marker = svg("g", {class: "marker"});
      marker.append(svg("rect", {x: box.x, y: box.y, width: box.width, height: box.height,
                                 rx: box.height / 2}));
      const text = svg("text", {x: box.x + box.width / 2, y: box.y + box.height / 2 + 4});
      text.textContent = box.marker;
      marker.append(text);
      group.append(marker);
      continue;
    }
    const outcome = options.outcomes?.[box.id]?.outcome ?? "none";
    const classes = ["state", `type-${box.node.type}`, `outcome-${outcome}`];
    if (box.children) classes.push("group");
    if (options.selected === box.id) classes.push("selected");
    const node = svg("g", {class: classes.join(" "), "data-state": box.id,
                           "data-outcome": outcome, tabindex: 0});
    node.append(svg("rect", {x: box.x, y: box.y, width: box.width, height: box.height,
                             rx: box.node.type === "Choice" ? 14 : 5}));
    const title = svg("text", box.children
      ? {x: box.x + 10, y: box.y + 17, class: "group-title"}
      : {x: box.x + box.width / 2, y: box.y + box.height / 2 + 4});
    title.textContent = box.children ? `${box.node.type}: ${box.id}` : box.id;
    node.append(title);
    const tip = svg("title");
    tip.textContent = `${box.id} (${box.node.type})` +
      (box.node.comment ? `\n${box.node.comment}` : "") +
      (outcome !== "none" ? `\n${outcome}` : "");
    node.append(tip);
    node.addEventListener("click", (event) => {
      event.stopPropagation();
      options.onSelect?.(box.id);
    });
    group.append(node);
    for (const child of box.children ?? []) {
      drawMachine(child.part, group, child.dx, child.dy, options);
    }
  }
}

/**
 * Replace `container`'s content with the graph. options: outcomes (state name -> {outcome}),
 * selected (a state name), onSelect(name).
 */
export function renderGraph(container, graph, options = {}) {
  container.replaceChildren();
  if (!graph || graph.nodes.length === 0) {
    container.append(Object.assign(document.createElement("p"),
                                   {className: "muted", textContent: "No states to draw."}));
    return;
  }
  const layout = layoutMachine(graph, true);
  const root = svg("svg", {viewBox: `0 0 ${layout.width} ${layout.height}`, class: "graph",
                           width: layout.width, height: layout.height, role: "img"});
  const defs = svg("defs");
  const arrow = svg("marker", {id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5,
                               markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse"});
  arrow.append(svg("path", {d: "M0,0 L10,5 L0,10 z", class: "arrowhead"}));
  defs.append(arrow);
  root.append(defs);
  drawMachine(layout, root, 0, 0, options);
  container.append(root);
}

/** The legend for outcome colours. */
export function legend() {
  const box = document.createElement("div");
  box.className = "legend";
  for (const outcome of ["succeeded", "failed", "caught", "retried", "running", "none"]) {
    const item = document.createElement("span");
    item.className = `legend-item outcome-${outcome}`;
    item.textContent = outcome === "none" ? "not run" : outcome;
    box.append(item);
  }
  return box;
}
