// Small DOM helpers shared by every module of the review page.

/** The first element matching `selector` under `root`. */
export const $ = (selector, root = document) => root.querySelector(selector);

/** Every element matching `selector` under `root`, as an array. */
export const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

/**
 * An element: `attrs` holds attributes, `class`, `text`, `dataset` (an object) and event
 * handlers (`onclick`, ...); `children` are nodes, strings, arrays of them, or null (skipped).
 */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") element.className = value;
    else if (name === "text") element.textContent = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Remove every child of `element`; returns it. */
export function clear(element) {
  while (element.firstChild) element.firstChild.remove();
  return element;
}

/** Show `message` in the status line (an ARIA live region); `kind` "info", "ok" or "error". */
export function announce(message, kind = "info") {
  const status = $("#status");
  if (!status) return;
  status.textContent = message;
  status.dataset.kind = kind;
}

/** The first `length` characters of `text` on one line, with an ellipsis when cut. */
export function excerpt(text, length = 60) {
  const line = (text || "").replace(/\s+/g, " ").trim();
  return line.length > length ? `${line.slice(0, length - 1)}…` : line;
}

/** A date-time as the reader's locale writes it (an ISO 8601 string in). */
export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** True when `element` is a field that takes typing (text area, input, select, editable). */
export function isTextField(element) {
  if (!element) return false;
  const tag = element.tagName;
  return tag === "TEXTAREA" || tag === "SELECT" || (tag === "INPUT" && !["button", "checkbox", "radio", "submit"].includes(element.type))
    || element.isContentEditable;
}
