// Editing classes (reviewers): rename one, merge one into another, or remove one. Each change is kept in the
// label history; the page reloads with the new classes and says what was done.
import { classOptions, get, send, t } from "./common.js";

const which = document.getElementById("edit-class");
const nameInput = document.getElementById("edit-name");
const result = document.getElementById("edit-result");
const DONE = "tetsuban-class-edit";

function reloadSaying(message) {
  sessionStorage.setItem(DONE, message);
  window.location.reload();
}

async function edit(path, body, message) {
  try {
    const answer = await send(path, body);
    reloadSaying(t(message, { ...body, n: answer.images }));
  } catch (error) {
    result.textContent = error.message;
  }
}

document.getElementById("rename-class").addEventListener("click", () => {
  const name = nameInput.value.trim();
  if (name) edit("/api/classes/rename", { old: which.value, new: name }, "renamed");
});

document.getElementById("merge-class").addEventListener("click", () => {
  const into = nameInput.value.trim();
  if (into) edit("/api/classes/merge", { classes: [which.value], into }, "merged");
});

document.getElementById("remove-class").addEventListener("click", async () => {
  const name = which.value;
  const count = (await get("/api/stats")).per_class[name] ?? 0;
  if (count && !window.confirm(t("confirm_remove", { name, n: count }))) return;
  edit("/api/classes/remove", { name }, "removed");
});

document.addEventListener("classes", () => classOptions(which));  // a class added on the page
result.textContent = sessionStorage.getItem(DONE) ?? "";
sessionStorage.removeItem(DONE);
