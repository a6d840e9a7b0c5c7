// musicgenre's page: upload files one after another to /api/predict and draw each result.
"use strict";

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
let labels = [];
let busy = Promise.resolve();

function colour(genre) {
  const i = labels.indexOf(genre);
  return i < 0 ? "#999" : PALETTE[i % PALETTE.length];
}

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const c of children) node.append(c);
  return node;
}

function formatDuration(s) {
  const m = Math.floor(s / 60);
  return `${m}:${(s - 60 * m).toFixed(1).padStart(4, "0")}`;
}

async function loadModel() {
  const box = document.getElementById("model");
  try {
    const resp = await fetch("/api/model");
    const info = await resp.json();
    labels = info.labels;
    box.textContent = `model ${info.model_id}: ${labels.length} genres (${labels.join(", ")})`;
    box.dataset.ready = "true";
  } catch (err) {
    box.textContent = `could not load the model description: ${err}`;
  }
}

function errorText(resp, body) {
  if (body && typeof body.detail === "string") return body.detail;
  if (resp.status === 503) return "the server is busy; try again shortly";
  return `HTTP ${resp.status}`;
}

function showResult(item, rec) {
  item.classList.add("done");
  item.querySelector(".status").textContent = "";
  const summary = item.querySelector(".summary");
  summary.hidden = false;
  const top = item.querySelector(".top-genre");
  top.textContent = rec.top_genre ?? "no genre (silent)";
  item.querySelector(".confidence").textContent =
    rec.top_genre ? `${(100 * rec.confidence).toFixed(1)}%` : "";
  item.querySelector(".duration").textContent =
    `${formatDuration(rec.duration)} · ${rec.n_windows} window${rec.n_windows === 1 ? "" : "s"} of ${rec.window_seconds} s`;
  const flags = item.querySelector(".flags");
  for (const f of rec.flags) flags.append(el("span", { className: "flag", textContent: f.replace("_", " ") }));

  const bars = item.querySelector(".bars");
  const order = labels.length ? labels : Object.keys(rec.probabilities);
  for (const genre of order) {
    const p = rec.probabilities[genre] ?? 0;
    const fill = el("div", { className: "fill" });
    fill.style.width = `${(100 * p).toFixed(2)}%`;
    fill.style.background = colour(genre);
    const bar = el("div", { className: "bar" }, [
      el("span", { className: "genre", textContent: genre }),
      el("div", { className: "track" }, [fill]),
      el("span", { className: "value", textContent: `${(100 * p).toFixed(1)}%` }),
    ]);
    bar.dataset.testid = "bar";
    bar.dataset.genre = genre;
    bar.dataset.probability = String(p);
    if (genre === rec.top_genre) bar.classList.add("top");
    bars.append(bar);
  }

  const timeline = item.querySelector(".timeline");
  const seen = new Set();
  const windows = rec.windows || [];
  windows.forEach((w, i) => {
    const end = i + 1 < windows.length ? windows[i + 1].start : Math.max(rec.duration, w.start + rec.hop_seconds);
    const block = el("div", { className: "block" + (w.silent ? " silent" : "") });
    block.style.flexGrow = String(Math.max(end - w.start, 1e-3));
    block.style.background = colour(w.top_genre);
    block.title = `${w.start.toFixed(1)} s: ${w.top_genre} ${(100 * w.probability).toFixed(0)}%${w.silent ? " (silent)" : ""}`;
    block.dataset.testid = "timeline-block";
    block.dataset.genre = w.top_genre;
    timeline.append(block);
    seen.add(w.top_genre);
  });
  const legend = item.querySelector(".legend");
  for (const genre of order.filter((g) => seen.has(g))) {
    const sw = el("i");
    sw.style.background = colour(genre);
    legend.append(el("span", {}, [sw, genre]));
  }
}

function showError(item, message) {
  item.classList.add("error", "done");
  item.querySelector(".status").textContent = message;
  item.querySelector(".status").dataset.testid = "error";
}

async function labelOne(file, item) {
  item.querySelector(".status").textContent = "uploading and labelling…";
  const form = new FormData();
  form.append("files", file, file.name);
  try {
    let resp = await fetch("/api/predict", { method: "POST", body: form });
    for (let retry = 0; resp.status === 503 && retry < 3; retry++) {
      const wait = Number(resp.headers.get("Retry-After")) || 5;
      item.querySelector(".status").textContent = `the server is busy; retrying in ${wait} s…`;
      await new Promise((done) => setTimeout(done, 1000 * wait));
      resp = await fetch("/api/predict", { method: "POST", body: form });
    }
    let body = null;
    try { body = await resp.json(); } catch (_) { /* not JSON */ }
    if (!resp.ok) return showError(item, errorText(resp, body));
    showResult(item, body[0]);
  } catch (err) {
    showError(item, `${file.name}: the request failed (${err})`);
  }
}

function labelFiles(files) {
  const list = document.getElementById("results");
  const progress = document.getElementById("progress");
  const template = document.getElementById("result-template");
  const items = Array.from(files, (file) => {
    const item = template.content.firstElementChild.cloneNode(true);
    item.querySelector(".file-name").textContent = file.name;
    item.querySelector(".status").textContent = "waiting…";
    return [file, item];
  });
  list.prepend(...items.map(([, item]) => item)); // the newest batch on top, in the order chosen
  busy = busy.then(async () => {
    for (const [i, [file, item]] of items.entries()) {
      progress.textContent = `labelling ${i + 1} of ${items.length}: ${file.name}`;
      await labelOne(file, item);
    }
    progress.textContent = `done: ${items.length} file${items.length === 1 ? "" : "s"}`;
  });
}

document.addEventListener("DOMContentLoaded", () => {
  busy = loadModel();
  const input = document.getElementById("file-input");
  const drop = document.getElementById("drop");
  input.addEventListener("change", () => { labelFiles(input.files); input.value = ""; });
  for (const ev of ["dragenter", "dragover"]) {
    drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  for (const ev of ["dragleave", "drop"]) {
    drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.remove("over"); });
  }
  drop.addEventListener("drop", (e) => labelFiles(e.dataTransfer.files));
});
