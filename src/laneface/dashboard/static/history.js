// Traveller history: a document's confirmed movements and its traveller's stays.

import { ApiError, getJSON } from "./api.js";
import { emptyState, errorState, fmtInstant, h, isIdent, replace } from "./dom.js";
import { tile } from "./live.js";

function table(id, headers, rows) {
  return h(
    "table",
    { class: "table", id },
    h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col", class: /^(Days|Allowed|Overstay)/.test(t) ? "num" : "" }, t)))),
    h("tbody", {}, rows),
  );
}

function movementBadge(movement) {
  return h("span", { class: `badge badge-${movement}` }, movement);
}

function stayStatus(stay) {
  if (stay.anomaly) return h("span", { class: "badge badge-no_match" }, stay.anomaly.replaceAll("_", " "));
  if (stay.overstay_days > 0) return h("span", { class: "badge badge-rejected" }, `overstay ${stay.overstay_days} d`);
  if (stay.ongoing) return h("span", { class: "badge badge-referred" }, "ongoing");
  return h("span", { class: "badge badge-match" }, "closed");
}

export function createHistoryView() {
  const form = document.getElementById("history-form");
  const input = document.getElementById("history-doc");
  const result = document.getElementById("history-result");
  let sequence = 0;

  async function search(docId) {
    const mine = ++sequence;
    input.value = docId;
    if (!isIdent(docId)) {
      replace(result, emptyState("Not a document id", "Document ids are letters, digits and . _ : - (up to 64)."));
      return;
    }
    replace(result, h("p", { class: "muted" }, "Searching…"));
    try {
      const history = await getJSON(`/v1/documents/${encodeURIComponent(docId)}/history`);
      let stays = null;
      let staysError = null;
      try {
        stays = await getJSON(`/v1/travellers/${encodeURIComponent(history.document.traveller_ref)}/stays`);
      } catch (error) {
        staysError = error;
      }
      if (mine !== sequence) return;
      render(history, stays, staysError);
    } catch (error) {
      if (mine !== sequence) return;
      if (error instanceof ApiError && error.status === 404) {
        replace(result, emptyState(`No document ${docId} in the records`, "Only documents enrolled in the gallery have a history."));
      } else {
        replace(result, errorState(error));
      }
    }
  }

  function render(history, stays, staysError) {
    const doc = history.document;
    const entries = history.entries;
    const statusTiles = [
      tile("Document", doc.doc_id, `${doc.doc_type.replaceAll("_", " ")}${doc.enrolled ? "" : " · no longer enrolled"}`),
      tile("Traveller", doc.traveller_ref, `citizenship ${doc.citizenship}${doc.biometric_opt_out ? " · biometric opt-out" : ""}`),
      tile("Movements", String(entries.length), "confirmed arrivals and departures"),
    ];
    const flags = doc.quality_flags || [];
    statusTiles.push(
      tile(
        "Enrolment photo",
        flags.length ? `${flags.length} quality flag${flags.length === 1 ? "" : "s"}` : "no quality flag",
        `${flags.join("; ")}${flags.length ? " · " : ""}${doc.has_photo ? "photo stored for adjudication" : "no photo stored"}`,
        flags.length ? "tile-alert" : "",
      ),
    );
    if (stays) {
      statusTiles.push(
        tile(
          "Status",
          stays.in_country ? "In country" : "Not in country",
          stays.citizen ? "citizen: no admission limit" : stays.overstaying ? "overstaying" : "within admission period",
          stays.overstaying ? "tile-alert" : "",
        ),
      );
    }
    const movements = entries.length
      ? table(
          "history-movements",
          ["When", "Movement", "Document", "Lane", "Passage", "Confirmed by"],
          entries.map((e) =>
            h(
              "tr",
              { "data-movement": e.movement },
              h("td", {}, fmtInstant(e.at)),
              h("td", {}, movementBadge(e.movement)),
              h("td", { class: "mono" }, `${e.doc_id} (${e.doc_type.replaceAll("_", " ")})`),
              h("td", {}, h("span", { class: "lane-badge" }, e.lane)),
              h("td", { class: "mono" }, e.passage_id),
              h("td", {}, e.source === "officer" ? "officer review" : "lane (automatic)"),
            ),
          ),
        )
      : emptyState("No confirmed movement", "Arrivals and departures appear once a lane match or an officer confirms them.");
    let staysBlock;
    if (staysError) {
      staysBlock = errorState(staysError);
    } else if (!stays.stays.length) {
      staysBlock = emptyState("No stay", "The traveller has no confirmed arrival or departure.");
    } else {
      staysBlock = table(
        "history-stays",
        ["Arrival", "Departure", "Document", "Days", "Allowed", "Overstay", "Status"],
        stays.stays.map((st) =>
          h(
            "tr",
            {},
            h("td", {}, st.arrival_at ? fmtInstant(st.arrival_at) : "—"),
            h("td", {}, st.departure_at ? fmtInstant(st.departure_at) : st.ongoing ? "in country" : "—"),
            h("td", { class: "mono" }, st.doc_id || "—"),
            h("td", { class: "num" }, st.days === null ? "—" : `${st.days} d`),
            h("td", { class: "num" }, st.allowed_days === null ? "no limit" : `${st.allowed_days} d`),
            h("td", { class: "num" }, st.overstay_days ? `${st.overstay_days} d` : "—"),
            h("td", {}, stayStatus(st)),
          ),
        ),
      );
    }
    replace(
      result,
      h("div", { class: "tiles" }, statusTiles),
      h("section", { class: "card section" }, h("h2", {}, "Movements"), movements),
      h("section", { class: "card section" }, h("h2", {}, `Stays of traveller ${doc.traveller_ref}`), staysBlock),
    );
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const docId = input.value.trim();
    if (!docId) return;
    const target = `#history/${encodeURIComponent(docId)}`;
    if (window.location.hash === target) search(docId);
    else window.location.hash = target;
  });

  return {
    show(docId) {
      if (docId) search(docId);
      else input.focus();
    },
    hide() {},
  };
}
