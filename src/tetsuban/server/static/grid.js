// The grid: a page of thumbnails from the chosen queue (for example one class's likely members, most probable
// first). Select with the mouse (Shift for a range) or keys (arrows move, x or Space toggles, A selects all),
// then a class's key labels the selection; "accept all at or above p%" takes every suggestion that probable. A
// tile under review shows its current label beside the suggestion; a change of labels people gave asks first, and
// the last change of a page can be undone as one step (the button, or Z).
import {
  classButtons, classOfKey, get, newClassForm, queue, send, showKeys, showReviewCount, statusLine, t,
} from "./common.js";

const PAGE = 48;
const grid = document.getElementById("grid");
const classesNav = document.getElementById("classes");
const selectedLine = document.getElementById("selected");
const undoButton = document.getElementById("undo-page");
let items = [];             // {id, suggestion, probability, label}
let selected = new Set();   // image ids
let focus = 0;
let anchor = null;          // for Shift+click ranges
let shownAt = performance.now();
let busy = false;           // a labelling request is out: the tiles on screen are being replaced
let lastChange = [];        // image ids of the last page of labels, for an undo of them all

async function load() {
  const data = await get(`/api/next?count=${PAGE}&queue=${encodeURIComponent(queue())}`);
  showReviewCount(data);
  items = data.images;
  selected = new Set();
  focus = 0;
  shownAt = performance.now();
  render();
  if (!items.length) statusLine.textContent = t("nothing_left");
}

function render() {
  grid.replaceChildren(...items.map((item, index) => {
    const tile = document.createElement("figure");
    tile.className = "tile";
    tile.dataset.id = item.id;
    tile.setAttribute("role", "option");
    tile.setAttribute("aria-selected", String(selected.has(item.id)));
    if (index === focus) tile.classList.add("focus");
    const img = document.createElement("img");
    img.src = `/thumbs/${item.id}`;
    img.alt = "";
    img.loading = "lazy";
    const caption = document.createElement("figcaption");
    caption.textContent = captionOf(item);
    tile.append(img, caption);
    tile.addEventListener("click", (event) => pick(index, event.shiftKey));
    return tile;
  }));
  selectedLine.textContent = t("selected", { n: selected.size });
  classButtons(classesNav, (name) => labelSelected(name));
}

function captionOf(item) {
  const suggested = item.suggestion ? `${item.suggestion} ${(item.probability * 100).toFixed(0)}%` : "–";
  return item.label ? t("given_and_suggested", { given: item.label, suggested }) : suggested;
}

function pick(index, range) {
  if (busy) return;  // a click now would select a tile already labelled
  if (range && anchor !== null) {
    const [a, b] = [Math.min(anchor, index), Math.max(anchor, index)];
    for (let i = a; i <= b; i += 1) selected.add(items[i].id);
  } else {
    const id = items[index].id;
    if (selected.has(id)) selected.delete(id); else selected.add(id);
    anchor = index;
  }
  focus = index;
  render();
}

function changesPeoplesLabels(chosen) {
  // the labels people gave that ``chosen`` would replace with another
  const byId = new Map(items.map((item) => [item.id, item]));
  return chosen.filter((c) => byId.get(c.image_id).label && byId.get(c.image_id).label !== c.label);
}

async function labelMany(chosen) {
  if (!chosen.length || busy) return;
  const replaced = changesPeoplesLabels(chosen);
  if (replaced.length && !window.confirm(t("confirm_change", { n: replaced.length }))) return;
  await whileBusy(async () => {
    const seconds = (performance.now() - shownAt) / 1000;
    const result = await send("/api/labels/batch", { items: chosen, seconds });
    lastChange = chosen.map((c) => c.image_id);
    showUndo();
    await load();
    say(t("status", { n: result.labelled, g: result.generation }));
  });
}

async function undoLastChange() {
  if (!lastChange.length || busy) return;
  await whileBusy(async () => {
    const result = await send("/api/undo/batch", { image_ids: lastChange });
    const undone = lastChange.length;
    lastChange = [];
    showUndo();
    await load();
    say(t("undone_page", { n: undone, total: result.labelled }));
  });
}

function say(message) {
  // what the change did, once the next page is drawn (and that the queue is empty, when it is)
  statusLine.textContent = items.length ? message : `${message} · ${t("nothing_left")}`;
}

async function whileBusy(work) {
  busy = true;
  grid.setAttribute("aria-busy", "true");
  undoButton.disabled = true;  // until the page after the change is drawn
  try { await work(); } finally {
    busy = false;
    grid.removeAttribute("aria-busy");
    undoButton.disabled = false;
  }
}

function showUndo() {
  undoButton.hidden = lastChange.length === 0;
  undoButton.textContent = t("undo_page", { n: lastChange.length });
}
undoButton.addEventListener("click", undoLastChange);

function labelSelected(name) {
  const chosen = items.filter((item) => selected.has(item.id))
    .map((item) => ({ image_id: item.id, label: name, accepted: item.suggestion === name }));
  return labelMany(chosen);
}

document.getElementById("accept-above").addEventListener("submit", (event) => {
  event.preventDefault();
  const threshold = Number(document.getElementById("threshold").value) / 100;  // percent, as the captions say
  const chosen = items.filter((item) => item.suggestion && item.probability >= threshold)
    .map((item) => ({ image_id: item.id, label: item.suggestion, accepted: true }));
  labelMany(chosen);
});

document.getElementById("select-page").addEventListener("click", () => {
  items.forEach((item) => selected.add(item.id));
  render();
});

function columns() {
  const first = grid.firstElementChild;
  if (!first) return 1;
  return Math.max(1, Math.round(grid.clientWidth / first.getBoundingClientRect().width));
}

document.addEventListener("keydown", (event) => {
  if (["INPUT", "SELECT", "TEXTAREA"].includes(event.target.tagName) || event.ctrlKey || event.metaKey) return;
  if ((event.key === "z" || event.key === "Z") && !busy) { undoLastChange(); return; }
  if (!items.length || busy) return;  // no key acts on tiles already labelled
  const moves = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -columns(), ArrowDown: columns() };
  if (event.key in moves) {
    event.preventDefault();
    focus = Math.min(items.length - 1, Math.max(0, focus + moves[event.key]));
    render();
  } else if (event.key === "x" || event.key === " ") { event.preventDefault(); pick(focus, false); }
  else if (event.key === "a" || event.key === "A") { items.forEach((item) => selected.add(item.id)); render(); }
  else if (classOfKey(event)) { event.preventDefault(); labelSelected(classOfKey(event)); }
});

newClassForm(() => { render(); showKeys("grid"); });
showKeys("grid");
load();
