// Her photo's pixels, decoded in her browser exactly as the CLI decodes them
// (rempart.media.decode with Pillow), so that the hashes computed from them are the CLI's.
//
// Why it is not just "draw the image on a canvas":
// - Limits come first, from the header, before any pixel is decoded: the same 100 Mpx and
//   256 MB limits as rempart.media.decode (a decompression bomb must not take her tab down).
// - The browser decodes opaque JPEG, PNG, WebP, GIF and BMP to Pillow's exact pixels when
//   colour management and premultiplication are off (createImageBitmap with
//   colorSpaceConversion "none", premultiplyAlpha "none"). But a canvas stores premultiplied
//   colour, so colour under transparency is lost, and 16-bit PNGs are scaled where Pillow keeps
//   the high byte (or clips grey): those PNGs are decoded here with fast-png and converted the
//   way Pillow converts them (colour channels kept, alpha ignored, as Meta's reference hashes).
// - EXIF orientation is applied as Pillow's ImageOps would (rempart.media.decode's _TRANSPOSE).
//   Browsers apply it for some formats and not others (Chromium: JPEG and PNG, not WebP), so
//   each worker checks once, on tiny embedded images, which formats its browser turns, and
//   turns the rest itself.
// - Pixels are read from the decoded bitmap in tiles of at most 16 Mpx (iOS Safari refuses a
//   bigger canvas) straight into the one full-size RGB buffer the hashes need.
// - HEIC (iPhone photos) is tried, and when the browser cannot decode it the error says how
//   to share the photo as JPEG, and that the exact-copy hashes would then be the JPEG's.
// The header parsing and PNG conversion are pure functions (Node tests them against Pillow);
// decodeImage itself needs a browser (createImageBitmap, OffscreenCanvas).

import { decode as decodePng } from "fast-png";
import { HashError, throwIfCancelled } from "./errors.js";

export const MAX_PIXELS = 100_000_000; // rempart.media.decode.DEFAULT_MAX_PIXELS
export const MAX_FILE_BYTES = 256 * 1024 * 1024; // DEFAULT_MAX_FILE_BYTES
export const TILE_PIXELS = 16_000_000; // under iOS Safari's 16,777,216-pixel canvas cap
export const TILE_MAX_SIDE = 4096;

const HEIF_BRANDS = ["heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1"];
const AVIF_BRANDS = ["avif", "avis"];

export const HEIC_MESSAGE =
  "this browser cannot read HEIC/HEIF photos (the iPhone's format). Share the photo as JPEG " +
  "(on an iPhone: Settings > Camera > Formats > Most Compatible, or export it as JPEG) and " +
  "choose that file; its exact-copy hashes (MD5, SHA-256) will then be those of the JPEG, " +
  "not of the HEIC file.";

const PILLOW_ONLY = {
  tiff: "TIFF",
  psd: "Photoshop (PSD)",
  jpeg2000: "JPEG 2000",
  ppm: "PPM",
  qoi: "QOI",
  tga: "TGA",
};

// ---------------------------------------------------------------- reading the file's bytes

// Reads a Blob by windows of 1 MB (header fields, chunk and segment headers) without ever
// holding the whole file.
class ByteSource {
  constructor(blob) {
    this.blob = blob;
    this.size = blob.size;
    this.start = 0;
    this.bytes = new Uint8Array(0);
  }

  // At least `length` bytes from `offset` (fewer only at the end of the file).
  async at(offset, length) {
    const end = Math.min(this.size, offset + length);
    if (offset >= this.start && end <= this.start + this.bytes.length) {
      return this.bytes.subarray(offset - this.start, end - this.start);
    }
    const windowEnd = Math.min(this.size, offset + Math.max(length, 1 << 20));
    let buf;
    try {
      buf = await this.blob.slice(offset, windowEnd).arrayBuffer();
    } catch (err) {
      throw new HashError("read-failed", `the file could not be read (${err && err.message})`);
    }
    this.start = offset;
    this.bytes = new Uint8Array(buf);
    return this.bytes.subarray(0, end - offset);
  }
}

const ascii = (u8, a, b) => String.fromCharCode(...u8.subarray(a, b));
const be16 = (u8, p) => (u8[p] << 8) | u8[p + 1];
const be32 = (u8, p) => ((u8[p] << 24) | (u8[p + 1] << 16) | (u8[p + 2] << 8) | u8[p + 3]) >>> 0;
const le16 = (u8, p) => u8[p] | (u8[p + 1] << 8);
const le24 = (u8, p) => u8[p] | (u8[p + 1] << 8) | (u8[p + 2] << 16);
const le32 = (u8, p) => (u8[p] | (u8[p + 1] << 8) | (u8[p + 2] << 16) | (u8[p + 3] << 24)) >>> 0;

// ---------------------------------------------------------------- what the file is

// The image type from the first bytes (at least 32): "jpeg", "png", "gif", "webp", "bmp",
// "ico", "avif", "heic", a format only the CLI reads ("tiff", "psd", ...), or null.
export function sniffImage(head) {
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return "jpeg";
  if (head.length >= 8 && be32(head, 0) === 0x89504e47 && be32(head, 4) === 0x0d0a1a0a) {
    return "png";
  }
  if (head.length >= 6 && (ascii(head, 0, 6) === "GIF87a" || ascii(head, 0, 6) === "GIF89a")) {
    return "gif";
  }
  if (head.length >= 12 && ascii(head, 0, 4) === "RIFF" && ascii(head, 8, 12) === "WEBP") {
    return "webp";
  }
  if (head.length >= 26 && head[0] === 0x42 && head[1] === 0x4d) return "bmp";
  if (head.length >= 6 && le16(head, 0) === 0 && le16(head, 2) === 1 && le16(head, 4) > 0) {
    return "ico";
  }
  if (head.length >= 12 && ascii(head, 4, 8) === "ftyp") {
    const major = ascii(head, 8, 12);
    const boxEnd = Math.min(head.length, be32(head, 0));
    const brands = [major];
    for (let p = 16; p + 4 <= boxEnd; p += 4) brands.push(ascii(head, p, p + 4));
    if (AVIF_BRANDS.includes(major)) return "avif";
    if (HEIF_BRANDS.includes(major)) {
      return brands.some((b) => AVIF_BRANDS.includes(b)) && !brands.includes("heic")
        ? "avif"
        : "heic";
    }
    return null;
  }
  if (head.length >= 4) {
    const tag = ascii(head, 0, 4);
    if (tag === "II*\0" || tag === "MM\0*") return "tiff";
    if (tag === "8BPS") return "psd";
    if (tag === "qoif") return "qoi";
    if (be32(head, 0) === 0x0000000c && ascii(head, 4, 8) === "jP  ") return "jpeg2000";
    if (be32(head, 0) === 0xff4fff51) return "jpeg2000";
    if (head[0] === 0x50 && head[1] >= 0x31 && head[1] <= 0x36 && /\s/.test(ascii(head, 2, 3))) {
      return "ppm";
    }
  }
  return null;
}

// The value of a SHORT or LONG tag of the first IFD of a TIFF-structured block (EXIF after
// "Exif\0\0", MPF after "MPF\0"), or undefined when absent or unreadable.
export function tiffTag(tiff, tag) {
  if (tiff.length < 8) return undefined;
  const order = ascii(tiff, 0, 2);
  if (order !== "II" && order !== "MM") return undefined;
  const little = order === "II";
  const u16 = (p) => (little ? le16(tiff, p) : be16(tiff, p));
  const u32 = (p) => (little ? le32(tiff, p) : be32(tiff, p));
  const ifd = u32(4);
  if (ifd + 2 > tiff.length) return undefined;
  const count = u16(ifd);
  for (let k = 0; k < count; k++) {
    const p = ifd + 2 + k * 12;
    if (p + 12 > tiff.length) return undefined;
    if (u16(p) === tag) {
      const type = u16(p + 2);
      if (type === 3) return u16(p + 8);
      if (type === 4) return u32(p + 8);
      return undefined;
    }
  }
  return undefined;
}

// EXIF orientation (1-8) from a TIFF-structured EXIF block (after "Exif\0\0"), or 1 when
// absent, invalid or unreadable (Pillow then applies none either).
export function exifOrientation(tiff) {
  const value = tiffTag(tiff, 0x0112);
  return Number.isInteger(value) && value >= 1 && value <= 8 ? value : 1;
}

function stripExifPrefix(u8) {
  return u8.length >= 6 && ascii(u8, 0, 6) === "Exif\0\0" ? u8.subarray(6) : u8;
}

async function jpegHeader(src) {
  const info = { format: "jpeg", orientation: 1, frames: 1 };
  let p = 2;
  let sawExif = false;
  while (p + 4 <= src.size) {
    let seg = await src.at(p, 4);
    if (seg.length < 4) break;
    if (seg[0] !== 0xff) throw new HashError("undecodable", "the JPEG data is damaged");
    const marker = seg[1];
    if (marker === 0xff) {
      p += 1; // fill byte
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      p += 2;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) break; // end of image, start of scan
    const length = be16(seg, 2);
    if (length < 2) throw new HashError("undecodable", "the JPEG data is damaged");
    const isSof = marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker);
    if (isSof) {
      seg = await src.at(p, 10);
      info.height = be16(seg, 5);
      info.width = be16(seg, 7);
      info.components = seg[9];
    } else if (marker === 0xe1 && !sawExif) {
      seg = await src.at(p + 4, Math.min(length - 2, 65536));
      if (seg.length >= 6 && ascii(seg, 0, 6) === "Exif\0\0") {
        sawExif = true;
        info.orientation = exifOrientation(seg.subarray(6));
      }
    } else if (marker === 0xe2) {
      seg = await src.at(p + 4, Math.min(length - 2, 65536));
      if (seg.length >= 8 && ascii(seg, 0, 4) === "MPF\0") {
        const images = tiffTag(seg.subarray(4), 0xb001);
        if (images > 1) info.multiPicture = images;
      }
    }
    p += 2 + length;
  }
  // Pillow refuses a JPEG cut short (no end-of-image marker): so does the page.
  const tail = await src.at(Math.max(0, src.size - 2), 2);
  if (!(tail[0] === 0xff && tail[1] === 0xd9)) {
    const last = await src.at(Math.max(0, src.size - (1 << 20)), 1 << 20);
    let found = false;
    for (let k = last.length - 2; k >= 0; k--) {
      if (last[k] === 0xff && last[k + 1] === 0xd9) {
        found = true;
        break;
      }
    }
    if (!found) info.truncated = true;
  }
  return info;
}

async function pngHeader(src) {
  const head = await src.at(0, 33);
  if (head.length < 33 || ascii(head, 12, 16) !== "IHDR") {
    throw new HashError("undecodable", "the PNG data is damaged (no IHDR)");
  }
  const info = {
    format: "png",
    width: be32(head, 16),
    height: be32(head, 20),
    depth: head[24],
    colorType: head[25],
    orientation: 1,
    frames: 1,
    transparency: false,
    ended: false,
  };
  let p = 8;
  while (p + 8 <= src.size) {
    const h = await src.at(p, 8);
    if (h.length < 8) break;
    const length = be32(h, 0);
    const type = ascii(h, 4, 8);
    if (type === "tRNS") info.transparency = true;
    else if (type === "acTL") info.frames = be32(await src.at(p + 8, 4), 0) || 1;
    else if (type === "eXIf") {
      info.orientation = exifOrientation(stripExifPrefix(await src.at(p + 8, Math.min(length, 65536))));
    } else if (type === "IEND") {
      info.ended = true;
      break;
    }
    p += 12 + length;
  }
  if (!info.ended) info.truncated = true;
  return info;
}

async function gifHeader(src) {
  const head = await src.at(0, 13);
  const info = { format: "gif", width: le16(head, 6), height: le16(head, 8), orientation: 1 };
  // Count the frames (image descriptors) as Pillow's n_frames does.
  let p = 13;
  if (head[10] & 0x80) p += 3 * (2 << (head[10] & 7));
  let frames = 0;
  for (;;) {
    const b = await src.at(p, 16);
    if (b.length < 1 || b[0] === 0x3b) break;
    if (b[0] === 0x21) {
      p += 2; // extension: introducer, label, then sub-blocks
    } else if (b[0] === 0x2c) {
      frames++;
      if (b.length < 10) break;
      p += 10;
      if (b[9] & 0x80) p += 3 * (2 << (b[9] & 7));
      p += 1; // LZW minimum code size
    } else {
      break;
    }
    for (;;) {
      const s = await src.at(p, 1);
      if (s.length < 1) break;
      p += 1 + s[0];
      if (s[0] === 0) break;
    }
    if (p >= src.size) break;
  }
  info.frames = Math.max(frames, 1);
  return info;
}

async function webpHeader(src) {
  const info = { format: "webp", orientation: 1, frames: 1 };
  let p = 12;
  const riffEnd = Math.min(src.size, 8 + le32(await src.at(4, 4), 0));
  let frames = 0;
  while (p + 8 <= riffEnd) {
    const h = await src.at(p, 40);
    const type = ascii(h, 0, 4);
    const length = le32(h, 4);
    if (type === "VP8X") {
      info.width = 1 + le24(h, 8 + 4);
      info.height = 1 + le24(h, 8 + 7);
      info.alpha = Boolean(h[8] & 0x10);
    } else if (type === "VP8 " && info.width === undefined && h.length >= 20) {
      info.width = le16(h, 8 + 6) & 0x3fff;
      info.height = le16(h, 8 + 8) & 0x3fff;
    } else if (type === "VP8L" && info.width === undefined && h.length >= 13) {
      const bits = le32(h, 9);
      info.width = (bits & 0x3fff) + 1;
      info.height = ((bits >>> 14) & 0x3fff) + 1;
      info.alpha = Boolean((bits >>> 28) & 1);
    } else if (type === "ANMF") {
      frames++;
    } else if (type === "EXIF") {
      info.orientation = exifOrientation(stripExifPrefix(await src.at(p + 8, Math.min(length, 65536))));
    }
    p += 8 + length + (length & 1);
  }
  info.frames = Math.max(frames, 1);
  return info;
}

async function bmpHeader(src) {
  const h = await src.at(0, 26);
  const width = le32(h, 18) | 0;
  const height = le32(h, 22) | 0;
  return { format: "bmp", width: Math.abs(width), height: Math.abs(height), orientation: 1, frames: 1 };
}

// AVIF and HEIC (ISO base media files): the largest image spatial extent ('ispe') in
// meta/iprp/ipco, so the pixel limit holds before the browser decodes anything (a grid image's
// own 'ispe' is its full size; tiles are smaller).
async function isobmffHeader(src, format) {
  const info = { format, orientation: 1, frames: 1 };
  let best = null;
  const walk = async (start, end, depth) => {
    let p = start;
    while (p + 8 <= end && depth < 6) {
      const h = await src.at(p, 16);
      if (h.length < 8) return;
      let size = be32(h, 0);
      const type = ascii(h, 4, 8);
      let header = 8;
      if (size === 1) {
        if (h.length < 16) return;
        size = be32(h, 8) * 4294967296 + be32(h, 12);
        header = 16;
      } else if (size === 0) {
        size = end - p;
      }
      if (size < header) return;
      if (type === "meta") await walk(p + header + 4, Math.min(end, p + size), depth + 1);
      else if (type === "iprp" || type === "ipco") {
        await walk(p + header, Math.min(end, p + size), depth + 1);
      } else if (type === "ispe") {
        const b = await src.at(p + header + 4, 8);
        if (b.length === 8) {
          const w = be32(b, 0);
          const hgt = be32(b, 4);
          if (!best || w * hgt > best[0] * best[1]) best = [w, hgt];
        }
      }
      p += size;
    }
  };
  await walk(0, Math.min(src.size, 1 << 24), 0);
  if (best) [info.width, info.height] = best;
  return info;
}

// What the header says: {format, width?, height?, orientation, frames, ...}; width and height
// before orientation (AVIF, HEIC: the largest image extent); undefined for ICO.
export async function readHeader(blob) {
  const src = new ByteSource(blob);
  const head = await src.at(0, 64);
  const format = sniffImage(head);
  if (format === "jpeg") return jpegHeader(src);
  if (format === "png") return pngHeader(src);
  if (format === "gif") return gifHeader(src);
  if (format === "webp") return webpHeader(src);
  if (format === "bmp") return bmpHeader(src);
  if (format === "avif" || format === "heic") return isobmffHeader(src, format);
  return { format, orientation: 1, frames: 1 };
}

// ---------------------------------------------------------------- orientation

// Where stored pixel (x, y) of a w x h image lands once the EXIF orientation is applied as
// rempart.media.decode applies it (Pillow's transposes), as an affine map: for stored row y,
// destination pixel index = base(y) + step * x. Returns {width, height, base, step}.
export function orientationMap(orientation, w, h) {
  const swap = orientation >= 5;
  const W = swap ? h : w;
  const H = swap ? w : h;
  // [X as a*x + b*y + c, Y as d*x + e*y + f]
  const maps = {
    1: [1, 0, 0, 0, 1, 0],
    2: [-1, 0, w - 1, 0, 1, 0], // FLIP_LEFT_RIGHT
    3: [-1, 0, w - 1, 0, -1, h - 1], // ROTATE_180
    4: [1, 0, 0, 0, -1, h - 1], // FLIP_TOP_BOTTOM
    5: [0, 1, 0, 1, 0, 0], // TRANSPOSE
    6: [0, -1, h - 1, 1, 0, 0], // ROTATE_270
    7: [0, -1, h - 1, -1, 0, w - 1], // TRANSVERSE
    8: [0, 1, 0, -1, 0, w - 1], // ROTATE_90
  };
  const [a, b, c, d, e, f] = maps[orientation] || maps[1];
  return {
    width: W,
    height: H,
    step: d * W + a,
    base: (y) => (e * y + f) * W + (b * y + c),
  };
}

// ---------------------------------------------------------------- PNG through fast-png

// Whether the page decodes this PNG itself (the browser's canvas would lose colour under
// transparency, or scale 16-bit samples where Pillow keeps the high byte).
export function pngNeedsOwnDecoder(info) {
  return info.depth === 16 || info.colorType === 4 || info.colorType === 6 || info.transparency;
}

// RGB bytes of a PNG as rempart.media.decode gives them (Pillow's PNG modes converted to RGB,
// alpha ignored), orientation applied. `png` is fast-png's decode result.
// Returns {width, height, rgb, alphaBelow255}.
export function pngToRgb(png, orientation = 1) {
  const { width: w, height: h, depth, channels } = png;
  const data = png.data;
  const map = orientationMap(orientation, w, h);
  const rgb = new Uint8Array(w * h * 3);
  const palette = png.palette;
  let alphaBelow255 = false;
  const packed = depth < 8;
  const bytesPerLine = Math.ceil((depth * channels * w) / 8);
  const scale = packed ? 255 / ((1 << depth) - 1) : 1;
  const hasAlpha = channels === 2 || channels === 4;
  const alphaMax = depth === 16 ? 65280 : 255; // Pillow keeps alpha's high byte too
  for (let y = 0; y < h; y++) {
    const base = map.base(y);
    const step = map.step;
    for (let x = 0; x < w; x++) {
      let r;
      let g;
      let b;
      if (packed) {
        // 1, 2 or 4 bits a sample, one channel (grey or palette index), MSB first.
        const bit = x * depth;
        const byte = data[y * bytesPerLine + (bit >> 3)];
        const v = (byte >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
        if (palette) {
          const c = palette[v] || [0, 0, 0];
          r = c[0];
          g = c[1];
          b = c[2];
          if (c.length > 3 && c[3] < 255) alphaBelow255 = true;
        } else {
          r = g = b = Math.round(v * scale); // Pillow's L;1/L;2/L;4 unpacking
        }
      } else {
        const i = (y * w + x) * channels;
        if (palette) {
          const c = palette[data[i]] || [0, 0, 0];
          r = c[0];
          g = c[1];
          b = c[2];
          if (c.length > 3 && c[3] < 255) alphaBelow255 = true;
        } else if (depth === 16) {
          if (channels === 1) {
            const v = data[i];
            r = g = b = v > 255 ? 255 : v; // Pillow's I;16 -> RGB clips
          } else if (channels === 2) {
            r = g = b = data[i] >> 8; // LA;16B: high byte
          } else {
            r = data[i] >> 8; // RGB;16B / RGBA;16B: high byte
            g = data[i + 1] >> 8;
            b = data[i + 2] >> 8;
          }
        } else if (channels <= 2) {
          r = g = b = data[i];
        } else {
          r = data[i];
          g = data[i + 1];
          b = data[i + 2];
        }
        if (hasAlpha && data[i + channels - 1] < alphaMax) alphaBelow255 = true;
      }
      const o = (base + step * x) * 3;
      rgb[o] = r;
      rgb[o + 1] = g;
      rgb[o + 2] = b;
    }
  }
  // A tRNS colour key on grey/RGB PNGs: Pillow ignores it (no alpha channel, no note).
  return { width: map.width, height: map.height, rgb, alphaBelow255 };
}

// ---------------------------------------------------------------- what this browser turns

// Tiny images (2x1 pixels, EXIF orientation 6) that tell whether this browser applies EXIF
// orientation per format: a browser that does returns a 1x2 bitmap.
const PROBES = {
  jpeg:
    "/9j/4AAQSkZJRgABAQAAAQABAAD/4QAiRXhpZgAATU0AKgAAAAgAAQESAAMAAAABAAYAAAAAAAD/2wBDABALDA4MChAODQ4S" +
    "ERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1RV19iZ2hnPk1xeXBkeFxlZ2P/wAALCAABAAIBAREA/8QAHwAA" +
    "AQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEI" +
    "I0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJ" +
    "ipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/9oACAEB" +
    "AAA/ACv/2Q==",
  png:
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAABCAAAAADRSSBWAAAAGmVYSWZNTQAqAAAACAABARIAAwAAAAEABgAAAAAAANZnS2kA" +
    "AAALSURBVHicY2xgAAABBgCCJcRYOAAAAABJRU5ErkJggg==",
  webp:
    "UklGRlIAAABXRUJQVlA4WAoAAAAIAAAAAQAAAAAAVlA4TBEAAAAvAQAAAAdQwAIWsP+BiOh/AABFWElGGgAAAE1NACoAAAAI" +
    "AAEBEgADAAAAAQAGAAAAAAAA",
};

let turnsProbe = null;

function base64Bytes(b64) {
  const bin = atob(b64);
  const u8 = new Uint8Array(bin.length);
  for (let k = 0; k < bin.length; k++) u8[k] = bin.charCodeAt(k);
  return u8;
}

// {jpeg: bool, png: bool, webp: bool}: whether createImageBitmap applies EXIF orientation.
export function browserAppliesOrientation() {
  if (!turnsProbe) {
    turnsProbe = (async () => {
      const out = {};
      for (const [format, b64] of Object.entries(PROBES)) {
        try {
          const bitmap = await createImageBitmap(new Blob([base64Bytes(b64)]), BITMAP_OPTIONS);
          out[format] = bitmap.width === 1 && bitmap.height === 2;
          bitmap.close();
        } catch {
          out[format] = false;
        }
      }
      return out;
    })();
  }
  return turnsProbe;
}

// ---------------------------------------------------------------- decoding

const BITMAP_OPTIONS = {
  colorSpaceConversion: "none",
  premultiplyAlpha: "none",
  imageOrientation: "from-image",
};

function tooLarge(width, height, maxPixels) {
  return new HashError(
    "too-large",
    `${width}x${height} is ${width * height} pixels, over the ${maxPixels}-pixel limit ` +
      `(${Math.round(maxPixels / 1e6)} megapixels)`,
    { width, height, maxPixels },
  );
}

function frameNotes(info, notes) {
  if (info.format === "jpeg" && info.multiPicture) {
    notes.push(`multi-picture file (${info.multiPicture} images): first image hashed`);
  } else if (info.frames > 1) {
    notes.push(`animated (${info.frames} frames): first frame hashed`);
  }
}

const TRANSPARENCY_NOTE = "transparency ignored: colour channels hashed as Meta's reference does";

// Copies the bitmap's pixels into `rgb` (the oriented full-size buffer), tile by tile, through
// an OffscreenCanvas of at most TILE_PIXELS. Returns whether any alpha was below 255.
function readBitmap(bitmap, rgb, map, signal) {
  const w = bitmap.width;
  const h = bitmap.height;
  const tileW = Math.min(w, TILE_MAX_SIDE);
  const tileH = Math.max(1, Math.min(h, Math.floor(TILE_PIXELS / tileW)));
  const canvas = new OffscreenCanvas(tileW, tileH);
  const ctx = canvas.getContext("2d", { willReadFrequently: true, alpha: true });
  if (!ctx) throw new HashError("undecodable", "this browser gave no canvas to read the picture");
  ctx.imageSmoothingEnabled = false;
  ctx.globalCompositeOperation = "copy";
  let alphaBelow255 = false;
  for (let y0 = 0; y0 < h; y0 += tileH) {
    throwIfCancelled(signal);
    const th = Math.min(tileH, h - y0);
    for (let x0 = 0; x0 < w; x0 += tileW) {
      const tw = Math.min(tileW, w - x0);
      ctx.clearRect(0, 0, tileW, tileH);
      ctx.drawImage(bitmap, x0, y0, tw, th, 0, 0, tw, th);
      const px = ctx.getImageData(0, 0, tw, th).data;
      const step = map.step * 3;
      let alphaAll = 255;
      for (let ty = 0; ty < th; ty++) {
        let o = (map.base(y0 + ty) + map.step * x0) * 3;
        let i = ty * tw * 4;
        const iEnd = i + tw * 4;
        for (; i < iEnd; i += 4, o += step) {
          rgb[o] = px[i];
          rgb[o + 1] = px[i + 1];
          rgb[o + 2] = px[i + 2];
          alphaAll &= px[i + 3];
        }
      }
      if (alphaAll !== 255) alphaBelow255 = true;
    }
  }
  return alphaBelow255;
}

// Reads the bitmap again through WebGL, whose texture upload keeps colour under transparency
// when asked not to premultiply (a 2D canvas cannot): the colour channels Pillow keeps for a
// WebP or other picture with transparency. Returns false where WebGL is missing or the
// picture is bigger than its textures; `rgb` is then left as the canvas read it.
function readBitmapWebGL(bitmap, rgb, map, signal) {
  let gl = null;
  try {
    gl = new OffscreenCanvas(1, 1).getContext("webgl2", { premultipliedAlpha: false, antialias: false });
  } catch {
    gl = null;
  }
  if (!gl) return false;
  const w = bitmap.width;
  const h = bitmap.height;
  const tex = gl.createTexture();
  const fb = gl.createFramebuffer();
  try {
    const max = gl.getParameter(gl.MAX_TEXTURE_SIZE);
    if (w > max || h > max) return false;
    gl.bindTexture(gl.TEXTURE_2D, tex);
    gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, false);
    gl.pixelStorei(gl.UNPACK_COLORSPACE_CONVERSION_WEBGL, gl.NONE);
    gl.pixelStorei(gl.UNPACK_FLIP_Y_WEBGL, false);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, gl.RGBA, gl.UNSIGNED_BYTE, bitmap);
    gl.bindFramebuffer(gl.FRAMEBUFFER, fb);
    gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, tex, 0);
    if (gl.checkFramebufferStatus(gl.FRAMEBUFFER) !== gl.FRAMEBUFFER_COMPLETE) return false;
    if (gl.getError() !== gl.NO_ERROR) return false;
    const bandH = Math.max(1, Math.min(h, Math.floor(TILE_PIXELS / w)));
    const px = new Uint8Array(w * bandH * 4);
    for (let y0 = 0; y0 < h; y0 += bandH) {
      throwIfCancelled(signal);
      const th = Math.min(bandH, h - y0);
      gl.readPixels(0, y0, w, th, gl.RGBA, gl.UNSIGNED_BYTE, px);
      if (gl.getError() !== gl.NO_ERROR) return false;
      for (let ty = 0; ty < th; ty++) {
        const step = map.step * 3;
        let o = map.base(y0 + ty) * 3;
        let i = ty * w * 4;
        for (let x = 0; x < w; x++, i += 4, o += step) {
          rgb[o] = px[i];
          rgb[o + 1] = px[i + 1];
          rgb[o + 2] = px[i + 2];
        }
      }
    }
    return true;
  } finally {
    gl.deleteFramebuffer(fb);
    gl.deleteTexture(tex);
    const lose = gl.getExtension("WEBGL_lose_context");
    if (lose) lose.loseContext();
  }
}

async function decodeOwnPng(blob, info, notes) {
  let png;
  try {
    png = decodePng(new Uint8Array(await blob.arrayBuffer()));
  } catch (err) {
    if (err instanceof HashError) throw err;
    throw new HashError("undecodable", `the PNG data is damaged (${err && err.message})`);
  }
  const out = pngToRgb(png, info.orientation);
  png = null;
  if (out.alphaBelow255) notes.push(TRANSPARENCY_NOTE);
  return { width: out.width, height: out.height, rgb: out.rgb, notes };
}

// Her photo's full-resolution RGB pixels, as rempart.media.decode gives them:
// {width, height (after orientation), rgb: Uint8Array (3 bytes a pixel), notes: string[]}.
export async function decodeImage(blob, { maxPixels = MAX_PIXELS, signal } = {}) {
  if (blob.size === 0) throw new HashError("undecodable", "the file is empty (0 bytes)");
  if (blob.size > MAX_FILE_BYTES) {
    throw new HashError(
      "too-large",
      `file is ${blob.size} bytes, over the ${MAX_FILE_BYTES}-byte limit`,
      { bytes: blob.size, maxBytes: MAX_FILE_BYTES },
    );
  }
  const info = await readHeader(blob);
  const notes = [];
  if (info.format === null) {
    throw new HashError("not-media", "not an image file Rempart can read");
  }
  if (PILLOW_ONLY[info.format]) {
    throw new HashError(
      "undecodable",
      `${PILLOW_ONLY[info.format]} images cannot be read in a browser: share it as JPEG or PNG, ` +
        "or ask the helpline to hash it with the Rempart program",
    );
  }
  if (info.width !== undefined) {
    if (!(info.width > 0 && info.height > 0)) {
      throw new HashError("undecodable", `impossible dimensions ${info.width}x${info.height}`);
    }
    if (info.width * info.height > maxPixels) throw tooLarge(info.width, info.height, maxPixels);
  }
  if (info.truncated) {
    throw new HashError("undecodable", "the image data is cut short (truncated file)");
  }
  frameNotes(info, notes);
  throwIfCancelled(signal);
  if (info.format === "png" && pngNeedsOwnDecoder(info)) return decodeOwnPng(blob, info, notes);

  let bitmap;
  try {
    bitmap = await createImageBitmap(blob, BITMAP_OPTIONS);
  } catch (err) {
    if (info.format === "heic") throw new HashError("heic-unsupported", HEIC_MESSAGE);
    const why = err && err.message ? ` (${err.message})` : "";
    throw new HashError("undecodable", `the browser cannot decode this image${why}`);
  }
  try {
    if (bitmap.width * bitmap.height > maxPixels) {
      throw tooLarge(bitmap.width, bitmap.height, maxPixels);
    }
    // The orientation the browser did not apply, this page applies.
    let orientation = info.orientation || 1;
    if (orientation !== 1) {
      const turned = (await browserAppliesOrientation())[info.format];
      if (turned) orientation = 1;
    }
    const map = orientationMap(orientation, bitmap.width, bitmap.height);
    const rgb = new Uint8Array(map.width * map.height * 3);
    const alpha = readBitmap(bitmap, rgb, map, signal);
    if (alpha) {
      notes.push(TRANSPARENCY_NOTE);
      if (!readBitmapWebGL(bitmap, rgb, map, signal)) {
        notes.push(
          "colour under transparent areas is lost in this browser: the hash may differ from " +
            "the Rempart program's",
        );
      }
    }
    if (info.format === "heic") {
      notes.push("HEIC photo decoded by this browser: the Rempart program may decode it slightly differently");
    }
    return { width: map.width, height: map.height, rgb, notes };
  } finally {
    bitmap.close();
  }
}
