// Statistics: capture rate by seat row, confirmations per day, officers' reviews and false-match reviews.

import { barChart, lineChart } from "./charts.js";
import { getJSON } from "./api.js";
import { errorState, fmtPercent, replace } from "./dom.js";
import { tile } from "./live.js";

const DAY_MS = 86400000;

function windowOf(days) {
  const now = new Date();
  const until = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) + DAY_MS;
  const since = until - days * DAY_MS;
  const labels = [];
  for (let t = since; t < until; t += DAY_MS) labels.push(new Date(t).toISOString().slice(0, 10));
  return { since: new Date(since).toISOString(), until: new Date(until).toISOString(), labels };
}

function sum(items, pick) {
  return items.reduce((total, item) => total + pick(item), 0);
}

export function createStatsView() {
  const select = document.getElementById("stats-days");
  const tiles = document.getElementById("stats-tiles");
  const body = (id) => document.querySelector(`#${id} .chart-body`);
  let sequence = 0;

  async function load() {
    const mine = ++sequence;
    const { since, until, labels } = windowOf(Number(select.value) || 14);
    const params = { since, until };
    let daily;
    let byRow;
    let reviews;
    try {
      [daily, byRow, reviews] = await Promise.all([
        getJSON("/v1/stats", { ...params, group_by: "day" }),
        getJSON("/v1/stats/capture-by-row", params),
        getJSON("/v1/stats/reviews", params),
      ]);
    } catch (error) {
      if (mine !== sequence) return;
      replace(tiles);
      for (const id of ["chart-capture", "chart-confirmations", "chart-reviews"]) replace(body(id), errorState(error));
      return;
    }
    if (mine !== sequence) return;
    const index = new Map(labels.map((day, i) => [day, i]));
    const zeros = () => labels.map(() => 0);

    const occupants = sum(daily.rows, (r) => r.occupants);
    const captured = sum(daily.rows, (r) => r.captured);
    const matchReviews = sum(reviews.days, (d) => d.match_reviews);
    const falseMatches = sum(reviews.days, (d) => d.false_match_reviews);
    replace(
      tiles,
      tile("Passages", String(sum(daily.rows, (r) => r.passages))),
      tile("Occupants", String(occupants)),
      tile("Capture rate", fmtPercent(occupants ? captured / occupants : null), `${captured} of ${occupants} captured`),
      tile("Confirmations", String(sum(daily.rows, (r) => r.confirmations)), "arrivals and departures"),
      tile("Officer reviews", String(sum(reviews.days, (d) => d.reviews))),
      tile(
        "False-match reviews",
        String(falseMatches),
        matchReviews ? `${fmtPercent(falseMatches / matchReviews)} of ${matchReviews} reviewed matches` : "no lane match reviewed",
        falseMatches ? "tile-alert" : "",
      ),
    );

    // capture rate by row: one line per seat row present in the period (unknown row last)
    const rows = [...new Set(byRow.rows.map((r) => r.row))].sort((a, b) => (a ?? 99) - (b ?? 99));
    const series = rows.map((row, k) => {
      const values = labels.map(() => null);
      const details = labels.map(() => "");
      for (const r of byRow.rows) {
        if (r.row !== row || !index.has(r.day)) continue;
        values[index.get(r.day)] = r.capture_rate;
        details[index.get(r.day)] = `${r.captured} of ${r.occupants}`;
      }
      return { name: row === null ? "row unknown" : `row ${row}`, cls: `s${Math.min(k + 1, 5)}`, values, details };
    });
    lineChart(body("chart-capture"), {
      title: "Capture rate by seat row per day",
      days: labels,
      series,
      emptyText: "No occupants in this period",
    });

    const confirmations = zeros();
    const occupantsPerDay = zeros();
    for (const r of daily.rows) {
      if (!index.has(r.group.day)) continue;
      confirmations[index.get(r.group.day)] = r.confirmations;
      occupantsPerDay[index.get(r.group.day)] = r.occupants;
    }
    barChart(body("chart-confirmations"), {
      title: "Occupants and confirmations per day",
      days: labels,
      series: [
        { name: "occupants", cls: "s-muted", values: occupantsPerDay },
        { name: "confirmations", cls: "s1", values: confirmations },
      ],
      emptyText: "No passages in this period",
    });

    const reviewCounts = zeros();
    const falseCounts = zeros();
    for (const d of reviews.days) {
      if (!index.has(d.day)) continue;
      reviewCounts[index.get(d.day)] = d.reviews;
      falseCounts[index.get(d.day)] = d.false_match_reviews;
    }
    barChart(body("chart-reviews"), {
      title: "Officer reviews and false-match reviews per day",
      days: labels,
      series: [
        { name: "reviews", cls: "s2", values: reviewCounts },
        { name: "false-match reviews", cls: "s-alert", values: falseCounts },
      ],
      emptyText: "No officer review in this period",
      width: 1300,
    });
  }

  select.addEventListener("change", load);
  document.getElementById("stats-refresh").addEventListener("click", load);

  return {
    show() {
      load();
    },
    hide() {},
  };
}
