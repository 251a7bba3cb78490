// The review queue: no_match / not_captured occupants without a review, with the adjudication dialog.

import { getJSON } from "./api.js";
import {
  decisionBadge,
  docLink,
  emptyState,
  errorState,
  fmtDate,
  fmtNumber,
  fmtTime,
  h,
  isIdent,
  qualityMeter,
  replace,
  rowLabel,
} from "./dom.js";
import { openReview, thumb } from "./widgets.js";

const PAGE = 25;

export function createQueueView({ lanes, setQueueCount }) {
  const list = document.getElementById("queue-list");
  const pager = document.getElementById("queue-pager");
  const laneInput = document.getElementById("queue-lane");
  const decisionSelect = document.getElementById("queue-decision");
  let offset = 0;
  let sequence = 0;

  function normalise(item) {
    return { ...item, pk: item.occupant_pk };
  }

  function itemRow(item) {
    const occupant = normalise(item);
    return h(
      "tr",
      { "data-occupant": occupant.pk, "data-decision": occupant.decision },
      h("td", { class: "cell-thumb" }, thumb(occupant)),
      h(
        "td",
        {},
        h("div", {}, h("span", { class: "lane-badge" }, item.lane), " ", h("strong", {}, fmtTime(item.started_at))),
        h("div", { class: "muted small" }, `${fmtDate(item.started_at)} · ${item.direction}`),
      ),
      h("td", {}, h("span", { class: "mono" }, item.passage_id), h("div", { class: "muted small" }, `occupant ${item.occupant_id}`)),
      h("td", { class: "num" }, rowLabel(item.row)),
      h("td", {}, decisionBadge(item.decision)),
      h("td", {}, docLink(item.doc_id)),
      h("td", { class: "num" }, fmtNumber(item.score)),
      h("td", {}, qualityMeter(item.quality, item.quality_passed)),
      h(
        "td",
        { class: "actions" },
        h("button", { type: "button", class: "btn btn-primary btn-small", onclick: () => openReview(occupant, load) }, "Adjudicate"),
      ),
    );
  }

  function renderPager(page) {
    const first = page.total ? page.offset + 1 : 0;
    const last = page.offset + page.items.length;
    replace(
      pager,
      h("span", { class: "muted" }, page.total ? `${first}–${last} of ${page.total}` : ""),
      h("button", { type: "button", class: "btn btn-small", disabled: page.offset === 0, onclick: () => { offset = Math.max(0, offset - PAGE); load(); } }, "Previous"),
      h("button", { type: "button", class: "btn btn-small", disabled: last >= page.total, onclick: () => { offset += PAGE; load(); } }, "Next"),
    );
  }

  async function load() {
    const mine = ++sequence;
    const lane = laneInput.value.trim();
    if (lane && !isIdent(lane)) {
      replace(list, emptyState("Not a lane id", "Lane ids are letters, digits and . _ : - (for example L3)."));
      replace(pager);
      return;
    }
    try {
      let page = await getJSON("/v1/review-queue", { lane: lane || null, decision: decisionSelect.value || null, limit: PAGE, offset });
      if (!page.items.length && page.total && offset > 0) {
        offset = Math.max(0, Math.floor((page.total - 1) / PAGE) * PAGE); // the last page emptied: step back
        page = await getJSON("/v1/review-queue", { lane: lane || null, decision: decisionSelect.value || null, limit: PAGE, offset });
      }
      if (mine !== sequence) return;
      if (!lane && !decisionSelect.value) setQueueCount(page.total);
      for (const item of page.items) lanes.add(item.lane);
      if (!page.items.length) {
        replace(list, emptyState("Nothing to review", "Every occupant the lanes could not confirm has been adjudicated."));
      } else {
        replace(
          list,
          h(
            "div",
            { class: "card" },
            h(
              "table",
              { class: "table", id: "queue-table" },
              h(
                "thead",
                {},
                h(
                  "tr",
                  {},
                  ["Photo", "Seen", "Passage", "Row", "Lane decision", "Candidate", "Score", "Quality", ""].map((t) =>
                    h("th", { scope: "col", class: t === "Row" || t === "Score" ? "num" : "" }, t),
                  ),
                ),
              ),
              h("tbody", {}, page.items.map(itemRow)),
            ),
          ),
        );
      }
      renderPager(page);
    } catch (error) {
      if (mine !== sequence) return;
      replace(list, errorState(error));
      replace(pager);
    }
  }

  let debounce = null;
  laneInput.addEventListener("input", () => {
    window.clearTimeout(debounce);
    debounce = window.setTimeout(() => {
      offset = 0;
      load();
    }, 300);
  });
  decisionSelect.addEventListener("change", () => {
    offset = 0;
    load();
  });
  document.getElementById("queue-refresh").addEventListener("click", load);

  return {
    show() {
      load();
    },
    hide() {},
  };
}
