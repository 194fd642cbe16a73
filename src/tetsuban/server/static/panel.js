// The live panel: labels per class, labels in the last hour, when the next retrain comes, and the learning curve
// (validation accuracy against training labels, the same as `tetsuban curve`) with what it says of a target.
// Polled every 5 s.
import { get, t } from "./common.js";

const TARGET = 0.95;
const svg = document.getElementById("chart");
const NS = "http://www.w3.org/2000/svg";

function element(name, attributes, text) {
  const node = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function chart(curve) {
  // x: training labels from 0, y: validation accuracy from the lowest measured (rounded down to 10%) to 100%;
  // dots: measured, line: the fitted curve; the latest point carries its number
  const [w, h, left, bottom] = [260, 120, 30, 18];
  const points = curve.points;
  const maxX = Math.max(...points.map((p) => p.labels), 1);
  const minY = Math.min(0.9, Math.floor(Math.min(...points.map((p) => Math.min(p.accuracy, p.fitted))) * 10) / 10);
  const x = (n) => left + (n / maxX) * (w - left - 40);
  const y = (a) => h - bottom - ((a - minY) / Math.max(1e-6, 1 - minY)) * (h - bottom - 6);
  const last = points[points.length - 1];
  svg.append(
    element("line", { x1: left, y1: h - bottom, x2: w - 6, y2: h - bottom, class: "axis" }),
    element("line", { x1: left, y1: 6, x2: left, y2: h - bottom, class: "axis" }),
    element("text", { x: 2, y: y(1) + 4 }, "100%"),
    element("text", { x: 2, y: y(minY) + 4 }, `${Math.round(minY * 100)}%`),
    element("text", { x: left, y: h - 4 }, "0"),
    element("text", { x: x(maxX) - 8, y: h - 4 }, String(maxX)),
    element("polyline", { points: points.map((p) => `${x(p.labels)},${y(p.fitted)}`).join(" "), class: "fit" }),
    element("text", { x: x(last.labels) + 5, y: y(last.accuracy) + 4, class: "latest" },
      `${Math.round(last.accuracy * 100)}%`),
  );
  for (const p of points) {
    const dot = element("circle", { cx: x(p.labels), cy: y(p.accuracy), r: 2.5 });
    dot.append(element("title", {}, `${p.labels}: ${Math.round(p.accuracy * 1000) / 10}%`));
    svg.append(dot);
  }
}

function why(stats) {
  // what the panel says in place of the chart: what is missing, a failure, or that it is being drawn
  const missing = stats.curve_missing;
  if (stats.curve_failure) return t("curve_failed", { why: stats.curve_failure });
  if (missing && missing.kind === "val") return t("curve_needs_val", { n: missing.need - missing.have });
  if (missing) return t("curve_needs_train", { need: missing.need, have: missing.have });
  return t("curve_drawing");
}

function reach(stats) {
  const percent = Math.round(stats.target * 100);
  const r = stats.reach;
  if (r === null) return t("reach_none", { t: percent });
  const words = { t: percent, n: r.more, total: r.total, pool: r.train_images, a: Math.round(r.accuracy * 100) };
  return t(`reach_${r.verdict}`, words);
}

function showCurve(stats) {
  svg.replaceChildren();
  const caption = document.getElementById("curve-caption");
  svg.style.display = stats.curve === null ? "none" : "";
  if (stats.curve === null) caption.textContent = why(stats);
  else {
    chart(stats.curve);
    caption.textContent = t("curve_caption", { v: stats.curve.validation_images });
  }
  document.getElementById("target").textContent = reach(stats);
}

async function refresh() {
  const stats = await get(`/api/stats?target=${TARGET}`);
  const retrain = document.getElementById("retrain");
  retrain.textContent = stats.retrain_failure
    ? t("retrain_failed", { why: stats.retrain_failure }) : t("next_retrain", { n: stats.next_retrain_in });
  retrain.classList.toggle("error", Boolean(stats.retrain_failure));
  document.getElementById("last-hour").textContent = t("last_hour", { n: stats.last_hour });
  const table = document.getElementById("per-class");
  table.replaceChildren(...Object.entries(stats.per_class).map(([name, count]) => {
    const row = document.createElement("tr");
    row.append(Object.assign(document.createElement("td"), { textContent: name }),
      Object.assign(document.createElement("td"), { textContent: String(count) }));
    return row;
  }));
  showCurve(stats);
  if (stats.curve_pending) soon();  // the curve for the labels as they are is being drawn: look again shortly
}

let pending = null;
function soon() {  // at most one refresh a second
  if (pending === null) pending = setTimeout(() => { pending = null; refresh(); }, 1000);
}
document.addEventListener("changed", soon);  // after a label
refresh();
setInterval(refresh, 5000);
