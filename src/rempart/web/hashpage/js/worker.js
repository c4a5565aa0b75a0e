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
import { isHeif, kindOf } from "./kinds.js";

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
    decoded = await decodeImage(file, { signal });
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

async function hashVideoFile(file, options, signal, progress) {
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
      robust: options.robust !== false,
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
  if (video.vpdq_crops && Object.keys(video.vpdq_crops).length) item.vpdq_crops = video.vpdq_crops;
  if (video.notes) notes.push(...video.notes);
  return { item, notes, fallback: notes.length > 0 && item.vpdq.length === 0 };
}

export async function hashFile(file, options = {}, { signal, onProgress } = {}) {
  const progress = (stage, done, total) => onProgress && onProgress({ stage, done, total });
  const { kind, head } = await kindOf(file);
  throwIfCancelled(signal);
  const out = kind === "video"
    ? await hashVideoFile(file, options, signal, progress)
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
