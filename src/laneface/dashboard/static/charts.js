// Small SVG charts drawn with DOM calls (no library): a line chart and a grouped bar chart over days.

import { emptyState, h, replace, s } from "./dom.js";

const H = 250;
const M = { top: 14, right: 14, bottom: 34, left: 46 };
const PLOT_H = H - M.top - M.bottom;

function niceStep(max, ticks) {
  const raw = Math.max(max, 1) / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const unit = raw / power;
  const step = unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10;
  return Math.max(1, step * power);
}

// ``width`` is the viewBox width: a wide chart gets a wider box, so its text keeps the same size.
function frame(title, days, yMax, yTicks, yFormat, W) {
  const PLOT_W = W - M.left - M.right;
  const svg = s("svg", {
    viewBox: `0 0 ${W} ${H}`,
    class: "chart-svg",
    role: "img",
    "aria-label": title,
    preserveAspectRatio: "xMidYMid meet",
  });
  svg.append(s("title", {}, title));
  const y = (v) => M.top + PLOT_H - (PLOT_H * v) / yMax;
  const grid = s("g", { class: "grid" });
  for (const tick of yTicks) {
    grid.append(
      s("line", { x1: M.left, x2: W - M.right, y1: y(tick), y2: y(tick), class: tick === 0 ? "axis" : "gridline" }),
      s("text", { x: M.left - 8, y: y(tick) + 4, class: "tick tick-y", "text-anchor": "end" }, yFormat(tick)),
    );
  }
  svg.append(grid);
  const band = PLOT_W / Math.max(days.length, 1);
  const every = Math.max(1, Math.ceil(days.length / 10));
  const labels = s("g", { class: "x-labels" });
  days.forEach((day, i) => {
    if ((days.length - 1 - i) % every !== 0) return; // always label the latest day
    labels.append(
      s("text", { x: M.left + band * (i + 0.5), y: H - M.bottom + 18, class: "tick tick-x", "text-anchor": "middle" }, day.slice(5)),
    );
  });
  svg.append(labels);
  return { svg, y, band };
}

function legend(series) {
  return h(
    "ul",
    { class: "legend" },
    series.map((item) => h("li", {}, h("span", { class: `swatch ${item.cls}` }), item.name)),
  );
}

function hasData(series) {
  return series.some((item) => item.values.some((v) => v !== null && v !== undefined && v !== 0));
}

/** Lines of ratios (0..1, null = no data that day) over ``days``. */
export function lineChart(container, { title, days, series, emptyText, width = 640 }) {
  if (!hasData(series)) {
    replace(container, emptyState(emptyText || "No data in this period"));
    return;
  }
  const { svg, y, band } = frame(title, days, 1, [0, 0.25, 0.5, 0.75, 1], (v) => `${Math.round(v * 100)} %`, width);
  for (const item of series) {
    const group = s("g", { class: `series ${item.cls}`, "data-series": item.name });
    let d = "";
    let open = false;
    item.values.forEach((v, i) => {
      if (v === null || v === undefined) {
        open = false;
        return;
      }
      const x = M.left + band * (i + 0.5);
      d += `${open ? "L" : "M"}${x.toFixed(1)},${y(v).toFixed(1)} `;
      open = true;
    });
    group.append(s("path", { d: d.trim(), class: "line" }));
    item.values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      const detail = item.details ? ` (${item.details[i]})` : "";
      group.append(
        s(
          "circle",
          { cx: M.left + band * (i + 0.5), cy: y(v), r: 3.5, class: "point", "data-value": v.toFixed(4) },
          s("title", {}, `${item.name}, ${days[i]}: ${(100 * v).toFixed(1)} %${detail}`),
        ),
      );
    });
    svg.append(group);
  }
  replace(container, svg, legend(series));
}

/** Grouped bars of counts over ``days``. */
export function barChart(container, { title, days, series, emptyText, width = 640 }) {
  if (!hasData(series)) {
    replace(container, emptyState(emptyText || "No data in this period"));
    return;
  }
  const max = Math.max(...series.flatMap((item) => item.values));
  const step = niceStep(max, 4);
  const yMax = Math.max(step, Math.ceil(max / step) * step);
  const ticks = [];
  for (let t = 0; t <= yMax + 1e-9; t += step) ticks.push(t);
  const { svg, y, band } = frame(title, days, yMax, ticks, (v) => String(v), width);
  const inner = band * 0.72;
  const barWidth = inner / series.length;
  series.forEach((item, k) => {
    const group = s("g", { class: `series ${item.cls}`, "data-series": item.name });
    item.values.forEach((v, i) => {
      if (!v) return;
      const x = M.left + band * i + (band - inner) / 2 + barWidth * k;
      group.append(
        s(
          "rect",
          { x, y: y(v), width: Math.max(barWidth - 1, 1), height: y(0) - y(v), class: "bar", "data-value": v, rx: 1.5 },
          s("title", {}, `${item.name}, ${days[i]}: ${v}`),
        ),
      );
    });
    svg.append(group);
  });
  replace(container, svg, legend(series));
}
