// Pieces shared by the views: face thumbnails, the adjudication dialog, the toast.

import { ApiError, cachedFaceImageURL, documentPhotoURL, faceImageURL, getJSON, postJSON } from "./api.js";
import { decisionBadge, docLink, fmtInstant, fmtNumber, h, qualityMeter, replace, rowLabel } from "./dom.js";

/** A face thumbnail (read through the audited face-image endpoint) or why there is none. */
export function thumb(occupant, size = "sm") {
  const box = h("div", { class: `thumb thumb-${size}` });
  if (!occupant.has_face_image) {
    const why = occupant.withheld_reason === "opted_out" ? "withheld (opt-out)" : "no image";
    box.classList.add("thumb-none");
    box.append(h("span", {}, why));
    return box;
  }
  const alt = `Best shot of occupant ${occupant.occupant_id}`;
  const cached = cachedFaceImageURL(occupant.pk);
  if (cached) {
    box.append(h("img", { src: cached, alt, "data-occupant": occupant.pk }));
    return box;
  }
  box.classList.add("thumb-loading");
  faceImageURL(occupant.pk).then(
    (src) => {
      box.classList.remove("thumb-loading");
      replace(box, h("img", { src, alt, "data-occupant": occupant.pk }));
    },
    (error) => {
      box.classList.remove("thumb-loading");
      box.classList.add("thumb-none");
      const text = error instanceof ApiError && error.status === 404 ? "image purged" : "image unavailable";
      replace(box, h("span", {}, text));
    },
  );
  return box;
}

let toastTimer = null;

export function toast(message, kind = "ok") {
  const el = document.getElementById("toast");
  el.className = `toast toast-${kind}`;
  el.textContent = message;
  el.hidden = false;
  window.clearTimeout(toastTimer);
  toastTimer = window.setTimeout(() => {
    el.hidden = true;
  }, 4000);
}

/** The candidate document's enrolled photo (audited read) with its quality flags, or why there is none. */
function documentPhoto(docId) {
  const box = h("div", { class: "thumb thumb-lg thumb-loading", "data-document": docId || "" });
  const flags = h("ul", { class: "quality-flags small" });
  const none = (text) => {
    box.classList.remove("thumb-loading");
    box.classList.add("thumb-none");
    replace(box, h("span", {}, text));
  };
  if (!docId) {
    none("no candidate document");
    return [box, flags];
  }
  getJSON(`/v1/documents/${encodeURIComponent(docId)}/history`).then(
    (history) => {
      const doc = history.document;
      replace(flags, ...(doc.quality_flags || []).map((f) => h("li", {}, `quality: ${f}`)));
      if (!doc.has_photo) {
        none(doc.biometric_opt_out ? "withheld (opt-out)" : "no document photo");
        return;
      }
      documentPhotoURL(docId).then(
        (src) => {
          box.classList.remove("thumb-loading");
          replace(box, h("img", { src, alt: `Document photo of ${docId}`, "data-document": docId }));
        },
        () => none("photo unavailable"),
      );
    },
    (error) => none(error instanceof ApiError && error.status === 404 ? "not in the records" : "photo unavailable"),
  );
  return [box, flags];
}

function figure(caption, ...content) {
  return h("figure", { class: "review-figure" }, ...content, h("figcaption", { class: "muted small" }, caption));
}

/** "score 0.62 / threshold 0.41" (what the lane compared), or as much of it as is known. */
export function scoreText(score, threshold) {
  if (score === null || score === undefined) return "no score";
  const base = `score ${fmtNumber(score)}`;
  return threshold === null || threshold === undefined ? base : `${base} / threshold ${fmtNumber(threshold)}`;
}

function fact(term, ...value) {
  return [h("dt", {}, term), h("dd", {}, ...value)];
}

/**
 * Opens the adjudication dialog for one occupant (normalised: pk, occupant_id, row, quality, quality_passed,
 * decision, doc_id, score, has_face_image, withheld_reason, lane, passage_id, started_at). ``onDone`` runs
 * after the review is recorded.
 */
export function openReview(occupant, onDone) {
  const dialog = document.getElementById("review-dialog");
  const form = document.getElementById("review-form");
  const error = document.getElementById("review-error");
  const submit = document.getElementById("review-submit");
  form.reset();
  error.hidden = true;
  submit.disabled = false;
  document.getElementById("review-title").textContent = `Adjudicate occupant ${occupant.occupant_id}`;
  const controller = new AbortController();
  const [docBox, docFlags] = documentPhoto(occupant.doc_id);
  replace(
    document.getElementById("review-photo"),
    figure("Live best shot", thumb(occupant, "lg")),
    figure(occupant.doc_id ? `Document ${occupant.doc_id}` : "Document", docBox, docFlags),
  );
  replace(
    document.getElementById("review-facts"),
    fact("Passage", h("span", { class: "mono" }, occupant.passage_id)),
    fact("Lane", `${occupant.lane} · ${occupant.direction}`),
    fact("Seen", fmtInstant(occupant.started_at)),
    fact("Seat row", rowLabel(occupant.row)),
    fact("Lane decision", decisionBadge(occupant.decision)),
    fact("Candidate", docLink(occupant.doc_id)),
    fact("Comparison", h("span", { id: "review-score" }, scoreText(occupant.score, occupant.threshold))),
    fact("Quality", qualityMeter(occupant.quality, occupant.quality_passed)),
  );
  document.getElementById("review-doc").value = occupant.doc_id || "";

  const close = () => {
    controller.abort();
    dialog.close();
  };
  document.getElementById("review-close").addEventListener("click", close, { signal: controller.signal });
  document.getElementById("review-cancel").addEventListener("click", close, { signal: controller.signal });
  dialog.addEventListener("close", () => controller.abort(), { signal: controller.signal });
  form.addEventListener(
    "submit",
    async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const decision = data.get("decision");
      const docId = String(data.get("doc_id") || "").trim();
      const note = String(data.get("note") || "").trim();
      if (!decision) return;
      if (decision === "confirmed" && !docId) {
        error.textContent = "A confirmation needs the document id.";
        error.hidden = false;
        return;
      }
      submit.disabled = true;
      error.hidden = true;
      try {
        const body = { decision };
        if (docId) body.doc_id = docId;
        if (note) body.note = note;
        await postJSON(`/v1/occupants/${encodeURIComponent(occupant.pk)}/reviews`, body);
        close();
        toast(`Review recorded: occupant ${occupant.occupant_id} ${decision}.`);
        onDone();
      } catch (e) {
        error.textContent = e.message;
        error.hidden = false;
        submit.disabled = false;
      }
    },
    { signal: controller.signal },
  );
  dialog.showModal();
}
