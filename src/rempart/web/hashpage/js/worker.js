// The hashing worker: one file at a time, off the page's thread, so a 48 Mpx photo or a
// 2-hour video never freezes the page. It tells a photo from a video by the file's first
// bytes (as rempart.media.kinds does), computes exactly what `rempart hash --out` writes for
// that file (exact hashes, PDQ and the robust stage's stored side for a photo, vPDQ for a
// video) and answers with the item, or with an error code and message the page translates.
// It uses no network API (the page's CSP, inherited by blob: workers, forbids it anyway).
//
// Messages in:  {id, file, options: {robust, keypoints}}  |  {id, type: "cancel"}
// Messages out: {id, type: "progress", stage, done, total}
//               {id, type: "result", item, notes, kind}
//               {id, type: "error", code, message}

import { HashError, throwIfCancelled, toHashError } from "./errors.js";
import { digestFile } from "./exact.js";
import { decodeImage } from "./decode.js";
import { photoSignals } from "./photo.js";
import { hashVideo } from "./video.js";

const IMAGE_EXTENSIONS = new Set([
  "jpg", "jpeg", "jpe", "jfif", "png", "gif", "webp", "bmp", "tif", "tiff", "heic", "heif",
  "avif", "ico", "ppm", "pgm", "pbm", "tga",
]);
const VIDEO_EXTENSIONS = new Set([
  "mp4", "m4v", "mov", "webm", "mkv", "avi", "3gp", "mpg", "mpeg", "ts", "wmv", "flv",
]);
const IMAGE_BRANDS = ["heic", "heix", "mif1", "avif", "msf1"];
const HEIF_BRANDS = ["heic", "heix", "mif1", "msf1", "hevc", "hevx"];

function ascii(bytes, a, b) {
  let s = "";
  for (let i = a; i < Math.min(b, bytes.length); i++) s += String.fromCharCode(bytes[i]);
  return s;
}

function startsWith(bytes, prefix) {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

// rempart.media.kinds.sniff: "image", "video" or null, from the first (at least 12) bytes.
export function sniff(head) {
  const magic = [
    [0xff, 0xd8, 0xff],
    [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
    [0x47, 0x49, 0x46, 0x38, 0x37, 0x61],
    [0x47, 0x49, 0x46, 0x38, 0x39, 0x61],
    [0x42, 0x4d],
    [0x49, 0x49, 0x2a, 0x00],
    [0x4d, 0x4d, 0x00, 0x2a],
  ];
  if (magic.some((m) => startsWith(head, m))) return "image";
  if (ascii(head, 0, 4) === "RIFF" && ascii(head, 8, 12) === "WEBP") return "image";
  if (ascii(head, 4, 8) === "ftyp") return IMAGE_BRANDS.includes(ascii(head, 8, 12)) ? "image" : "video";
  if (startsWith(head, [0x1a, 0x45, 0xdf, 0xa3]) || ascii(head, 0, 4) === "FLV\x01") return "video";
  if (ascii(head, 0, 4) === "RIFF" && ascii(head, 8, 12) === "AVI ") return "video";
  if (startsWith(head, [0, 0, 1, 0xba]) || startsWith(head, [0, 0, 1, 0xb3])) return "video";
  return null;
}

export function isHeif(head) {
  return ascii(head, 4, 8) === "ftyp" && HEIF_BRANDS.includes(ascii(head, 8, 12));
}

// Frames of a GIF, counted by walking its blocks (stops at the second): an animated GIF is a
// video for Rempart, as for rempart.media.kinds.
export function gifFrameCount(bytes, stopAt = 2) {
  if (bytes.length < 13) return 0;
  let p = 13;
  if (bytes[10] & 0x80) p += 3 * (1 << ((bytes[10] & 7) + 1));
  let frames = 0;
  const skipSubBlocks = () => {
    while (p < bytes.length) {
      const n = bytes[p++];
      if (n === 0) return;
      p += n;
    }
  };
  while (p < bytes.length) {
    const block = bytes[p++];
    if (block === 0x3b) break;
    if (block === 0x21) {
      p += 1;
      skipSubBlocks();
    } else if (block === 0x2c) {
      frames += 1;
      if (frames >= stopAt) break;
      const flags = bytes[p + 8];
      p += 9;
      if (flags & 0x80) p += 3 * (1 << ((flags & 7) + 1));
      p += 1; // LZW minimum code size
      skipSubBlocks();
    } else {
      break;
    }
  }
  return frames;
}

function extension(name) {
  const dot = (name || "").lastIndexOf(".");
  return dot < 0 ? "" : name.slice(dot + 1).toLowerCase();
}

async function readHead(file, size) {
  try {
    return new Uint8Array(await file.slice(0, size).arrayBuffer());
  } catch (err) {
    throw new HashError("read-failed", `could not be read (${err && err.message ? err.message : err})`);
  }
}

// "image" or "video" for a file, or HashError("not-media"). The content decides; a name
// ending in a known extension only when the first bytes say nothing (then the decoder tells
// what is wrong with it, as `rempart hash` does).
export async function kindOf(file) {
  if (file.size === 0) throw new HashError("undecodable", "the file is empty (0 bytes)");
  const head = await readHead(file, 16);
  let kind = sniff(head);
  if (kind === "image" && ascii(head, 0, 3) === "GIF") {
    const bytes = await readHead(file, Math.min(file.size, 4 * 1024 * 1024));
    if (gifFrameCount(bytes) > 1) kind = "video";
  }
  if (kind === null) {
    const ext = extension(file.name);
    if (IMAGE_EXTENSIONS.has(ext) || VIDEO_EXTENSIONS.has(ext)) {
      throw new HashError("not-media", `its name ends in .${ext} but its content is not a photo or a video`);
    }
    throw new HashError("not-media", "not a photo or a video");
  }
  return { kind, head };
}

const CODEC_FALLBACK_NOTE =
  "this browser cannot decode this video's format: only its exact hashes (MD5, SHA-256) " +
  "were made, so only exact copies of this video can be found (not re-encoded, cut or " +
  "cropped copies); the helpline can hash it with the rempart command for more";

async function hashPhoto(file, options, signal, progress, heif = false) {
  progress("reading", 0, file.size);
  const exact = await digestFile(file, {
    signal,
    onProgress: ({ done, total }) => progress("reading", done, total),
  });
  throwIfCancelled(signal);
  progress("decoding", 0, 1);
  let decoded;
  try {
    decoded = await decodeImage(file);
  } catch (err) {
    const e = toHashError(err);
    // A HEIC/HEIF photo the browser cannot open is named as such, whatever the decoder said.
    if (heif && e.code === "undecodable") throw new HashError("heic-unsupported", e.message);
    throw e;
  }
  throwIfCancelled(signal);
  const { width, height } = decoded;
  progress("hashing", 0, 1);
  const signals = photoSignals(decoded.rgb, width, height, {
    robust: options.robust !== false,
    keypoints: options.robust !== false && options.keypoints !== false,
  });
  const notes = [...(decoded.notes || []), ...(signals.notes || [])];
  decoded = null; // the full-size pixels can go now
  const item = {
    media_type: "image",
    pdq: signals.pdq,
    pdq_quality: signals.pdq_quality,
    md5: exact.md5,
    sha256: exact.sha256,
    width,
    height,
  };
  if (signals.pdq_variants && signals.pdq_variants.length) item.pdq_variants = signals.pdq_variants;
  if (signals.local_features != null) item.local_features = signals.local_features;
  progress("hashing", 1, 1);
  return { item, notes };
}

async function hashVideoFile(file, signal, progress) {
  progress("reading", 0, file.size);
  const exact = await digestFile(file, {
    signal,
    onProgress: ({ done, total }) => progress("reading", done, total),
  });
  throwIfCancelled(signal);
  let video;
  const notes = [];
  try {
    video = await hashVideo(file, {
      signal,
      onProgress: ({ done, total }) => progress("video", done, total),
    });
  } catch (err) {
    const e = toHashError(err);
    if (e.code !== "codec-unsupported") throw e;
    notes.push(`${CODEC_FALLBACK_NOTE} (${e.message})`);
    video = {
      media_type: "video", pdq: null, pdq_quality: null, width: null, height: null,
      duration: null, seconds_per_frame: null, vpdq: [],
    };
  }
  const item = {
    media_type: "video",
    pdq: null,
    pdq_quality: null,
    md5: exact.md5,
    sha256: exact.sha256,
    width: video.width ?? null,
    height: video.height ?? null,
    duration: video.duration ?? null,
    seconds_per_frame: video.seconds_per_frame ?? null,
    vpdq: video.vpdq || [],
  };
  if (video.vpdq_inside && video.vpdq_inside.length) item.vpdq_inside = video.vpdq_inside;
  if (video.vpdq_regions && Object.keys(video.vpdq_regions).length) item.vpdq_regions = video.vpdq_regions;
  if (video.notes) notes.push(...video.notes);
  return { item, notes, fallback: notes.length > 0 && item.vpdq.length === 0 };
}

export async function hashFile(file, options = {}, { signal, onProgress } = {}) {
  const progress = (stage, done, total) => onProgress && onProgress({ stage, done, total });
  const { kind, head } = await kindOf(file);
  throwIfCancelled(signal);
  const out = kind === "video"
    ? await hashVideoFile(file, signal, progress)
    : await hashPhoto(file, options, signal, progress, isHeif(head));
  return { ...out, kind };
}

// The worker's side of the messages (only when running as a worker: Node imports this module
// in tests for sniff and gifFrameCount).
const running = new Map();
if (typeof self !== "undefined" && typeof self.postMessage === "function" && typeof window === "undefined") {
  self.onmessage = async (event) => {
    const msg = event.data || {};
    if (msg.type === "cancel") {
      const ctl = running.get(msg.id);
      if (ctl) ctl.abort();
      return;
    }
    const { id, file, options = {} } = msg;
    const ctl = new AbortController();
    running.set(id, ctl);
    let lastPost = 0;
    try {
      const result = await hashFile(file, options, {
        signal: ctl.signal,
        onProgress: ({ stage, done, total }) => {
          const now = Date.now();
          if (now - lastPost < 100 && done < total) return; // at most ~10 messages a second
          lastPost = now;
          self.postMessage({ id, type: "progress", stage, done, total });
        },
      });
      self.postMessage({ id, type: "result", item: result.item, notes: result.notes, kind: result.kind });
    } catch (err) {
      const e = ctl.signal.aborted ? new HashError("cancelled", "cancelled") : toHashError(err);
      self.postMessage({ id, type: "error", code: e.code, message: e.message });
    } finally {
      running.delete(id);
    }
  };
}
