// Small DOM helpers shared by the views.

/** Build an element: h("a", {href: "#/", class: "x", onclick: f}, "text", child, ...). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key === "value") element.value = value;
    else element.setAttribute(key, value === true ? "" : value);
  }
  return fill(element, ...children);
}

/** Replace `element`'s children; null, undefined and false children are left out. */
export function fill(element, ...children) {
  element.replaceChildren();
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

export function formatDate(epochSeconds) {
  if (!epochSeconds) return "–";
  const date = new Date(epochSeconds * 1000);
  return date.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

export function duration(start, stop) {
  if (!start || stop === null || stop === undefined) return "–";
  const seconds = stop - start;
  return seconds < 1 ? `${Math.round(seconds * 1000)} ms` : `${seconds.toFixed(2)} s`;
}

export function pretty(value) {
  return value === undefined ? "" : JSON.stringify(value, null, 2);
}

export function statusBadge(status) {
  return h("span", {class: `badge status-${status}`}, status);
}

/** The name of an ARN: its last colon-separated part. */
export function arnName(arn) {
  return arn.slice(arn.lastIndexOf(":") + 1);
}

export function toast(message, isError = true) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.className = isError ? "error" : "info";
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 3000);
}

export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
