// What every page shares: the CSRF token on every state change, the page's words, the queue chosen, classes.

const csrf = document.querySelector('meta[name="csrf"]').content;
const messages = JSON.parse(document.getElementById("messages").textContent);
export const statusLine = document.getElementById("status");

export function t(key, values = {}) {
  let text = messages[key] ?? key;
  for (const [name, value] of Object.entries(values)) text = text.replaceAll(`{${name}}`, String(value));
  return text;
}

export async function send(path, body) {
  // POST JSON with the CSRF token; returns the parsed answer, or throws with the server's message.
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify(body),
  });
  const data = await answer(response);
  document.dispatchEvent(new CustomEvent("changed"));  // the panel refreshes
  return data;
}

export async function sendForm(path, form) {
  const response = await fetch(path, { method: "POST", headers: { "X-CSRF-Token": csrf }, body: form });
  const data = await answer(response);
  document.dispatchEvent(new CustomEvent("changed"));
  return data;
}

export async function get(path) {
  return answer(await fetch(path));
}

async function answer(response) {
  if (response.status === 401) { window.location.href = "/login"; throw new Error("log in first"); }
  const data = await response.json().catch(() => ({ detail: response.statusText }));
  if (!response.ok) {
    const detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail);
    statusLine.textContent = response.status === 403 && detail.includes("CSRF") ? t("reload") : detail;
    throw new Error(detail);
  }
  return data;
}

// The queue: from the address (?queue=...), else the model's choice; changing it reloads the page on it.
export const queueSelect = document.getElementById("queue");
const chosen = new URLSearchParams(window.location.search).get("queue");
if (chosen && [...queueSelect.options].some((o) => o.value === chosen)) queueSelect.value = chosen;
queueSelect.addEventListener("change", () => {
  const url = new URL(window.location.href);
  url.searchParams.set("queue", queueSelect.value);
  window.location.href = url.toString();
});
export function queue() { return queueSelect.value; }

export function showReviewCount(answer) {
  // above a review queue: how many labels to expect wrong in all (an answer of /api/next), and how many are listed
  const line = document.getElementById("review-count");
  const expected = answer.expected_wrong;
  line.hidden = !expected;
  if (expected) {
    line.textContent = t("review_count", {
      n: expected.expected, labels: expected.labels, low: expected.low, high: expected.high, listed: expected.listed,
    });
  }
}

export const classes = JSON.parse(document.getElementById("classes-data").textContent);

// Keys for classes: 1-9 the first nine, Shift+1-9 the next nine; the rest by click.
export function keyName(index) {
  if (index < 9) return String(index + 1);
  return index < 18 ? `⇧${index - 8}` : null;
}

export function classOfKey(event) {
  // the class a key press names, if any: the digit itself (main row or keypad), or Shift and a main-row digit
  if (event.altKey) return undefined;
  if (!event.shiftKey && /^[1-9]$/.test(event.key)) return classes[Number(event.key) - 1];
  const digit = /^Digit([1-9])$/.exec(event.code);
  return event.shiftKey && digit ? classes[8 + Number(digit[1])] : undefined;
}

function labelKeys() {
  const n = classes.length;
  if (n <= 9) return n === 1 ? "1" : `1-${n}`;
  const more = Math.min(n, 18) - 9;
  const shifted = more === 1 ? "1-9, ⇧1" : `1-9, ⇧1-${more}`;
  return n <= 18 ? shifted : t("keys.click_rest", { keys: shifted, n: n - 18 });
}

export function showKeys(mode) {
  // the page's key hint, for the classes there are now
  const hint = document.getElementById("keys-hint");
  if (hint) hint.textContent = classes.length ? t(`keys.${mode}`, { labels: labelKeys() }) : t("keys.no_class");
}

export function classButtons(nav, onPick, suggested) {
  if (!classes.length) {
    const canAdd = Boolean(document.getElementById("new-class"));
    nav.replaceChildren(Object.assign(document.createElement("p"),
      { className: "hint", textContent: t(canAdd ? "no_class_add" : "no_class_ask") }));
    return;
  }
  nav.replaceChildren(...classes.map((name, i) => {
    const button = document.createElement("button");
    button.type = "button";
    const key = keyName(i);
    button.textContent = key ? `${key} ${name}` : name;
    if (suggested === name) button.classList.add("suggested");
    // One press, one label: the second click of a double click lands on the next image's button, unseen.
    button.addEventListener("click", (event) => { if (event.detail <= 1) onPick(name); });
    return button;
  }));
}

export function newClassForm(onAdded) {
  const form = document.getElementById("new-class");
  if (!form) return;
  let adding = Promise.resolve();  // one add at a time: each answer's class list is newer than the one before
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("class-name");
    const name = input.value.trim();
    input.value = "";
    input.blur();  // the keys label again: "1" no longer types into the box
    if (!name || classes.includes(name)) return;
    adding = adding.then(() => send("/api/classes", { name })).then((result) => {
      classes.splice(0, classes.length, ...result.classes);
      onAdded();
      document.dispatchEvent(new CustomEvent("classes"));  // the panel's class lists follow
    }, () => {});  // refused: send has said why on the status line
  });
}

export function classOptions(select, first = []) {
  // ``select``'s options: ``first`` (fixed ones), then every class now; the choice kept where it still exists
  const chosen = select.value;
  select.replaceChildren(...first, ...classes.map((name) => new Option(name, name)));
  if ([...select.options].some((option) => option.value === chosen)) select.value = chosen;
}

const logout = document.getElementById("logout");
if (logout) {
  logout.addEventListener("click", async () => {
    await fetch("/logout", { method: "POST", headers: { "X-CSRF-Token": csrf } });
    window.location.href = "/login";
  });
}
