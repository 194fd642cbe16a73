// The live panel: labels per class, labels in the last hour, validation accuracy against labels (a chart), when
// the next retrain comes, and the labels the fitted curve expects a target to take. Polled every 5 s.
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

function chart(history) {
  // x: labels, y: accuracy from the lowest measured (rounded down to 10%) to 100%
  const [w, h, left, bottom] = [260, 120, 30, 18];
  svg.replaceChildren();
  if (!history.length) { svg.append(element("text", { x: 4, y: 60, class: "muted" }, t("no_val"))); return; }
  const maxX = Math.max(...history.map((p) => p.labels), 1);
  const minY = Math.floor(Math.min(...history.map((p) => p.accuracy)) * 10) / 10;
  const x = (n) => left + (n / maxX) * (w - left - 6);
  const y = (a) => h - bottom - ((a - minY) / Math.max(1e-6, 1 - minY)) * (h - bottom - 6);
  svg.append(
    element("line", { x1: left, y1: h - bottom, x2: w - 6, y2: h - bottom, class: "axis" }),
    element("line", { x1: left, y1: 6, x2: left, y2: h - bottom, class: "axis" }),
    element("text", { x: 2, y: y(1) + 4 }, "100%"),
    element("text", { x: 2, y: y(minY) + 4 }, `${Math.round(minY * 100)}%`),
    element("text", { x: w - 40, y: h - 4 }, String(maxX)),
    element("polyline", { points: history.map((p) => `${x(p.labels)},${y(p.accuracy)}`).join(" "), class: "curve" }),
  );
  for (const p of history) svg.append(element("circle", { cx: x(p.labels), cy: y(p.accuracy), r: 2.5 }));
}

async function refresh() {
  const stats = await get(`/api/stats?target=${TARGET}`);
  const retrain = document.getElementById("retrain");
  retrain.textContent = stats.retrain_failure
    ? t("retrain_failed", { why: stats.retrain_failure }) : t("next_retrain", { n: stats.next_retrain_in });
  retrain.classList.toggle("error", Boolean(stats.retrain_failure));
  document.getElementById("last-hour").textContent = t("last_hour", { n: stats.last_hour });
  const percent = Math.round(stats.target * 100);
  document.getElementById("target").textContent = stats.labels_to_target === null
    ? t("no_target", { t: percent }) : t("to_target", { n: stats.labels_to_target, t: percent });
  const table = document.getElementById("per-class");
  table.replaceChildren(...Object.entries(stats.per_class).map(([name, count]) => {
    const row = document.createElement("tr");
    row.append(Object.assign(document.createElement("td"), { textContent: name }),
      Object.assign(document.createElement("td"), { textContent: String(count) }));
    return row;
  }));
  chart(stats.history);
}

let pending = null;
document.addEventListener("changed", () => {  // after a label, at most one refresh a second
  if (pending === null) pending = setTimeout(() => { pending = null; refresh(); }, 1000);
});
refresh();
setInterval(refresh, 5000);
