// Collect from the app: drop image files on the panel (or anywhere on the page), or choose files / take a photo
// with a phone's camera; they are imported with the same checks as `tetsuban import`, optionally into a class.
import { classOptions, sendForm, t } from "./common.js";

const drop = document.getElementById("drop");
const input = document.getElementById("files");
const result = document.getElementById("upload-result");

async function upload(files) {
  if (!files.length) return;
  const form = new FormData();
  for (const file of files) form.append("files", file, file.name);
  const label = document.getElementById("upload-class").value;
  if (label) form.append("label", label);
  const answer = await sendForm("/api/upload", form);
  const refused = answer.skipped.map((s) => `${s.name}: ${s.reason}`).join("; ");
  result.textContent = t("uploaded", { added: answer.added, duplicate: answer.duplicate, skipped: answer.skipped.length })
    + (refused ? ` (${refused})` : "");
}

for (const target of [document.body, drop]) {
  target.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  target.addEventListener("dragleave", () => drop.classList.remove("over"));
  target.addEventListener("drop", (event) => {
    event.preventDefault();
    event.stopPropagation();
    drop.classList.remove("over");
    upload([...event.dataTransfer.files]);
  });
}
input.addEventListener("change", () => upload([...input.files]));

const intoClass = document.getElementById("upload-class");
const none = intoClass.options[0];  // "(no class)"
document.addEventListener("classes", () => classOptions(intoClass, [none]));
