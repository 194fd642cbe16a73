// The page of `tetsuban export --format web`: each image is decoded by the browser (turned upright as its EXIF
// says, transparency on white), its RGB pixels go to model.onnx (the model's preprocessing is inside the graph),
// and its three most probable classes are shown. Everything shown is set as text, never as HTML.
"use strict";

const TOP = 3;
const state = { session: null, classes: [], queue: Promise.resolve(), stream: null };
const $ = (id) => document.getElementById(id);

async function start() {
  ort.env.wasm.numThreads = 1; // no cross-origin isolation needed: any static host serves the page
  ort.env.wasm.wasmPaths = "./";
  const about = await (await fetch("model.json")).json();
  state.classes = about.classes;
  state.session = await ort.InferenceSession.create("model.onnx");
  $("model").textContent = `Model ${about.id}, ${about.classes.length} classes, ${about.runtime}.`;
  $("status").textContent = "Ready.";
}

function pixelsOf(source, width, height) {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.fillStyle = "#ffffff";
  context.fillRect(0, 0, width, height);
  context.drawImage(source, 0, 0, width, height);
  const rgba = context.getImageData(0, 0, width, height).data;
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    rgb[j] = rgba[i];
    rgb[j + 1] = rgba[i + 1];
    rgb[j + 2] = rgba[i + 2];
  }
  return { canvas, rgb };
}

async function classify(rgb, width, height) {
  const input = new ort.Tensor("uint8", rgb, [1, height, width, 3]);
  const output = await state.session.run({ image: input });
  const probabilities = Array.from(output.probabilities.data);
  const order = probabilities.map((p, k) => k).sort((a, b) => probabilities[b] - probabilities[a]);
  return order.slice(0, TOP).map((k) => ({ label: state.classes[k], probability: probabilities[k] }));
}

function showResult(name, canvas, top, error) {
  const row = document.createElement("li");
  row.className = "result";
  row.dataset.name = name;
  const thumbnail = document.createElement("canvas");
  thumbnail.width = 96;
  thumbnail.height = 96;
  if (canvas) {
    const scale = Math.min(96 / canvas.width, 96 / canvas.height);
    thumbnail.getContext("2d").drawImage(canvas, 0, 0, canvas.width * scale, canvas.height * scale);
  }
  const text = document.createElement("div");
  const title = document.createElement("div");
  title.className = "name";
  title.textContent = name;
  text.append(title);
  if (error) {
    const message = document.createElement("div");
    message.className = "error";
    message.textContent = error;
    text.append(message);
    row.dataset.error = error;
  } else {
    row.dataset.top = top[0].label;
    row.dataset.probability = String(top[0].probability);
    for (const { label, probability } of top) {
      const line = document.createElement("div");
      line.textContent = `${label} ${(probability * 100).toFixed(1)}%`;
      const bar = document.createElement("span");
      bar.className = "bar";
      bar.style.width = `${Math.round(probability * 160)}px`;
      line.append(bar);
      text.append(line);
    }
  }
  row.append(thumbnail, text);
  $("results").prepend(row);
}

async function classifyFile(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image", premultiplyAlpha: "none", colorSpaceConversion: "none" });
  } catch (error) {
    showResult(file.name, null, null, "This file is not an image the browser can read.");
    return;
  }
  const { canvas, rgb } = pixelsOf(bitmap, bitmap.width, bitmap.height);
  bitmap.close();
  showResult(file.name, canvas, await classify(rgb, canvas.width, canvas.height), null);
}

function enqueue(files) {
  for (const file of files) {
    state.queue = state.queue.then(() => classifyFile(file)).catch((error) => showResult(file.name, null, null, String(error)));
  }
  state.queue = state.queue.then(() => { $("status").textContent = "Ready."; });
}

async function openCamera() {
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
  } catch (error) {
    $("status").textContent = "The camera cannot be opened here; choose a picture instead.";
    return;
  }
  $("video").srcObject = state.stream;
  $("viewer").hidden = false;
}

function takePicture() {
  const video = $("video");
  if (!video.videoWidth) return;
  const { canvas, rgb } = pixelsOf(video, video.videoWidth, video.videoHeight);
  state.queue = state.queue.then(async () => showResult("camera", canvas, await classify(rgb, canvas.width, canvas.height), null));
}

function stopCamera() {
  for (const track of state.stream ? state.stream.getTracks() : []) track.stop();
  state.stream = null;
  $("viewer").hidden = true;
}

function wire() {
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    enqueue(Array.from(event.dataTransfer.files));
  });
  $("files").addEventListener("change", (event) => { enqueue(Array.from(event.target.files)); event.target.value = ""; });
  $("camera").addEventListener("click", openCamera);
  $("take").addEventListener("click", takePicture);
  $("stop").addEventListener("click", stopCamera);
}

wire();
state.queue = start().catch((error) => { $("status").textContent = `The model could not be loaded: ${error}`; });
