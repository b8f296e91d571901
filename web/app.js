// sam-server's page: open an image, click to segment it. Plain JS, no build step and
// nothing from the internet; the API it calls is the one documented in the README.
"use strict";

const $ = (id) => document.getElementById(id);
const stage = $("stage"), imageCanvas = $("image"), overlay = $("overlay"), statusLine = $("status");
const params = new URLSearchParams(location.search || location.hash.slice(1));
const token = params.get("token");

const state = {
  image: null,        // {id, width, height, name}
  bitmap: null,       // the picture, for drawing
  scale: 1,           // display pixels per image pixel
  points: [],         // [{x, y, label}] in image pixels
  box: null,          // [x0, y0, x1, y1]
  history: [],        // earlier {points, box}, for undo
  answer: null,       // the last predict answer
  chosen: 0,          // which of its masks
  everything: null,   // the generator's records
  job: null,
  request: 0,         // answers to older requests are dropped
  drag: null,
};

// ---- the API ----

async function api(method, path, body, contentType) {
  const headers = {};
  if (token) headers["Authorization"] = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = contentType || "application/json";
  const res = await fetch(path, {method, headers, body: contentType || body === undefined ? body : JSON.stringify(body)});
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = {error: text}; }
  if (!res.ok) throw new Error((data && data.error) || res.status + " " + res.statusText);
  return data;
}

function setStatus(text) { statusLine.textContent = text; }

// ---- masks: COCO's compressed RLE (pycocotools' rleFrString), column-major runs ----

function rleCounts(s) {
  const counts = [];
  let p = 0;
  while (p < s.length) {
    let x = 0, k = 0, more = true;
    while (more) {
      const c = s.charCodeAt(p) - 48;
      x += (c & 0x1f) * Math.pow(32, k);
      more = (c & 0x20) !== 0;
      p++; k++;
      if (!more && (c & 0x10)) x -= Math.pow(32, k);  // sign extension
    }
    if (counts.length > 2) x += counts[counts.length - 2];
    counts.push(x);
  }
  return counts;
}

// Calls paint(i) for every pixel index i (row-major) inside the mask.
function forEachPixel(seg, paint) {
  const [h, w] = seg.size, counts = rleCounts(seg.counts);
  let pos = 0;
  for (let r = 0; r < counts.length; r++) {
    const end = pos + counts[r];
    if (r & 1) for (let i = pos; i < end; i++) paint((i % h) * w + Math.floor(i / h));
    pos = end;
  }
}

function colour(i) {  // distinct hues, golden-angle apart
  const hue = (i * 137.508) % 360, s = 0.75, l = 0.55;
  const f = (n) => { const k = (n + hue / 30) % 12, a = s * Math.min(l, 1 - l); return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1)))); };
  return [f(0), f(8), f(4)];
}

// ---- drawing ----

const maskCanvas = document.createElement("canvas");

function paintMasks() {
  const {width: w, height: h} = state.image;
  maskCanvas.width = w; maskCanvas.height = h;
  const ctx = maskCanvas.getContext("2d"), img = ctx.createImageData(w, h), px = img.data;
  if (state.everything) {
    const order = state.everything.map((r, i) => i).sort((a, b) => state.everything[b].area - state.everything[a].area);
    for (const i of order) {
      const [r, g, b] = colour(i);
      forEachPixel(state.everything[i].segmentation, (k) => { px[4 * k] = r; px[4 * k + 1] = g; px[4 * k + 2] = b; px[4 * k + 3] = 140; });
    }
  } else if (state.answer) {
    forEachPixel(state.answer.masks[state.chosen], (k) => { px[4 * k] = 30; px[4 * k + 1] = 120; px[4 * k + 2] = 255; px[4 * k + 3] = 120; });
  }
  ctx.putImageData(img, 0, 0);
}

function drawOverlay() {
  const ctx = overlay.getContext("2d");
  ctx.clearRect(0, 0, overlay.width, overlay.height);
  if (!state.image) return;
  ctx.drawImage(maskCanvas, 0, 0, overlay.width, overlay.height);
  const s = state.scale;
  const box = state.drag && state.drag.moved ? state.drag.box : state.box;
  if (box) {
    ctx.strokeStyle = "#ffd400"; ctx.lineWidth = 2;
    ctx.strokeRect(box[0] * s, box[1] * s, (box[2] - box[0]) * s, (box[3] - box[1]) * s);
  }
  for (const p of state.points) {
    ctx.beginPath();
    ctx.arc(p.x * s, p.y * s, 5, 0, 2 * Math.PI);
    ctx.fillStyle = p.label ? "#22c55e" : "#ef4444";
    ctx.fill();
    ctx.strokeStyle = "#fff"; ctx.lineWidth = 1.5; ctx.stroke();
  }
}

function redraw() { paintMasks(); drawOverlay(); updateControls(); }

function updateControls() {
  const has = !!state.image, prompts = state.points.length > 0 || !!state.box;
  $("undo").disabled = !state.history.length;
  $("clear").disabled = !prompts && !state.everything;
  $("everything").disabled = !has || !!state.job;
  $("cancel").hidden = !state.job;
  $("export-mask").disabled = !state.answer;
  $("export-all").disabled = !state.answer && !state.everything;
  const choices = $("choices");
  choices.textContent = "";
  if (state.answer && !state.everything)
    state.answer.masks.forEach((m, i) => {
      const b = document.createElement("button");
      b.textContent = `${i + 1}: IoU ${m.iou.toFixed(3)}, ${m.area} px`;
      b.className = i === state.chosen ? "chosen" : "";
      b.onclick = () => choose(i);
      choices.appendChild(b);
    });
}

function choose(i) {
  if (!state.answer || i >= state.answer.masks.length) return;
  state.chosen = i;
  redraw();
}

// ---- opening an image ----

async function openFile(file) {
  if (!file) return;
  const bytes = await file.arrayBuffer();
  setStatus(`encoding ${file.name}…`);
  const t0 = performance.now();
  let info;
  try {
    info = await api("POST", "/api/images", bytes, file.type || "application/octet-stream");
  } catch (e) {
    setStatus(`${file.name}: ${e.message}`);
    return;
  }
  const bitmap = await createImageBitmap(new Blob([bytes]), {imageOrientation: "from-image"});
  Object.assign(state, {image: {...info, name: file.name}, bitmap, points: [], box: null, history: [], answer: null, everything: null, chosen: 0});
  const maxWidth = Math.max(200, stage.clientWidth - 4);
  state.scale = Math.min(1, maxWidth / info.width);
  for (const c of [imageCanvas, overlay]) { c.width = Math.round(info.width * state.scale); c.height = Math.round(info.height * state.scale); }
  imageCanvas.getContext("2d").drawImage(bitmap, 0, 0, imageCanvas.width, imageCanvas.height);
  $("drop-hint").hidden = true;
  stage.dataset.image = info.id;
  setStatus(`${file.name}: ${info.width}x${info.height}, ` + (info.cached ? "already encoded" : `encoded in ${(info.encode_ms / 1000).toFixed(2)} s`) +
            ` (${((performance.now() - t0) / 1000).toFixed(2)} s in all). Click to segment.`);
  redraw();
}

// ---- prompts ----

function snapshot() { state.history.push({points: state.points.slice(), box: state.box && state.box.slice()}); }

async function predict() {
  const id = ++state.request;
  state.everything = null;
  if (!state.points.length && !state.box) { state.answer = null; redraw(); answered(); return; }
  const body = {multimask: $("multimask").checked};
  if (state.points.length) { body.points = state.points.map((p) => [p.x, p.y]); body.labels = state.points.map((p) => p.label); }
  if (state.box) body.box = state.box;
  const t0 = performance.now();
  try {
    const answer = await api("POST", `/api/images/${state.image.id}/predict`, body);
    if (id !== state.request) return;
    state.answer = answer;
    state.chosen = answer.best;
    const m = answer.masks[answer.best];
    setStatus(`mask ${answer.best + 1} of ${answer.masks.length}: IoU ${m.iou.toFixed(3)}, ${m.area} px\n` +
              `server ${answer.server_ms.toFixed(0)} ms, round trip ${(performance.now() - t0).toFixed(0)} ms`);
  } catch (e) {
    if (id !== state.request) return;
    setStatus(e.message);
    if (/no image/.test(e.message)) setStatus(e.message + " Open the image again.");
  }
  redraw();
  answered();
}

function answered() { stage.dataset.answers = String((+stage.dataset.answers || 0) + 1); }  // for tests: an answer is drawn

function imagePoint(ev) {
  const r = overlay.getBoundingClientRect();
  const x = (ev.clientX - r.left) * state.image.width / r.width, y = (ev.clientY - r.top) * state.image.height / r.height;
  return [Math.min(state.image.width, Math.max(0, Math.round(x))), Math.min(state.image.height, Math.max(0, Math.round(y)))];
}

overlay.addEventListener("contextmenu", (ev) => ev.preventDefault());
overlay.addEventListener("mousedown", (ev) => {
  if (!state.image || state.job) return;
  state.drag = {start: imagePoint(ev), x: ev.clientX, y: ev.clientY, moved: false, box: null, button: ev.button, shift: ev.shiftKey};
});
window.addEventListener("mousemove", (ev) => {
  const d = state.drag;
  if (!d) return;
  if (Math.hypot(ev.clientX - d.x, ev.clientY - d.y) > 4) d.moved = true;
  if (d.moved) {
    const [x, y] = imagePoint(ev);
    d.box = [Math.min(d.start[0], x), Math.min(d.start[1], y), Math.max(d.start[0], x), Math.max(d.start[1], y)];
    drawOverlay();
  }
});
window.addEventListener("mouseup", () => {
  const d = state.drag;
  if (!d) return;
  state.drag = null;
  snapshot();
  if (d.moved) state.box = d.box;
  else state.points.push({x: d.start[0], y: d.start[1], label: d.button === 2 || d.shift ? 0 : 1});
  predict();
});

function undo() {
  if (!state.history.length) return;
  const h = state.history.pop();
  state.points = h.points; state.box = h.box;
  predict();
}

function clearAll() {
  if (state.points.length || state.box) snapshot();
  state.points = []; state.box = null; state.answer = null; state.everything = null;
  setStatus("cleared");
  redraw();
}

// ---- segment everything ----

async function everything() {
  if (!state.image || state.job) return;
  const progress = $("progress");
  try {
    const job = await api("POST", `/api/images/${state.image.id}/auto?async=1`, {});
    state.job = job.job;
    updateControls();
    progress.hidden = false;
    for (;;) {
      await new Promise((r) => setTimeout(r, 400));
      const s = await api("GET", `/api/jobs/${job.job}`);
      const total = s.points_total * Math.max(1, s.n_crops);
      progress.value = total ? (s.crop * s.points_total + s.points_done) / total : 0;
      setStatus(`segmenting everything: crop ${s.crop + 1} of ${Math.max(1, s.n_crops)}, ${s.points_done} of ${s.points_total} points, ${s.seconds.toFixed(1)} s`);
      if (s.state === "done") break;
      if (s.state !== "running" && s.state !== "queued") throw new Error(s.error || s.state);
    }
    const records = await api("GET", `/api/jobs/${job.job}/result`);
    state.everything = records;
    state.answer = null;
    setStatus(`${records.length} masks`);
  } catch (e) {
    setStatus(`segment everything: ${e.message}`);
  }
  state.job = null;
  progress.hidden = true;
  redraw();
}

async function cancelJob() { if (state.job) try { await api("DELETE", `/api/jobs/${state.job}`); } catch (e) { setStatus(e.message); } }

// ---- exports ----

function download(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

function stem() { return state.image.name.replace(/\.[^.]*$/, ""); }

function exportMask() {
  if (!state.answer) return;
  const {width: w, height: h} = state.image, c = document.createElement("canvas");
  c.width = w; c.height = h;
  const ctx = c.getContext("2d"), img = ctx.createImageData(w, h), px = img.data;
  for (let i = 3; i < px.length; i += 4) px[i] = 255;
  forEachPixel(state.answer.masks[state.chosen], (k) => { px[4 * k] = px[4 * k + 1] = px[4 * k + 2] = 255; });
  ctx.putImageData(img, 0, 0);
  c.toBlob((b) => download(b, `${stem()}_mask.png`), "image/png");
}

function exportAll() {
  const {width, height} = state.image;
  const masks = state.everything ? state.everything.map((r) => ({seg: r.segmentation, area: r.area, bbox: r.bbox, score: r.predicted_iou}))
                                 : [state.answer.masks[state.chosen]].map((m) => ({seg: {size: m.size, counts: m.counts}, area: m.area, bbox: m.bbox, score: m.iou}));
  const coco = {
    images: [{id: 1, file_name: state.image.name, width, height}],
    categories: [{id: 1, name: "object"}],
    annotations: masks.map((m, i) => ({id: i + 1, image_id: 1, category_id: 1, segmentation: m.seg, area: m.area, bbox: m.bbox, iscrowd: 0, score: m.score})),
  };
  download(new Blob([JSON.stringify(coco)], {type: "application/json"}), `${stem()}_masks.json`);
}

// ---- wiring ----

$("file").addEventListener("change", (ev) => openFile(ev.target.files[0]));
$("undo").onclick = undo;
$("clear").onclick = clearAll;
$("everything").onclick = everything;
$("cancel").onclick = cancelJob;
$("export-mask").onclick = exportMask;
$("export-all").onclick = exportAll;
$("multimask").addEventListener("change", () => { if (state.points.length || state.box) predict(); });
stage.addEventListener("dragover", (ev) => { ev.preventDefault(); stage.classList.add("dragging"); });
stage.addEventListener("dragleave", () => stage.classList.remove("dragging"));
stage.addEventListener("drop", (ev) => { ev.preventDefault(); stage.classList.remove("dragging"); openFile(ev.dataTransfer.files[0]); });
window.addEventListener("keydown", (ev) => {
  if (ev.target.tagName === "INPUT" && ev.target.type !== "checkbox") return;
  const k = ev.key.toLowerCase();
  if ((ev.ctrlKey || ev.metaKey) && k === "z") { ev.preventDefault(); undo(); return; }
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (k === "u") undo();
  else if (k === "escape" || k === "c") clearAll();
  else if (k === "a") everything();
  else if (k === "s") exportMask();
  else if (k === "j") { if (state.answer || state.everything) exportAll(); }
  else if (k === "o") $("file").click();
  else if (k === "m") { $("multimask").checked = !$("multimask").checked; $("multimask").dispatchEvent(new Event("change")); }
  else if (k >= "1" && k <= "3") choose(+k - 1);
});

api("GET", "/api/health").then((h) => { $("model").textContent = `${h.model} (${h.family} ${h.variant})`; })
  .catch((e) => { $("model").textContent = `server: ${e.message}`; });
updateControls();
