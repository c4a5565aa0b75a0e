// Is a file a photo, a video, or neither? From its first bytes, as rempart.media.kinds does
// (an animated GIF is a video), so the page names a file that is neither instead of feeding
// it to a decoder. Pure functions over bytes (Node tests them against the Python), plus
// kindOf(file) for a Blob.

import { HashError } from "./errors.js";

export const IMAGE_EXTENSIONS = new Set([
  "jpg", "jpeg", "jpe", "jfif", "png", "gif", "webp", "bmp", "tif", "tiff", "heic", "heif",
  "avif", "ico", "ppm", "pgm", "pbm", "tga",
]);
export const VIDEO_EXTENSIONS = new Set([
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

export function extension(name) {
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
