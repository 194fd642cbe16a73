// The single-image page: keys 1-9 (and Shift+1-9) label, Enter accepts the suggestion (twice where it would
// change a label already given), Space or 0 skips, U marks unsure, Z or Backspace undoes the last label, arrows
// move. The next images are fetched ahead and their pictures preloaded, so a key press shows the next one at once.
import {
  classButtons, classOfKey, get, newClassForm, queue, send, showKeys, showReviewCount, statusLine, t,
} from "./common.js";

const classesNav = document.getElementById("classes");
const image = document.getElementById("image");
const suggestionLine = document.getElementById("suggestion");
const fieldsForm = document.getElementById("fields");
let upcoming = [];     // images fetched ahead: {id, suggestion, probability, label}
let history = [];      // images shown, for going back
let position = -1;     // index in history of the image on screen
let shownAt = performance.now();
let exhausted = false;
let waiting = false;   // the next images are being fetched: the image on screen is already labelled or skipped

let armed = null;      // the image whose label a second Enter changes to the suggestion
let filling = null;    // the fetch ahead in flight: one at a time, or two would queue the same images twice

function refill() {
  filling ??= fetchAhead().finally(() => { filling = null; });
  return filling;
}

async function fetchAhead() {
  const data = await get(`/api/next?count=10&queue=${encodeURIComponent(queue())}`);
  showReviewCount(data);
  const seen = new Set([...upcoming, ...history].map((item) => item.id));  // as they are now the answer is in
  const fresh = data.images.filter((item) => !seen.has(item.id));
  exhausted = data.images.length === 0;  // only the server's own "none left": an answer of images already here
  // (leased to us, their labels still on the way) is not the end of the queue
  for (const item of fresh) {
    upcoming.push(item);
    new Image().src = `/images/${item.id}`;  // preload
  }
}

function current() { return history[position]; }

function show() {
  const item = current();
  if (!item) { statusLine.textContent = t("nothing_left"); image.removeAttribute("src"); return; }
  image.src = `/images/${item.id}`;
  image.dataset.id = item.id;
  armed = null;
  const parts = [];
  const given = item.labelled || item.label;  // given on this page (an undo clears it), else as fetched
  if (given) parts.push(t("current", { name: given }));
  parts.push(item.suggestion
    ? t("suggestion", { name: item.suggestion, p: (item.probability * 100).toFixed(0) }) : t("no_suggestion"));
  suggestionLine.textContent = parts.join(" · ");
  classButtons(classesNav, (name) => label(name, false), item.suggestion);
  shownAt = performance.now();
  showFields(item.id);
}

async function showFields(id) {
  const data = await get(`/api/images/${id}/fields`);
  fieldsForm.replaceChildren(...data.fields.map((field) => fieldInput(id, field)));
  document.getElementById("fields-box").hidden = data.fields.length === 0;
}

function fieldInput(id, field) {
  const label = document.createElement("label");
  label.textContent = `${field.name} `;
  let input;
  if (field.kind === "choice") {
    input = document.createElement("select");
    input.append(new Option("", ""), ...field.choices.map((c) => new Option(c, c)));
    input.value = field.value ?? "";
  } else {
    input = document.createElement("input");
    input.type = field.kind === "bool" ? "checkbox" : field.kind === "number" ? "number" : "text";
    if (field.kind === "bool") input.checked = field.value === true; else input.value = field.value ?? "";
  }
  input.name = field.name;
  input.addEventListener("change", () => {
    const value = field.kind === "bool" ? input.checked
      : field.kind === "number" ? (input.value === "" ? null : Number(input.value)) : (input.value || null);
    send("/api/fields", { image_id: id, name: field.name, value });
  });
  label.append(input);
  return label;
}

async function advance() {
  if (position < history.length - 1) { position += 1; show(); return; }
  if (upcoming.length < 3 && !exhausted) {
    waiting = true;  // a key pressed now would label again the image just left
    image.setAttribute("aria-busy", "true");
    try { await refill(); } finally { waiting = false; image.removeAttribute("aria-busy"); }
  }
  const next = upcoming.shift();
  if (next) { history.push(next); position = history.length - 1; } else { position = history.length; }
  show();
  if (upcoming.length < 3 && !exhausted) refill();
}

// Writes go out in order (a label, then its undo) without holding up the next image: the page moves on at once
// and says so if the server refused.
let writes = Promise.resolve();
function write(path, body, onDone, onRefused = () => {}) {
  writes = writes.then(() => send(path, body)).then(onDone, onRefused);
  return writes;
}

function label(name, accepted) {
  const item = current();
  if (!item || waiting) return;
  const seconds = (performance.now() - shownAt) / 1000;
  item.labelled = name;
  write("/api/labels", { image_id: item.id, label: name, seconds, accepted }, (result) => {
    statusLine.textContent = t("status", { n: result.labelled, g: result.generation });
  }, () => { item.labelled = null; });
  advance();
}

function accept(item) {
  // Enter: the suggestion; where the image has a label that differs, only after a second Enter
  const given = item.labelled || item.label;
  if (given && given !== item.suggestion && armed !== item.id) {
    armed = item.id;
    suggestionLine.textContent = t("enter_again", { given, name: item.suggestion });
    return;
  }
  label(item.suggestion, true);
}

function unsure() {
  const item = current();
  if (!item) return;
  write("/api/unsure", { image_id: item.id }, (result) => {
    statusLine.textContent = t(result.created ? "unsure_created" : "unsure_marked");
  });
  advance();
}

function undo() {
  // back to the last labelled image, and its label taken back
  let back = Math.min(position, history.length) - 1;
  while (back >= 0 && !history[back].labelled) back -= 1;
  if (back < 0) return;
  const item = history[back];
  item.labelled = null;
  position = back;
  show();
  write("/api/undo", { image_id: item.id }, (result) => {
    statusLine.textContent = t("undone", { n: result.labelled });
  });
}

document.addEventListener("keydown", (event) => {
  if (["INPUT", "SELECT", "TEXTAREA"].includes(event.target.tagName) || event.ctrlKey || event.metaKey) return;
  if (waiting) return;  // no key acts on an image already left
  const item = current();
  const named = classOfKey(event);
  if (named) { event.preventDefault(); label(named, false); }
  else if (event.key === "Enter" && item && item.suggestion) { event.preventDefault(); accept(item); }
  else if (event.key === " " || event.key === "0") { event.preventDefault(); advance(); }
  else if (event.key === "u" || event.key === "U") unsure();
  else if ((event.key === "z" || event.key === "Backspace") && position > 0) { event.preventDefault(); undo(); }
  else if (event.key === "ArrowLeft" && position > 0) { position -= 1; show(); }
  else if (event.key === "ArrowRight") advance();
});

newClassForm(() => {
  classButtons(classesNav, (name) => label(name, false), current()?.suggestion);
  showKeys("single");
});
showKeys("single");
advance();
