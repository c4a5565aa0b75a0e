// The hashing page's script: the part she sees. She chooses files; a pool of workers (the
// worker's source sits in the page as inert text, started from a blob: URL) hashes them one
// file per worker; she sees each file's progress and a local preview (blob: URLs, never
// uploaded), fills her agreement, and gets the hash file — the same format as
// `rempart hash --out` — through a blob: link. Nothing is sent and nothing is stored: no
// network API is used (the CSP forbids it anyway), no storage API is touched; closing the
// page forgets everything.

const GENERATOR = "rempart-page 0.1.0";
const FORMAT = "rempart-hash-submission";
const VERSION = 1;
const LARGE_PHOTO_BYTES = 25 * 1024 * 1024;
const LARGE_VIDEO_BYTES = 500 * 1024 * 1024;
const LONG_VIDEO_SECONDS = 10 * 60;
// Reasons whose translated sentence says it all (no technical detail shown under them).
const QUIET_CODES = new Set(["cancelled", "not-media"]);

const $ = (id) => document.getElementById(id);

// ---- languages (rempart.web.pageshell's languages.js, inlined before this script) ---------
/* global rempartLanguages */
const languages = rempartLanguages(() => {
  const purpose = $("purpose");
  if (!purpose.dataset.edited) purpose.value = t("consent.purpose_default");
  for (const entry of entries) renderEntry(entry);
  renderStatus();
  renderResult();
});
const t = languages.t;
const applyLanguage = languages.apply;
const setupLanguageChooser = languages.setupChooser;

// ---- formatting -----------------------------------------------------------------------
function isoSeconds(date) {
  return date.toISOString().replace(/\.\d{3}Z$/, "+00:00");
}

function isoDate(date) {
  return date.toISOString().slice(0, 10);
}

function size(bytes) {
  const units = ["B", "KB", "MB", "GB"];
  let v = bytes;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u += 1;
  }
  return `${u === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

function clock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

// ---- the files and the workers ----------------------------------------------------------
const entries = [];
let nextId = 1;
const workerSource = $("worker-src").textContent;
let workerUrl = null;
const pool = [];

// One worker per core (the page's own thread only draws and waits), at most 4, and fewer on
// a phone with little memory: a 48 Mpx photo needs about 0.5 GB while it is hashed, so one
// worker per 1.5 GB the browser reports (navigator.deviceMemory, Chromium; 4 GB assumed).
function poolSize() {
  const cores = navigator.hardwareConcurrency || 2;
  const memory = navigator.deviceMemory || 4;
  return Math.max(1, Math.min(4, cores, Math.floor(memory / 1.5)));
}

function attachWorker(slot) {
  if (!workerUrl) workerUrl = URL.createObjectURL(new Blob([workerSource], { type: "text/javascript" }));
  slot.worker = new Worker(workerUrl);
  slot.worker.onmessage = (event) => onWorkerMessage(slot, event.data);
  slot.worker.onerror = (event) => {
    event.preventDefault();
    if (slot.entry) finishWithError(slot, slot.entry, "undecodable", event.message || "the hashing worker stopped");
    replaceWorker(slot);
    schedule();
  };
}

function newWorker() {
  const slot = { worker: null, entry: null };
  attachWorker(slot);
  return slot;
}

// A worker stuck in a long decode is stopped at once and replaced by a fresh one.
function replaceWorker(slot) {
  slot.worker.terminate();
  slot.entry = null;
  attachWorker(slot);
}

function kindGuess(file) {
  if (file.type.startsWith("video/")) return "video";
  if (file.type.startsWith("image/")) return "image";
  return /\.(mp4|m4v|mov|webm|mkv|avi|3gp)$/i.test(file.name) ? "video" : "image";
}

function addFiles(files) {
  for (const file of files) {
    const kind = kindGuess(file);
    const entry = {
      id: nextId++,
      file,
      kind,
      status: "waiting",
      stage: null,
      done: 0,
      total: 0,
      item: null,
      notes: [],
      code: null,
      message: "",
      warnings: [],
      url: kind === "video" ? URL.createObjectURL(file) : null, // the video preview's source
      el: null,
    };
    if (entry.kind === "image" && file.size > LARGE_PHOTO_BYTES) entry.warnings.push(["warn.large_photo", { size: size(file.size) }]);
    if (entry.kind === "video" && file.size > LARGE_VIDEO_BYTES) entry.warnings.push(["warn.large_video", { size: size(file.size) }]);
    entries.push(entry);
    $("file-list").append(createEntryElement(entry));
    renderEntry(entry);
  }
  schedule();
  renderStatus();
  renderResult();
}

function options() {
  return { robust: $("opt-robust").checked, keypoints: $("opt-keypoints").checked };
}

function schedule() {
  while (pool.length < poolSize()) pool.push(newWorker());
  for (const slot of pool) {
    if (slot.entry) continue;
    const entry = entries.find((e) => e.status === "waiting");
    if (!entry) break;
    slot.entry = entry;
    entry.status = "working";
    entry.stage = "reading";
    slot.worker.postMessage({ id: entry.id, file: entry.file, options: options() });
    renderEntry(entry);
  }
  renderStatus();
}

function onWorkerMessage(slot, msg) {
  const entry = entries.find((e) => e.id === msg.id);
  if (!entry || entry.status !== "working") return;
  if (msg.type === "progress") {
    entry.stage = msg.stage;
    entry.done = msg.done;
    entry.total = msg.total;
    renderEntry(entry);
    return;
  }
  if (msg.type === "result") {
    entry.status = "done";
    entry.item = msg.item;
    entry.kind = msg.kind || entry.kind;
    entry.notes = msg.notes || [];
  } else if (msg.type === "error") {
    entry.status = "failed";
    entry.code = msg.code;
    entry.message = msg.message;
  }
  slot.entry = null;
  renderEntry(entry);
  schedule();
  renderResult();
}

function finishWithError(slot, entry, code, message) {
  entry.status = "failed";
  entry.code = code;
  entry.message = message;
  slot.entry = null;
  renderEntry(entry);
  renderResult();
}

function cancelAll() {
  for (const entry of entries) {
    if (entry.status === "waiting") {
      entry.status = "failed";
      entry.code = "cancelled";
      entry.message = "";
      renderEntry(entry);
    }
  }
  for (const slot of pool) {
    if (!slot.entry) continue;
    const entry = slot.entry;
    slot.worker.postMessage({ id: entry.id, type: "cancel" });
    entry.status = "failed";
    entry.code = "cancelled";
    entry.message = "";
    renderEntry(entry);
    replaceWorker(slot); // stops a long decode at once
  }
  renderStatus();
  renderResult();
  $("status").focus();
}

function resetAll() {
  cancelAll();
  for (const entry of entries) if (entry.url) URL.revokeObjectURL(entry.url);
  entries.length = 0;
  $("file-list").replaceChildren();
  $("failed-list").replaceChildren();
  revokeDownload();
  renderStatus();
  renderResult();
  $("files").focus();
}

// ---- rendering --------------------------------------------------------------------------
const THUMB = 112;
let thumbnails = Promise.resolve();

async function drawThumbnail(file, canvas) {
  let bitmap = null;
  try {
    bitmap = await createImageBitmap(file, { resizeWidth: THUMB * 2, resizeQuality: "low" });
    const side = Math.min(bitmap.width, bitmap.height);
    const ctx = canvas.getContext("2d");
    ctx.drawImage(bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side, 0, 0, THUMB, THUMB);
  } catch {
    canvas.classList.add("no-preview"); // HEIC and damaged files: no thumbnail, the list says why
  } finally {
    if (bitmap) bitmap.close();
  }
}

function createEntryElement(entry) {
  const li = document.createElement("li");
  li.className = "file";
  let preview;
  if (entry.kind === "video") {
    preview = document.createElement("video");
    preview.muted = true;
    preview.preload = "metadata";
    preview.playsInline = true;
    preview.addEventListener("loadedmetadata", () => {
      if (preview.duration > LONG_VIDEO_SECONDS && Number.isFinite(preview.duration)) {
        entry.warnings.push(["warn.long_video", { duration: clock(preview.duration) }]);
        renderEntry(entry);
      }
    });
    preview.src = entry.url;
  } else {
    // A small thumbnail drawn once, one photo at a time, so a 48 Mpx photo is never kept
    // decoded at full size on the page (the worker decodes it on its own).
    preview = document.createElement("canvas");
    preview.width = THUMB;
    preview.height = THUMB;
    preview.setAttribute("aria-hidden", "true");
    thumbnails = thumbnails.then(() => drawThumbnail(entry.file, preview));
  }
  preview.classList.add("preview");
  const body = document.createElement("div");
  body.className = "body";
  const name = document.createElement("p");
  name.className = "name";
  const state = document.createElement("p");
  state.className = "state";
  const bar = document.createElement("progress");
  bar.max = 1;
  bar.value = 0;
  const notes = document.createElement("ul");
  notes.className = "notes";
  body.append(name, state, bar, notes);
  li.append(preview, body);
  entry.el = { li, name, state, bar, notes };
  return li;
}

function stateText(entry) {
  if (entry.status === "waiting") return t("state.waiting");
  if (entry.status === "working") {
    if (entry.stage === "video" && entry.total > 0) {
      return t("state.video", { done: clock(entry.done), total: clock(entry.total) });
    }
    if (entry.stage === "reading" && entry.total > 0) {
      return t("state.reading", { percent: Math.floor((100 * entry.done) / entry.total) });
    }
    return t(`state.${entry.stage || "reading"}`, { percent: 0, done: "", total: "" });
  }
  if (entry.status === "done") {
    const item = entry.item;
    if (item.media_type === "video") {
      if (!item.vpdq.length) return t("state.done_video_exact");
      return t("state.done_video", { frames: item.vpdq.length, duration: clock(item.duration || 0) });
    }
    return t("state.done_photo", { width: item.width, height: item.height });
  }
  return t(`error.${entry.code}`);
}

function renderEntry(entry) {
  const el = entry.el;
  if (!el) return;
  el.name.textContent = `${entry.file.name} (${size(entry.file.size)})`;
  el.state.textContent = stateText(entry);
  el.li.dataset.status = entry.status;
  if (entry.code) el.li.dataset.code = entry.code;
  let progress = 0;
  if (entry.status === "done") progress = 1;
  else if (entry.status === "working" && entry.total > 0) {
    const share = entry.stage === "reading" ? 0.1 : entry.stage === "video" ? 0.9 : 0.5;
    const base = entry.stage === "reading" ? 0 : 0.1;
    progress = base + share * Math.min(1, entry.done / entry.total);
  } else if (entry.status === "working") progress = entry.stage === "reading" ? 0 : 0.3;
  el.bar.value = progress;
  el.bar.hidden = entry.status === "failed";
  el.bar.setAttribute("aria-label", `${entry.file.name}: ${el.state.textContent}`);
  const lines = entry.warnings.map(([key, vars]) => ["warn", t(key, vars)]);
  if (entry.status === "failed" && entry.message && !QUIET_CODES.has(entry.code)) lines.push(["detail", entry.message]);
  for (const note of entry.notes) lines.push(["note", note]);
  el.notes.replaceChildren(
    ...lines.map(([kind, text]) => {
      const li = document.createElement("li");
      li.className = kind;
      li.textContent = text;
      return li;
    }),
  );
  renderFailed();
}

function renderFailed() {
  const failed = entries.filter((e) => e.status === "failed");
  $("failed-box").hidden = failed.length === 0;
  $("failed-list").replaceChildren(
    ...failed.map((e) => {
      const li = document.createElement("li");
      li.dataset.code = e.code;
      const b = document.createElement("strong");
      b.textContent = e.file.name;
      li.append(b, document.createTextNode(`: ${t(`error.${e.code}`)}`));
      if (e.message && !QUIET_CODES.has(e.code)) {
        const d = document.createElement("span");
        d.className = "detail";
        d.textContent = ` (${e.message})`;
        li.append(d);
      }
      return li;
    }),
  );
}

function counts() {
  const c = { total: entries.length, waiting: 0, working: 0, done: 0, failed: 0 };
  for (const e of entries) c[e.status] += 1;
  return c;
}

function renderStatus() {
  const c = counts();
  const busy = c.waiting + c.working > 0;
  $("cancel").hidden = !busy;
  $("reset").hidden = busy || c.total === 0;
  let text = "";
  if (c.total === 0) text = t("status.none");
  else if (busy) text = t("status.working", { done: c.done + c.failed, total: c.total });
  else text = t("status.finished", { done: c.done, failed: c.failed });
  const status = $("status");
  if (status.textContent !== text) status.textContent = text;
}

// ---- consent and the hash file ----------------------------------------------------------
let downloadUrl = null;
let saved = false; // she clicked the link of the current file
// Served by `rempart serve` (at /hash/), the helpline's case page is at ../case/ on the same
// server: she can send her file there. Opened from disk (`rempart hash-page --out`), there is
// no server, and no such link.
const SERVED = location.protocol === "http:" || location.protocol === "https:";

function revokeDownload() {
  const link = $("download");
  if (downloadUrl) URL.revokeObjectURL(downloadUrl);
  downloadUrl = null;
  link.removeAttribute("href");
  link.hidden = true;
  const send = $("send-to-helpline");
  send.removeAttribute("href");
  send.hidden = true;
}

function consentRecord() {
  const givenBy = $("given-by").value.trim();
  const purpose = $("purpose").value.trim();
  const missing = [];
  if (!givenBy) missing.push(t("consent.missing_name"));
  if (!purpose) missing.push(t("consent.missing_purpose"));
  if (!$("consent-agree").checked) missing.push(t("consent.missing_agree"));
  if (missing.length) return { missing };
  const now = new Date();
  const record = { given_by: givenBy.slice(0, 200), given_at: isoSeconds(now), purpose, allow_exchange: $("allow-exchange").checked };
  const years = $("retention").value;
  if (years) {
    const until = new Date(now);
    until.setUTCFullYear(until.getUTCFullYear() + Number(years));
    record.retention_until = isoDate(until);
  }
  return { record };
}

function renderResult() {
  const c = counts();
  const busy = c.waiting + c.working > 0;
  const consent = consentRecord();
  $("consent-missing").textContent = consent.missing && c.done > 0 ? t("consent.missing", { what: consent.missing.join(", ") }) : "";
  let text;
  revokeDownload();
  if (c.total === 0) text = t("result.none");
  else if (busy) text = t("result.wait");
  else if (c.done === 0) text = t("result.nothing");
  else if (consent.missing) text = t("result.need_consent");
  else {
    const done = entries.filter((e) => e.status === "done");
    const submission = {
      format: FORMAT,
      version: VERSION,
      created_at: isoSeconds(new Date()),
      generator: GENERATOR,
      items: done.map((e) => e.item),
      consent: consent.record,
    };
    const blob = new Blob([JSON.stringify(submission, null, 2) + "\n"], { type: "application/json" });
    downloadUrl = URL.createObjectURL(blob);
    saved = false;
    const link = $("download");
    link.href = downloadUrl;
    link.hidden = false;
    if (SERVED) {
      const send = $("send-to-helpline");
      send.href = "../case/";
      send.hidden = false;
    }
    const photos = done.filter((e) => e.item.media_type === "image").length;
    text = t("result.ready", { photos, videos: done.length - photos, failed: c.failed, size: size(blob.size) });
  }
  const el = $("result-status");
  if (el.textContent !== text) el.textContent = text;
}

// ---- wiring -----------------------------------------------------------------------------
function start() {
  setupLanguageChooser();
  const input = $("files");
  input.addEventListener("change", () => {
    const files = Array.from(input.files || []);
    input.value = ""; // the same file can be chosen again; nothing is kept in the input
    if (files.length) addFiles(files);
  });
  $("cancel").addEventListener("click", cancelAll);
  $("reset").addEventListener("click", resetAll);
  $("purpose").addEventListener("input", () => {
    $("purpose").dataset.edited = "1";
  });
  const form = $("consent-form");
  form.addEventListener("submit", (event) => event.preventDefault());
  form.addEventListener("input", renderResult);
  form.addEventListener("change", renderResult);
  $("status").tabIndex = -1;
  const robust = $("opt-robust");
  robust.addEventListener("change", () => {
    $("opt-keypoints").disabled = !robust.checked; // key points belong to the robust stage
  });
  // Leaving by mistake would lose the work: the browser asks first while files are being
  // hashed, or when a file is ready that she has not saved yet.
  $("download").addEventListener("click", () => {
    saved = true;
  });
  window.addEventListener("beforeunload", (event) => {
    const c = counts();
    if (c.waiting + c.working > 0 || (downloadUrl && !saved)) event.preventDefault();
  });
  applyLanguage();
  // For tests and benchmarks driving the page (read-only view of what it holds).
  window.rempartHashPage = Object.freeze({
    entries: () =>
      entries.map((e) => ({ name: e.file.name, status: e.status, stage: e.stage, code: e.code, message: e.message, item: e.item, notes: e.notes })),
    workers: () => pool.length,
  });
}

start();
