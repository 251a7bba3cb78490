// Booth: the vehicle at a lane's booth, seat by seat, live (server-sent events), with a prompt button.

import { ApiError, boothThumbnailURL, documentPhotoURL, getJSON, postJSON, readEvents } from "./api.js";
import { emptyState, fmtNumber, fmtTime, h, isIdent, replace, rowLabel } from "./dom.js";
import { toast } from "./widgets.js";

const RECONNECT_MS = 2000;
const MESSAGES = {
  look_at_camera: "Everyone, look at the camera",
  remove_sunglasses: "Remove sunglasses",
  remove_hat: "Remove hats and caps",
  lower_window: "Lower the rear windows",
};

function photo(kind, promise, alt) {
  const box = h("div", { class: `thumb thumb-md thumb-loading ${kind}` });
  promise.then(
    (src) => {
      box.classList.remove("thumb-loading");
      replace(box, h("img", { src, alt }));
    },
    (error) => {
      box.classList.remove("thumb-loading");
      box.classList.add("thumb-none");
      replace(box, h("span", {}, error instanceof ApiError && error.status === 404 ? "no photo" : "unavailable"));
    },
  );
  return box;
}

function seatCard(booth, seat) {
  const identified = seat.state === "identified";
  const face = seat.thumbnail
    ? photo("booth-face", boothThumbnailURL(booth.lane, booth.passage_id, seat.occupant), `Occupant ${seat.occupant}`)
    : h("div", { class: "thumb thumb-md thumb-none" }, h("span", {}, "no thumbnail"));
  const doc = identified
    ? h(
        "div",
        { class: "seat-doc" },
        photo("booth-doc", documentPhotoURL(seat.doc_id), `Document photo of ${seat.doc_id}`),
        h(
          "div",
          {},
          h("div", { class: "mono" }, seat.doc_id),
          h("div", { class: "muted small" }, `score ${fmtNumber(seat.score, 3)} · ${seat.mode || ""}`),
        ),
      )
    : h("div", { class: "seat-doc muted small" }, "no document matched yet");
  const captured = seat.captured_at_s === null ? "" : ` at ${fmtNumber(seat.captured_at_s, 1)} s`;
  return h(
    "article",
    {
      class: `card seat seat-${seat.state}`,
      "data-occupant": seat.occupant,
      "data-state": seat.state,
      "aria-label": `Occupant ${seat.occupant}: ${seat.state}`,
    },
    h(
      "header",
      { class: "seat-head" },
      h("span", { class: "seat-title" }, `Occupant ${seat.occupant} · row ${rowLabel(seat.row)}`),
      h("span", { class: `badge ${identified ? "badge-match" : "badge-no_match"}` }, seat.state),
    ),
    h("div", { class: "seat-body" }, face, doc),
    h(
      "div",
      { class: "muted small" },
      `captured in ${seat.capture_zone || "the lane"}${captured}`,
      seat.quality === null ? "" : ` · quality ${fmtNumber(seat.quality, 0)}`,
    ),
  );
}

function missingCards(booth) {
  const cards = booth.seen_not_captured.map((row) =>
    h(
      "article",
      { class: "card seat seat-missing", "data-state": "missing" },
      h(
        "header",
        { class: "seat-head" },
        h("span", { class: "seat-title" }, `Row ${rowLabel(row)}`),
        h("span", { class: "badge badge-not_captured" }, "missing"),
      ),
      h("div", { class: "muted small" }, "Seen, face not yet good enough"),
    ),
  );
  if (booth.documents_unmatched > 0) {
    cards.push(
      h(
        "article",
        { class: "card seat seat-missing", "data-state": "unmatched" },
        h(
          "header",
          { class: "seat-head" },
          h("span", { class: "seat-title" }, "Documents read"),
          h("span", { class: "badge badge-not_captured" }, String(booth.documents_unmatched)),
        ),
        h("div", { class: "muted small" }, "holder(s) not identified yet"),
      ),
    );
  }
  return cards;
}

function summary(booth) {
  if (!booth.passage_id) return emptyState("No vehicle yet", "The booth fills in as soon as the lane reports one.");
  const missing = booth.seen_not_captured.length + booth.documents_unmatched;
  let state;
  if (booth.complete) {
    state = booth.complete_capture
      ? `Passage complete: every occupant captured${
          booth.stop_to_complete_s === null ? "" : `, ${fmtNumber(booth.stop_to_complete_s, 1)} s after the stop`
        }`
      : "Passage complete: not every occupant was captured";
  } else {
    state = missing ? `Still missing: ${missing}` : "Nothing missing so far";
  }
  return h(
    "div",
    { class: "booth-summary" },
    h("span", { class: "mono", id: "booth-passage" }, booth.passage_id),
    h("span", { class: "lane-badge" }, booth.zone || "lane"),
    h("span", { class: "muted" }, booth.t_s === null ? "" : `${fmtNumber(booth.t_s, 1)} s`),
    h("strong", { id: "booth-state", class: missing && !booth.complete ? "warn" : "" }, state),
  );
}

function promptItems(booth) {
  if (!booth.prompts.length) return [h("li", { class: "muted" }, "none")];
  return booth.prompts.map((p) =>
    h(
      "li",
      { "data-source": p.source },
      `${fmtTime(p.at)} · ${p.source === "officer" ? "officer" : "automatic"}`,
      p.message ? ` · ${MESSAGES[p.message] || p.message}` : "",
      p.missing !== null && p.missing !== undefined ? ` · ${p.missing} missing` : "",
    ),
  );
}

export function createBoothView({ lanes }) {
  const $ = (id) => document.getElementById(id);
  const laneInput = $("booth-lane");
  const status = $("booth-status");
  const button = $("booth-prompt");
  const message = $("booth-message");
  let lane = null;
  let controller = null;
  let retry = null;
  let latest = null;

  replace(message, Object.entries(MESSAGES).map(([value, text]) => h("option", { value }, text)));

  function render(booth) {
    latest = booth;
    replace($("booth-head"), summary(booth));
    replace($("booth-seats"), booth.seats.map((seat) => seatCard(booth, seat)), missingCards(booth));
    replace($("booth-prompts"), promptItems(booth));
    button.disabled = !booth.passage_id || booth.complete;
  }

  function stop() {
    if (controller) controller.abort();
    controller = null;
    if (retry) clearTimeout(retry);
    retry = null;
  }

  async function watch() {
    stop();
    if (!lane) return;
    const mine = new AbortController();
    controller = mine;
    status.textContent = "connecting…";
    try {
      await readEvents(
        `/v1/booth/${encodeURIComponent(lane)}/stream`,
        {},
        (name, data) => {
          if (name !== "booth" || controller !== mine) return;
          status.textContent = "live";
          status.dataset.state = "live";
          render(JSON.parse(data));
        },
        mine.signal,
      );
    } catch (error) {
      if (mine.signal.aborted) return;
      status.textContent = error instanceof ApiError && error.status ? error.message : "connection lost";
    }
    if (controller !== mine) return;
    status.dataset.state = "reconnecting";
    retry = setTimeout(watch, RECONNECT_MS); // the stream ends after a while, or the service restarted
  }

  function choose(name) {
    lane = name && isIdent(name) ? name : null;
    laneInput.value = lane || "";
    replace($("booth-seats"));
    replace($("booth-prompts"));
    replace($("booth-head"), emptyState("Choose a lane", "Type the lane's name, or pick one that has reported."));
    button.disabled = true;
    status.textContent = "";
    if (lane) {
      lanes.add(lane);
      if (window.location.hash !== `#booth/${encodeURIComponent(lane)}`) {
        window.history.replaceState(null, "", `#booth/${encodeURIComponent(lane)}`);
      }
      watch();
    }
  }

  $("booth-form").addEventListener("submit", (event) => {
    event.preventDefault();
    choose(laneInput.value.trim());
  });

  button.addEventListener("click", async () => {
    if (!lane || !latest) return;
    button.disabled = true;
    try {
      const given = await postJSON(`/v1/booth/${encodeURIComponent(lane)}/prompts`, { message: message.value });
      toast(`Prompt sent to lane ${given.lane}: ${given.text}`);
    } catch (error) {
      toast(error.message, "error");
    } finally {
      button.disabled = !latest.passage_id || latest.complete;
    }
  });

  return {
    async show(arg) {
      if (!arg) {
        try {
          const known = await getJSON("/v1/booth");
          for (const b of known) lanes.add(b.lane);
          if (known.length) arg = known[0].lane;
        } catch {
          // the lane field still works
        }
      }
      choose(arg);
    },
    hide() {
      stop();
    },
  };
}
