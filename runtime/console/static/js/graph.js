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
 * The layout of a graph, computed once per graph object: views redraw the same graph at
 * every step of time travel, and dagre takes a while on a large machine.
 */
const layouts = new WeakMap();

function layoutOf(graph) {
  let layout = layouts.get(graph);
  if (!layout) {
    layout = layoutMachine(graph, true);
    layouts.set(graph, layout);
  }
  return layout;
}

/** The zoom and pan of each container's graph, kept across redraws. */
const views = new WeakMap();

/**
 * Replace `container`'s content with the graph. options: outcomes (state name -> {outcome}),
 * selected (a state name), onSelect(name).
 *
 * The graph is drawn in a viewport that zooms with the wheel (around the pointer) and the
 * +/- buttons, pans by dragging, and is fitted again by the reset button. Redrawing in the
 * same container keeps the user's zoom and pan; a graph never zoomed or panned is fitted
 * again (the editor redraws as the definition changes).
 */
export function renderGraph(container, graph, options = {}) {
  if (!graph || graph.nodes.length === 0) {
    views.delete(container);
    const empty = Object.assign(document.createElement("p"),
                                {className: "muted", textContent: "No states to draw."});
    container.replaceChildren(empty);
    return;
  }
  const layout = layoutOf(graph);
  let view = views.get(container);
  if (!view) {
    view = new GraphViewport(container);
    views.set(container, view);
  }
  view.show(layout, options);
}

const MIN_SCALE = 0.1;
const MAX_SCALE = 4;
/** Fitting a large machine stops shrinking it here, where state names are still readable;
 * the rest is reached by panning. */
const READABLE_SCALE = 0.75;
const MIN_HEIGHT = 220;
const MAX_HEIGHT = 640;
const MARGIN = 12;
/** A press that moves less than this is a click, not a drag. */
const DRAG_THRESHOLD = 4;

class GraphViewport {
  constructor(container) {
    this.layout = null;
    this.moved = false;       // zoomed or panned by the user since the last fit
    this.transform = {x: 0, y: 0, k: 1};
    this.root = svg("svg", {class: "graph", role: "img", width: "100%"});
    const defs = svg("defs");
    const arrow = svg("marker", {id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5,
                                 markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse"});
    arrow.append(svg("path", {d: "M0,0 L10,5 L0,10 z", class: "arrowhead"}));
    defs.append(arrow);
    this.content = svg("g", {class: "viewport"});
    this.root.append(defs, this.content);
    const button = (label, title, className, onclick) => Object.assign(
      document.createElement("button"), {type: "button", textContent: label, title, className,
                                         onclick});
    const toolbar = document.createElement("div");
    toolbar.className = "graph-toolbar";
    toolbar.append(
      button("+", "Zoom in", "graph-zoom-in", () => this.zoomBy(1.25)),
      button("\u2212", "Zoom out", "graph-zoom-out", () => this.zoomBy(0.8)),
      button("Reset", "Fit the graph (zoom and position)", "graph-reset", () => this.fit()));
    container.replaceChildren(toolbar, this.root);
    container.classList.add("zoomable");
    this.listen();
  }

  show(layout, options) {
    const fresh = layout !== this.layout;
    this.layout = layout;
    this.content.replaceChildren();
    drawMachine(layout, this.content, 0, 0, options);
    if (fresh && !this.moved) this.fit();
  }

  /** The whole graph when it is small enough; else as much as fits at a readable scale,
   * from the top and centred (or from its left edge when wider than the box). */
  fit() {
    const {width, height} = this.layout;
    const boxWidth = Math.max(200, this.root.getBoundingClientRect().width);
    const k = Math.max(READABLE_SCALE, Math.min(1, (boxWidth - 2 * MARGIN) / width,
                                                (MAX_HEIGHT - 2 * MARGIN) / height));
    const boxHeight = Math.min(MAX_HEIGHT, Math.max(MIN_HEIGHT, height * k + 2 * MARGIN));
    this.root.setAttribute("height", boxHeight);
    const spare = boxWidth - width * k;
    this.moved = false;
    this.apply({x: spare > 0 ? spare / 2 : MARGIN,
                y: Math.max(MARGIN, (boxHeight - height * k) / 2), k});
  }

  apply(transform) {
    this.transform = transform;
    this.content.setAttribute("transform",
                              `translate(${transform.x},${transform.y}) scale(${transform.k})`);
    this.root.dataset.zoom = transform.k.toFixed(3);
  }

  /** Zoom by `factor` keeping the point (x, y) of the box (default: its centre) in place. */
  zoomBy(factor, x = null, y = null) {
    const box = this.root.getBoundingClientRect();
    x ??= box.width / 2;
    y ??= box.height / 2;
    const {x: tx, y: ty, k} = this.transform;
    const scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, k * factor));
    const ratio = scale / k;
    this.moved = true;
    this.apply({x: x - (x - tx) * ratio, y: y - (y - ty) * ratio, k: scale});
  }

  listen() {
    const root = this.root;
    root.addEventListener("wheel", (event) => {
      event.preventDefault();
      const box = root.getBoundingClientRect();
      // Pixel deltas from a mouse wheel notch are ~100; trackpads send many small ones.
      const delta = event.deltaMode === 1 ? event.deltaY * 33 : event.deltaY;
      this.zoomBy(Math.exp(-delta * 0.002), event.clientX - box.left, event.clientY - box.top);
    }, {passive: false});

    let press = null;        // where a press began, and the transform then
    let dragged = false;     // the press became a drag: its click must not select a state
    root.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      press = {x: event.clientX, y: event.clientY, id: event.pointerId, from: this.transform};
      dragged = false;
    });
    root.addEventListener("pointermove", (event) => {
      if (!press || event.pointerId !== press.id) return;
      const dx = event.clientX - press.x;
      const dy = event.clientY - press.y;
      if (!dragged && Math.hypot(dx, dy) < DRAG_THRESHOLD) return;
      if (!dragged) {
        dragged = true;
        // Captured only once it is a drag: a capture from the press would retarget a plain
        // click on a state to the whole graph.
        root.setPointerCapture(event.pointerId);
        root.classList.add("panning");
      }
      this.moved = true;
      this.apply({...press.from, x: press.from.x + dx, y: press.from.y + dy});
    });
    const release = () => {
      press = null;
      root.classList.remove("panning");
    };
    root.addEventListener("pointerup", release);
    root.addEventListener("pointercancel", release);
    root.addEventListener("click", (event) => {
      if (dragged) {
        event.stopPropagation();
        dragged = false;
      }
    }, true);
  }
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
