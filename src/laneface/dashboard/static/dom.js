// DOM building without HTML strings: every piece of data becomes a text node or an attribute value.
// (The page's Content-Security-Policy enforces Trusted Types, so assigning an HTML string to the DOM would throw.)

const SVG_NS = "http://www.w3.org/2000/svg";

function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

function setAttrs(el, attrs) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  return el;
}

/** An HTML element: h("td", {class: "num"}, "42"). */
export function h(tag, attrs, ...children) {
  return append(setAttrs(document.createElement(tag), attrs), children);
}

/** An SVG element: s("rect", {x: 0, y: 0, width: 10, height: 10}). */
export function s(tag, attrs, ...children) {
  return append(setAttrs(document.createElementNS(SVG_NS, tag), attrs), children);
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export function pad2(n) {
  return String(n).padStart(2, "0");
}

/** "2026-05-01 08:04:05 UTC" */
export function fmtInstant(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "—";
  return `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 19)} UTC`;
}

export function fmtTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "—" : d.toISOString().slice(11, 19);
}

export function fmtDate(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "—" : d.toISOString().slice(0, 10);
}

export function fmtNumber(value, digits = 2) {
  return value === null || value === undefined ? "—" : Number(value).toFixed(digits);
}

export function fmtPercent(ratio, digits = 1) {
  return ratio === null || ratio === undefined ? "—" : `${(100 * ratio).toFixed(digits)} %`;
}

const DECISION_LABELS = {
  match: "match",
  no_match: "no match",
  not_captured: "not captured",
  confirmed: "confirmed",
  rejected: "rejected",
  referred: "referred",
};

/** A coloured badge for a lane decision or a review decision. */
export function decisionBadge(decision) {
  const known = Object.hasOwn(DECISION_LABELS, decision);
  return h(
    "span",
    { class: `badge badge-${known ? decision : "other"}`, "data-decision": decision },
    known ? DECISION_LABELS[decision] : decision,
  );
}

export function qualityMeter(quality, passed) {
  const value = Math.max(0, Math.min(100, Number(quality) || 0));
  const bar = h("span", { class: "meter-fill" });
  bar.style.width = `${value}%`;
  return h(
    "span",
    { class: `meter ${passed ? "meter-pass" : "meter-fail"}`, title: passed ? "passed the vehicle profile" : "failed" },
    h("span", { class: "meter-track" }, bar),
    h("span", { class: "meter-num" }, value.toFixed(0)),
  );
}

export function rowLabel(row) {
  return row === null || row === undefined ? "?" : String(row);
}

export function emptyState(title, detail) {
  return h("div", { class: "empty" }, h("p", { class: "empty-title" }, title), detail ? h("p", { class: "muted" }, detail) : null);
}

export function errorState(error) {
  return h(
    "div",
    { class: "empty empty-error", role: "alert" },
    h("p", { class: "empty-title" }, "Could not load the data"),
    h("p", { class: "muted" }, error && error.message ? error.message : String(error)),
  );
}

export function docLink(docId) {
  if (!docId) return h("span", { class: "muted" }, "—");
  return h("a", { href: `#history/${encodeURIComponent(docId)}`, class: "mono" }, docId);
}

/** The identifier syntax of lanes and document ids in the API. */
export function isIdent(text) {
  return /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/.test(text);
}
