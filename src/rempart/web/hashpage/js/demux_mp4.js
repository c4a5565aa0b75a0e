// MP4/MOV demuxing for her videos, with the pinned mp4box package, reading the file in slices
// so that a 2-hour video is never held in memory: the top-level boxes are walked by their
// headers, only the index (moov: a few MB even for hours of video) is given to mp4box, and the
// frames' bytes are then read in batches of a few MB straight from the sample table. The index
// may sit before or after the frames (no "fast start" needed).
//
// It also gives what PyAV reports for the same file, which the CLI's hashes depend on: the
// average frame rate (frame count over the summed sample durations, as FFmpeg's mov demuxer)
// for the timestamps n / rate, and the duration.
// Pure computation over a read(offset, length) function: no DOM, Node tests it.

import { createFile, DataStream, Endianness, MP4BoxBuffer } from "mp4box";
import { HashError } from "./errors.js";

const MAX_INDEX_BYTES = 256 * 1024 * 1024;
const BATCH_BYTES = 4 * 1024 * 1024;

function fourcc(bytes, at) {
  return String.fromCharCode(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);
}

function damaged(why) {
  return new HashError("undecodable",
    `starts like a video but cannot be opened: truncated or damaged (${why})`);
}

// Top-level boxes: [{type, offset, size}] from their headers only.
async function topLevelBoxes(read, size) {
  const boxes = [];
  let off = 0;
  while (off + 8 <= size) {
    const h = await read(off, Math.min(16, size - off));
    const dv = new DataView(h.buffer, h.byteOffset, h.byteLength);
    let boxSize = dv.getUint32(0);
    const type = fourcc(h, 4);
    if (boxSize === 1) {
      if (h.byteLength < 16) break;
      boxSize = Number(dv.getBigUint64(8));
    } else if (boxSize === 0) {
      boxSize = size - off;
    }
    if (boxSize < 8) throw damaged(`a box of ${boxSize} bytes at ${off}`);
    boxes.push({ type, offset: off, size: boxSize });
    off += boxSize;
  }
  return boxes;
}

// av_reduce(num, den, max): the closest fraction with terms <= max (FFmpeg's rational.c).
export function avReduce(num, den, max) {
  let a0n = 0;
  let a0d = 1;
  let a1n = 1;
  let a1d = 0;
  const sign = (num < 0) !== (den < 0);
  const gcd = (a, b) => (b === 0 ? a : gcd(b, a % b));
  const g = gcd(Math.abs(num), Math.abs(den));
  if (g) {
    num = Math.abs(num) / g;
    den = Math.abs(den) / g;
  }
  if (num <= max && den <= max) {
    a1n = num;
    a1d = den;
    den = 0;
  }
  while (den) {
    let x = Math.floor(num / den);
    const nextDen = num - den * x;
    const a2n = x * a1n + a0n;
    const a2d = x * a1d + a0d;
    if (a2n > max || a2d > max) {
      if (a1n) x = Math.floor((max - a0n) / a1n);
      if (a1d) x = Math.min(x, Math.floor((max - a0d) / a1d));
      if (den * (2 * x * a1d + a0d) > num * a1d) {
        a1n = x * a1n + a0n;
        a1d = x * a1d + a0d;
      }
      break;
    }
    a0n = a1n;
    a0d = a1d;
    a1n = a2n;
    a1d = a2d;
    num = den;
    den = nextDen;
  }
  return { num: sign ? -a1n : a1n, den: a1d };
}

// --- colour information, as FFmpeg's decoders see it ---------------------------------------
// The CLI's RGB depends on the colour matrix and range FFmpeg finds in the bitstream (or, when
// it says nothing, in the container): browsers report their own guess instead (Chromium says
// BT.709 for an unspecified HD stream), so the page reads them itself.
// Each returns {colorspace (FFmpeg's AVColorSpace number) | null, fullRange: bool | null}.

class Bits {
  constructor(bytes) {
    this.b = bytes;
    this.pos = 0;
  }

  u(n) {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const byte = this.b[this.pos >> 3];
      if (byte === undefined) throw new RangeError("end of data");
      v = v * 2 + ((byte >> (7 - (this.pos & 7))) & 1);
      this.pos++;
    }
    return v;
  }

  ue() {
    let zeros = 0;
    while (this.u(1) === 0) {
      zeros++;
      if (zeros > 31) throw new RangeError("bad exp-Golomb code");
    }
    return 2 ** zeros - 1 + this.u(zeros);
  }

  se() {
    const k = this.ue();
    return k % 2 ? (k + 1) / 2 : -k / 2;
  }
}

function unescapeNal(nal) {
  const out = [];
  for (let i = 0; i < nal.length; i++) {
    if (i >= 2 && nal[i] === 3 && nal[i - 1] === 0 && nal[i - 2] === 0) continue;
    out.push(nal[i]);
  }
  return Uint8Array.from(out);
}

// An H.264 sequence parameter set (NAL without its 1-byte header): its VUI colour fields.
export function colourFromSps(sps) {
  const r = new Bits(unescapeNal(sps));
  const profile = r.u(8);
  r.u(16);
  r.ue();
  if ([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].includes(profile)) {
    const chroma = r.ue();
    if (chroma === 3) r.u(1);
    r.ue();
    r.ue();
    r.u(1);
    if (r.u(1)) {
      for (let i = 0; i < (chroma !== 3 ? 8 : 12); i++) {
        if (!r.u(1)) continue;
        let last = 8;
        let next = 8;
        for (let j = 0; j < (i < 6 ? 16 : 64); j++) {
          if (next !== 0) next = (last + r.se() + 256) % 256;
          last = next === 0 ? last : next;
        }
      }
    }
  }
  r.ue();
  const pocType = r.ue();
  if (pocType === 0) r.ue();
  else if (pocType === 1) {
    r.u(1);
    r.se();
    r.se();
    const n = r.ue();
    for (let i = 0; i < n; i++) r.se();
  }
  r.ue();
  r.u(1);
  r.ue();
  r.ue();
  if (!r.u(1)) r.u(1);
  r.u(1);
  if (r.u(1)) {
    r.ue();
    r.ue();
    r.ue();
    r.ue();
  }
  const none = { colorspace: null, fullRange: null };
  if (!r.u(1)) return none;
  if (r.u(1) && r.u(8) === 255) r.u(32);
  if (r.u(1)) r.u(1);
  if (!r.u(1)) return none;
  r.u(3);
  const fullRange = r.u(1) === 1;
  if (!r.u(1)) return { colorspace: null, fullRange };
  r.u(8);
  r.u(8);
  return { colorspace: r.u(8), fullRange };
}

// avcC (AVCDecoderConfigurationRecord): the colour of its first SPS.
export function colourFromAvcC(avcc) {
  try {
    if (!avcc || avcc.length < 8 || (avcc[5] & 0x1f) === 0) return { colorspace: null, fullRange: null };
    const len = (avcc[6] << 8) | avcc[7];
    return colourFromSps(avcc.subarray(9, 8 + len));
  } catch {
    return { colorspace: null, fullRange: null };
  }
}

const VP9_COLORSPACES = [2, 5, 1, 6, 7, 9, 3, 0];

// The uncompressed header of a VP9 key frame: its colour space and range.
export function colourFromVp9Frame(frame) {
  try {
    const r = new Bits(frame);
    if (r.u(2) !== 2) return null;
    const profile = r.u(1) + 2 * r.u(1);
    if (profile === 3) r.u(1);
    if (r.u(1)) return null; // show_existing_frame
    if (r.u(1) !== 0) return null; // not a key frame
    r.u(2);
    if (r.u(24) !== 0x498342) return null;
    if (profile >= 2) r.u(1);
    const cs = r.u(3);
    const fullRange = cs === 7 ? true : r.u(1) === 1;
    return { colorspace: VP9_COLORSPACES[cs], fullRange };
  } catch {
    return null;
  }
}

function colourFromColr(entry) {
  const colr = (entry.colrs || []).find((c) => c.colour_type === "nclx" || c.colour_type === "nclc");
  if (!colr) return { colorspace: null, fullRange: null };
  return {
    colorspace: colr.matrix_coefficients,
    fullRange: colr.colour_type === "nclx" ? Boolean(colr.full_range_flag) : null,
  };
}

// The codec configuration record (avcC, hvcC, vpcC, av1C) without its box header: WebCodecs'
// `description`.
function description(entry) {
  const box = entry.avcC || entry.hvcC || entry.vpcC || entry.av1C;
  if (!box) return undefined;
  const ds = new DataStream(undefined, 0, Endianness.BIG_ENDIAN);
  box.write(ds);
  return new Uint8Array(ds.buffer, 8);
}

// Opens an MP4/MOV: {codec, description, width, height, duration, rate: {num, den} | null,
// samples: count, timescale, chunks(): async iterator of {data, timestamp (µs), duration (µs),
// key, index}}. HashError "undecodable" when it is damaged or has no video track.
export async function openMp4(read, size) {
  const boxes = await topLevelBoxes(read, size);
  const moov = boxes.find((b) => b.type === "moov");
  if (!moov) {
    throw damaged("an MP4 cut before its index cannot be read");
  }
  if (moov.offset + moov.size > size) throw damaged("the MP4's index is cut short");
  if (moov.size > MAX_INDEX_BYTES) throw damaged("an index of absurd size");
  if (boxes.some((b) => b.type === "moof")) {
    throw new HashError("codec-unsupported",
      "fragmented MP4 (recorded or streamed in pieces) is not read by this page yet");
  }
  const file = createFile();
  let info = null;
  let error = null;
  file.onReady = (i) => {
    info = i;
  };
  file.onError = (_module, message) => {
    error = message;
  };
  // ftyp and moov are given to mp4box as one contiguous buffer from offset 0, wherever moov
  // sits: the sample offsets in the index are absolute, and mp4box then never waits for the
  // frames' bytes (mdat) it does not need.
  const parts = [];
  for (const box of boxes) {
    if (box.type === "ftyp" || box.type === "moov") parts.push(await read(box.offset, box.size));
  }
  const joined = new Uint8Array(parts.reduce((a, p) => a + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    joined.set(p, at);
    at += p.byteLength;
  }
  try {
    file.appendBuffer(MP4BoxBuffer.fromArrayBuffer(joined.buffer, 0));
  } catch (err) {
    throw damaged(`its index cannot be parsed: ${err && err.message ? err.message : err}`);
  }
  file.flush();
  if (!info) throw damaged(error || "its index cannot be parsed");
  const track = info.videoTracks[0];
  if (!track) throw new HashError("undecodable", "the file has no video stream");
  const trak = file.getTrackById(track.id);
  const samples = trak.samples || [];
  if (!samples.length) throw new HashError("undecodable", "the video has no decodable frames");
  const entry = trak.mdia.minf.stbl.stsd.entries[0];
  const timescale = track.timescale;
  // FFmpeg's average rate: frame count over the stream's duration, which an edit list (the
  // usual one skips the B-frame delay) cuts to its segments' length when they are shorter.
  let summed = 0;
  for (const s of samples) summed += s.duration;
  const edits = (track.edits || []).filter((e) => e.media_time >= 0);
  if (edits.length) {
    const edited = edits.reduce(
      (a, e) => a + Math.round((e.segment_duration * timescale) / info.timescale), 0);
    if (edited > 0 && edited < summed) summed = edited;
  }
  const rate = summed > 0 ? avReduce(timescale * samples.length, summed, 0x7fffffff) : null;
  // FFmpeg's duration: the longest track, through its edit list when it has one.
  let duration = 0;
  for (const t of info.tracks) {
    let d;
    if (t.edits && t.edits.length) {
      d = t.edits.reduce((a, e) => a + e.segment_duration, 0) / info.timescale;
    } else {
      d = t.duration / t.timescale;
    }
    if (d > duration) duration = d;
  }
  duration = duration > 0 ? Math.round(duration * 1e6) / 1e6 : null;
  const width = track.video ? track.video.width : track.track_width;
  const height = track.video ? track.video.height : track.track_height;
  // The sample table only (offset, size, time); mp4box's own list is dropped once copied.
  // (typed arrays: 2 hours at 30 frames/s are 216,000 frames, 6 MB here).
  const n = samples.length;
  const offsets = new Float64Array(n);
  const sizes = new Uint32Array(n);
  const ctss = new Float64Array(n);
  const durations = new Float64Array(n);
  const syncs = new Uint8Array(n);
  samples.forEach((s, k) => {
    offsets[k] = s.offset;
    sizes[k] = s.size;
    ctss[k] = s.cts;
    durations[k] = s.duration;
    syncs[k] = s.is_sync ? 1 : 0;
  });
  file.stop && file.stop();

  async function* chunks() {
    let i = 0;
    while (i < n) {
      // A batch of samples whose bytes are contiguous in the file, up to BATCH_BYTES.
      const start = offsets[i];
      let end = start + sizes[i];
      let j = i + 1;
      while (j < n && offsets[j] === end && end - start + sizes[j] <= BATCH_BYTES) {
        end += sizes[j];
        j++;
      }
      if (start >= size) return; // the file is cut short here
      const bytes = await read(start, Math.min(end, size) - start);
      for (let k = i; k < j; k++) {
        const at = offsets[k] - start;
        if (at + sizes[k] > bytes.byteLength) return; // cut short mid-batch
        yield {
          data: bytes.subarray(at, at + sizes[k]),
          timestamp: Math.round((ctss[k] * 1e6) / timescale),
          duration: Math.round((durations[k] * 1e6) / timescale),
          key: syncs[k] === 1,
          index: k,
        };
      }
      i = j;
    }
  }

  const container = colourFromColr(entry);
  const stream = entry.avcC ? colourFromAvcC(description(entry)) : { colorspace: null, fullRange: null };
  return {
    container: "mp4",
    colour: {
      colorspace: stream.colorspace ?? container.colorspace,
      fullRange: stream.fullRange ?? container.fullRange,
    },
    codec: track.codec,
    description: description(entry),
    width,
    height,
    duration,
    rate,
    samples: n,
    timescale,
    chunks,
  };
}
