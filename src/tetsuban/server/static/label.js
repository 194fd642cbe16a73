// The single-image labeling page: keys 1-9 label, Enter accepts the suggestion, Space or 0 skips, Z or Backspace
// undoes the last label, arrows move.
// The next images are fetched ahead and their pictures preloaded, so a key press shows the next one at once.

const classesNav = document.getElementById("classes");
const image = document.getElementById("image");
const suggestionLine = document.getElementById("suggestion");
const statusLine = document.getElementById("status");
let classes = JSON.parse(classesNav.dataset.classes);
let queue = [];        // images fetched ahead: {id, suggestion, probability}
let history = [];      // images shown, for going back
let position = -1;     // index in history of the image on screen
let shownAt = performance.now();

function renderClasses(current) {
  classesNav.replaceChildren(...classes.map((name, i) => {
    const button = document.createElement("button");
    button.textContent = i < 9 ? `${i + 1} ${name}` : name;
    if (current && current.suggestion === name) button.classList.add("suggested");
    button.addEventListener("click", () => label(name, false));
    return button;
  }));
}

async function refill() {
  const seen = new Set([...queue, ...history].map((item) => item.id));
  const response = await fetch("/api/next?count=10");
  const data = await response.json();
  for (const item of data.images) {
    if (!seen.has(item.id)) {
      queue.push(item);
      new Image().src = `/images/${item.id}`;  // preload
    }
  }
}

function current() { return history[position]; }

function show() {
  const item = current();
  if (!item) { statusLine.textContent = "nothing left to label"; image.removeAttribute("src"); return; }
  image.src = `/images/${item.id}`;
  image.dataset.id = item.id;
  suggestionLine.textContent = item.suggestion
    ? `suggestion: ${item.suggestion} (${(item.probability * 100).toFixed(0)}%)` : "no suggestion yet";
  renderClasses(item);
  shownAt = performance.now();
}

async function advance() {
  if (position < history.length - 1) { position += 1; show(); return; }
  if (queue.length < 3) await refill();
  const next = queue.shift();
  if (next) { history.push(next); position = history.length - 1; }
  show();
  if (queue.length < 3) refill();
}

async function label(name, accepted) {
  const item = current();
  if (!item) return;
  const seconds = (performance.now() - shownAt) / 1000;
  const response = await fetch("/api/labels", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ image_id: item.id, label: name, seconds, accepted }),
  });
  if (!response.ok) { statusLine.textContent = (await response.json()).detail; return; }
  const result = await response.json();
  item.labelled = name;
  statusLine.textContent = `${result.labelled} labelled · model generation ${result.generation}`;
  await advance();
}

async function undo() {
  // back to the last labelled image, and its label taken back
  let back = position - 1;
  while (back >= 0 && !history[back].labelled) back -= 1;
  if (back < 0) return;
  const item = history[back];
  const response = await fetch("/api/undo", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ image_id: item.id }),
  });
  if (!response.ok) { statusLine.textContent = (await response.json()).detail; return; }
  item.labelled = null;
  position = back;
  statusLine.textContent = `${(await response.json()).labelled} labelled · undone`;
  show();
}

document.addEventListener("keydown", (event) => {
  if (event.target.tagName === "INPUT") return;
  const item = current();
  if (/^[1-9]$/.test(event.key) && classes[Number(event.key) - 1]) { label(classes[Number(event.key) - 1], false); }
  else if (event.key === "Enter" && item && item.suggestion) { label(item.suggestion, true); }
  else if (event.key === " " || event.key === "0") { event.preventDefault(); advance(); }
  else if ((event.key === "z" || event.key === "Backspace") && position > 0) { event.preventDefault(); undo(); }
  else if (event.key === "ArrowLeft" && position > 0) { position -= 1; show(); }
  else if (event.key === "ArrowRight") { advance(); }
});

document.getElementById("new-class").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("class-name");
  const name = input.value.trim();
  if (name && !classes.includes(name)) { classes.push(name); renderClasses(current()); }
  input.value = "";
});

advance();
