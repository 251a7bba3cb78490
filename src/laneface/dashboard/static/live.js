// Live lanes: the latest passages with their occupants, refreshed every few seconds.

import { getJSON } from "./api.js";
import {
  decisionBadge,
  docLink,
  emptyState,
  errorState,
  fmtDate,
  fmtNumber,
  fmtPercent,
  fmtTime,
  h,
  isIdent,
  qualityMeter,
  replace,
  rowLabel,
} from "./dom.js";
import { openReview, thumb } from "./widgets.js";

const REFRESH_MS = 5000;
const PASSAGES = 20;

export function tile(label, value, detail, kind = "") {
  return h(
    "div",
    { class: `tile ${kind}` },
    h("div", { class: "tile-label" }, label),
    h("div", { class: "tile-value" }, value),
    detail ? h("div", { class: "tile-detail muted" }, detail) : null,
  );
}

export function normalise(occupant, crossing) {
  return {
    pk: occupant.id,
    occupant_id: occupant.occupant_id,
    row: occupant.row,
    quality: occupant.quality,
    quality_passed: occupant.quality_passed,
    decision: occupant.decision,
    doc_id: occupant.doc_id,
    score: occupant.score,
    threshold: occupant.threshold,
    has_face_image: occupant.has_face_image,
    withheld_reason: occupant.withheld_reason,
    reviews: occupant.reviews,
    lane: crossing.lane,
    direction: crossing.direction,
    passage_id: crossing.passage_id,
    started_at: crossing.started_at,
  };
}

export function createLiveView({ lanes, refreshQueueCount }) {
  const list = document.getElementById("live-list");
  const tiles = document.getElementById("live-tiles");
  const updated = document.getElementById("live-updated");
  const laneInput = document.getElementById("live-lane");
  const auto = document.getElementById("live-auto");
  const dialog = document.getElementById("review-dialog");
  let timer = null;
  let sequence = 0;

  function occupantRow(occupant) {
    const last = occupant.reviews.length ? occupant.reviews[occupant.reviews.length - 1] : null;
    return h(
      "tr",
      { "data-occupant": occupant.pk, "data-decision": occupant.decision },
      h("td", { class: "cell-thumb" }, thumb(occupant)),
      h("td", {}, h("span", { class: "mono" }, occupant.occupant_id)),
      h("td", { class: "num" }, rowLabel(occupant.row)),
      h("td", {}, decisionBadge(occupant.decision)),
      h("td", {}, docLink(occupant.doc_id)),
      h("td", { class: "num" }, fmtNumber(occupant.score)),
      h("td", {}, qualityMeter(occupant.quality, occupant.quality_passed)),
      h("td", {}, last ? [decisionBadge(last.decision), h("span", { class: "muted small" }, ` ${fmtTime(last.decided_at)}`)] : h("span", { class: "muted" }, "—")),
      h(
        "td",
        { class: "actions" },
        h("button", { type: "button", class: "btn btn-small", onclick: () => openReview(occupant, load) }, "Adjudicate"),
      ),
    );
  }

  function passageCard(crossing) {
    const occupants = crossing.occupants.map((o) => normalise(o, crossing));
    const captured = occupants.filter((o) => o.decision !== "not_captured").length;
    return h(
      "article",
      { class: "card passage", "data-crossing": crossing.id },
      h(
        "header",
        { class: "passage-head" },
        h("span", { class: "lane-badge" }, crossing.lane),
        h("span", { class: `direction direction-${crossing.direction}` }, crossing.direction === "inbound" ? "→ inbound" : "← outbound"),
        h("span", { class: "mono passage-id" }, crossing.passage_id),
        h("span", { class: "passage-time" }, h("strong", {}, fmtTime(crossing.started_at)), h("span", { class: "muted small" }, ` ${fmtDate(crossing.started_at)} UTC`)),
        h("span", { class: "spacer" }),
        h("span", { class: "muted small" }, `${crossing.occupant_count} occupant${crossing.occupant_count === 1 ? "" : "s"} · ${captured} captured`),
        crossing.faces_not_counted
          ? h(
              "span",
              { class: "muted small", title: "Faces the lane did not count as occupants: printed on a shirt, a photo or a screen held up" },
              `· ${crossing.faces_not_counted} printed face${crossing.faces_not_counted === 1 ? "" : "s"} left out`,
            )
          : null,
        h(
          "span",
          { class: `badge ${crossing.complete_capture ? "badge-match" : "badge-no_match"}` },
          crossing.complete_capture ? "complete capture" : "incomplete capture",
        ),
      ),
      occupants.length
        ? h(
            "table",
            { class: "table" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                ["Photo", "Occupant", "Row", "Decision", "Document", "Score", "Quality", "Review", ""].map((t) =>
                  h("th", { scope: "col", class: t === "Row" || t === "Score" ? "num" : "" }, t),
                ),
              ),
            ),
            h("tbody", {}, occupants.map(occupantRow)),
          )
        : h("p", { class: "muted pad" }, "No occupant was detected in this passage."),
    );
  }

  function renderTiles(crossings, queueTotal) {
    const occupants = crossings.flatMap((c) => c.occupants);
    const captured = occupants.filter((o) => o.decision !== "not_captured").length;
    const matched = occupants.filter((o) => o.decision === "match").length;
    replace(
      tiles,
      tile("Passages shown", String(crossings.length), `latest ${PASSAGES} at most`),
      tile("Occupants", String(occupants.length)),
      tile("Captured", fmtPercent(occupants.length ? captured / occupants.length : null), `${captured} of ${occupants.length}`),
      tile("Matched", String(matched), "lane decision match"),
      tile("Awaiting review", queueTotal === null ? "—" : String(queueTotal), "all lanes", queueTotal ? "tile-warn" : ""),
    );
  }

  async function load() {
    const mine = ++sequence;
    const lane = laneInput.value.trim();
    if (lane && !isIdent(lane)) {
      replace(list, emptyState("Not a lane id", "Lane ids are letters, digits and . _ : - (for example L3)."));
      return;
    }
    try {
      const [page, queueTotal] = await Promise.all([
        getJSON("/v1/crossings", { limit: PASSAGES, lane: lane || null }),
        refreshQueueCount(),
      ]);
      if (mine !== sequence) return;
      for (const c of page.items) lanes.add(c.lane);
      renderTiles(page.items, queueTotal);
      if (!page.items.length) {
        replace(list, emptyState(lane ? `No passages in lane ${lane} yet` : "No passages yet", "New passages appear here as lanes report them."));
      } else {
        replace(list, page.items.map(passageCard));
      }
      updated.textContent = `Updated ${new Date().toISOString().slice(11, 19)} UTC`;
    } catch (error) {
      if (mine !== sequence) return;
      replace(list, errorState(error));
      updated.textContent = "";
    }
  }

  function schedule() {
    window.clearInterval(timer);
    timer = null;
    if (auto.checked) {
      timer = window.setInterval(() => {
        if (!dialog.open && document.visibilityState === "visible") load();
      }, REFRESH_MS);
    }
  }

  let debounce = null;
  laneInput.addEventListener("input", () => {
    window.clearTimeout(debounce);
    debounce = window.setTimeout(load, 300);
  });
  auto.addEventListener("change", schedule);
  document.getElementById("live-refresh").addEventListener("click", load);

  return {
    show() {
      load();
      schedule();
    },
    hide() {
      window.clearInterval(timer);
      timer = null;
    },
  };
}
