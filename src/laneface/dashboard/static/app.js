// Entry point: sign-in with an officer API key, hash routing between the five views.

import { ApiError, getJSON, session, setUnauthenticatedHandler } from "./api.js";
import { h, replace } from "./dom.js";
import { createBoothView } from "./booth.js";
import { createHistoryView } from "./history.js";
import { createLiveView } from "./live.js";
import { createQueueView } from "./queue.js";
import { createStatsView } from "./stats.js";

const $ = (id) => document.getElementById(id);
const VIEWS = ["live", "booth", "queue", "history", "stats"];

const lanes = {
  known: new Set(),
  add(lane) {
    if (this.known.has(lane)) return;
    this.known.add(lane);
    replace($("lane-options"), [...this.known].sort().map((l) => h("option", { value: l })));
  },
};

function setQueueCount(total) {
  const badge = $("queue-count");
  badge.textContent = String(total);
  badge.hidden = !total;
}

async function refreshQueueCount() {
  try {
    const page = await getJSON("/v1/review-queue", { limit: 1 });
    setQueueCount(page.total);
    return page.total;
  } catch {
    return null;
  }
}

const views = {
  live: createLiveView({ lanes, refreshQueueCount }),
  booth: createBoothView({ lanes }),
  queue: createQueueView({ lanes, setQueueCount }),
  history: createHistoryView(),
  stats: createStatsView(),
};
let current = null;

function showBanner(message) {
  const banner = $("banner");
  banner.textContent = message || "";
  banner.hidden = !message;
}

function parseHash() {
  const raw = window.location.hash.replace(/^#/, "");
  const [name, ...rest] = raw.split("/");
  let arg = null;
  if (rest.length) {
    try {
      arg = decodeURIComponent(rest.join("/"));
    } catch {
      arg = null;
    }
  }
  return { name: VIEWS.includes(name) ? name : "live", arg };
}

function route() {
  const signedIn = Boolean(session.key());
  $("view-signin").hidden = signedIn;
  $("nav").hidden = !signedIn;
  $("session").hidden = !signedIn;
  if (!signedIn) {
    if (current) views[current].hide();
    current = null;
    for (const name of VIEWS) $(`view-${name}`).hidden = true;
    $("signin-key").focus();
    return;
  }
  const { name, arg } = parseHash();
  if ($("review-dialog").open) $("review-dialog").close();
  if (current && current !== name) views[current].hide();
  for (const view of VIEWS) $(`view-${view}`).hidden = view !== name;
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${$(`${name}-title`).textContent} · laneface`;
  current = name;
  views[name].show(arg);
  if (name !== "live") refreshQueueCount(); // the live view refreshes it with every update
}

function signOut(message) {
  session.clear();
  setQueueCount(0);
  showBanner(message || "");
  route();
}

setUnauthenticatedHandler(() => signOut("The service no longer accepts this API key. Sign in again."));

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("signin-key");
  const error = $("signin-error");
  const button = $("signin-submit");
  const key = input.value.trim();
  if (!key) return;
  button.disabled = true;
  error.hidden = true;
  try {
    // an officer-only endpoint: proves the key and its role in one call
    await getJSON("/v1/review-queue", { limit: 1 }, { key });
    session.set(key);
    input.value = "";
    showBanner("");
    route();
  } catch (e) {
    let message = e.message;
    if (e instanceof ApiError && e.status === 401) message = "This API key is not accepted by the service.";
    if (e instanceof ApiError && e.status === 403) message = "This API key does not belong to an officer.";
    error.textContent = message;
    error.hidden = false;
    input.select();
  } finally {
    button.disabled = false;
  }
});

$("signout").addEventListener("click", () => signOut(""));
window.addEventListener("hashchange", route);
route();
