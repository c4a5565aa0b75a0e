// WebM/Matroska demuxing for her videos (Telegram video stickers, browser and Android
// recordings), with a small EBML reader of our own: no npm package reads Matroska in slices.
// It reads the file through a window of a few MB (a 2-hour video is never held in memory),
// walks Segment > Info (timecode scale, duration), Tracks (codec, CodecPrivate, size, default
// duration, colour) and every Cluster's SimpleBlocks and BlockGroups, including the
// unknown-size segments and clusters that live recorders write. Codecs: VP8, VP9, AV1, H.264
// (HEVC is named, and refused later if the browser lacks it).
// Like demux_mp4.js it also gives what PyAV reports for the file: the average frame rate
// (FFmpeg's av_reduce of the default duration) and the duration.
// Pure computation over a read(offset, length) function: no DOM, Node tests it.

import { HashError } from "./errors.js";
import { avReduce, colourFromAvcC } from "./demux_mp4.js";

const WINDOW = 4 * 1024 * 1024;

const ID = {
  EBML: 0x1a45dfa3,
  Segment: 0x18538067,
  Info: 0x1549a966,
  TimecodeScale: 0x2ad7b1,
  Duration: 0x4489,
  Tracks: 0x1654ae6b,
  TrackEntry: 0xae,
  TrackNumber: 0xd7,
  TrackType: 0x83,
  CodecID: 0x86,
  CodecPrivate: 0x63a2,
  DefaultDuration: 0x23e383,
  Video: 0xe0,
  PixelWidth: 0xb0,
  PixelHeight: 0xba,
  Colour: 0x55b0,
  MatrixCoefficients: 0x55b1,
  Range: 0x55b9,
  Cluster: 0x1f43b675,
  Timecode: 0xe7,
  SimpleBlock: 0xa3,
  BlockGroup: 0xa0,
  Block: 0xa1,
  ReferenceBlock: 0xfb,
};
// Elements that end an unknown-size cluster (the next cluster or a top-level element).
const TOP_LEVEL = new Set([ID.Cluster, ID.Info, ID.Tracks, 0x1c53bb6b, 0x114d9b74, 0x1254c367,
  0x1941a469, 0x1043a770, ID.EBML, ID.Segment]);

function damaged(why) {
  return new HashError("undecodable",
    `starts like a video but cannot be opened: truncated or damaged (${why})`);
}

// A window over the file: bytes are read a few MB at a time.
class Window {
  constructor(read, size) {
    this.read = read;
    this.size = size;
    this.start = 0;
    this.bytes = new Uint8Array(0);
  }

  async get(offset, length) {
    if (offset + length > this.size) return null;
    if (offset >= this.start && offset + length <= this.start + this.bytes.length) {
      return this.bytes.subarray(offset - this.start, offset - this.start + length);
    }
    if (length > WINDOW) return this.read(offset, length);
    this.start = offset;
    this.bytes = await this.read(offset, Math.min(WINDOW, this.size - offset));
    return this.bytes.subarray(0, length);
  }
}

function vintLength(first) {
  for (let i = 0; i < 8; i++) if (first & (0x80 >> i)) return i + 1;
  return 0;
}

// An element header at `offset`: {id, size (null = unknown), dataStart} or null at the end.
async function header(win, offset) {
  const head = await win.get(offset, Math.min(12, win.size - offset));
  if (!head || head.length < 2) return null;
  const idLen = vintLength(head[0]);
  if (!idLen || idLen > 4 || head.length < idLen + 1) throw damaged(`a bad element at ${offset}`);
  let id = 0;
  for (let i = 0; i < idLen; i++) id = id * 256 + head[i];
  const sizeLen = vintLength(head[idLen]);
  if (!sizeLen || head.length < idLen + sizeLen) throw damaged(`a bad element size at ${offset}`);
  let size = head[idLen] & (0xff >> sizeLen);
  let allOnes = size === 0xff >> sizeLen;
  for (let i = 1; i < sizeLen; i++) {
    const b = head[idLen + i];
    size = size * 256 + b;
    if (b !== 0xff) allOnes = false;
  }
  return { id, size: allOnes ? null : size, dataStart: offset + idLen + sizeLen };
}

function readUint(bytes) {
  let v = 0;
  for (const b of bytes) v = v * 256 + b;
  return v;
}

function readFloat(bytes) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length === 4) return dv.getFloat32(0);
  if (bytes.length === 8) return dv.getFloat64(0);
  return 0;
}

// Children of a master element held in memory (Info, Tracks): [{id, data}].
function children(bytes) {
  const out = [];
  let p = 0;
  while (p < bytes.length) {
    const idLen = vintLength(bytes[p]);
    if (!idLen || idLen > 4) break;
    let id = 0;
    for (let i = 0; i < idLen; i++) id = id * 256 + bytes[p + i];
    const sizeLen = vintLength(bytes[p + idLen]);
    if (!sizeLen) break;
    let size = bytes[p + idLen] & (0xff >> sizeLen);
    for (let i = 1; i < sizeLen; i++) size = size * 256 + bytes[p + idLen + i];
    const start = p + idLen + sizeLen;
    out.push({ id, data: bytes.subarray(start, Math.min(start + size, bytes.length)) });
    p = start + size;
  }
  return out;
}

function hex2(n) {
  return n.toString(16).padStart(2, "0");
}

// WebCodecs' codec string and description for a Matroska track.
function codecOf(track) {
  const priv = track.codecPrivate;
  switch (track.codecId) {
    case "V_VP8":
      return { codec: "vp8" };
    case "V_VP9":
      return { codec: "vp09.00.10.08", vp9: true }; // profile/depth fixed from the first frame
    case "V_AV1": {
      if (priv && priv.length >= 4) {
        const profile = priv[1] >> 5;
        const level = priv[1] & 0x1f;
        const tier = priv[2] >> 7 ? "H" : "M";
        const depth = (priv[2] >> 6) & 1 ? ((priv[2] >> 5) & 1 ? 12 : 10) : 8;
        return { codec: `av01.${profile}.${String(level).padStart(2, "0")}${tier}.${String(depth).padStart(2, "0")}`,
          description: priv };
      }
      return { codec: "av01.0.08M.08" };
    }
    case "V_MPEG4/ISO/AVC":
      if (!priv || priv.length < 4) throw damaged("an H.264 track without its configuration");
      return { codec: `avc1.${hex2(priv[1])}${hex2(priv[2])}${hex2(priv[3])}`, description: priv };
    case "V_MPEGH/ISO/HEVC":
      return { codec: "hvc1.1.6.L93.B0", description: priv };
    default:
      throw new HashError("codec-unsupported",
        `this page cannot read ${track.codecId || "this"} video inside WebM/Matroska`);
  }
}

// VP9 profile and bit depth from a key frame: the codec string WebCodecs expects.
export function vp9CodecString(frame) {
  const b = frame[0];
  if ((b >> 6) !== 2) return null;
  const profile = ((b >> 5) & 1) + 2 * ((b >> 4) & 1);
  let depth = 8;
  if (profile >= 2 && frame.length > 5) {
    // marker, profile, (reserved), 4 flags, then the 24-bit sync code, then the depth bit.
    const offset = (profile === 3 ? 9 : 8) + 24;
    depth = (frame[offset >> 3] >> (7 - (offset & 7))) & 1 ? 12 : 10;
  }
  return `vp09.0${profile}.10.${String(depth).padStart(2, "0")}`;
}

// Opens a WebM/Matroska file: the same shape as openMp4's answer.
export async function openWebm(read, size) {
  const win = new Window(read, size);
  const ebml = await header(win, 0);
  if (!ebml || ebml.id !== ID.EBML || ebml.size === null) throw damaged("no EBML header");
  let off = ebml.dataStart + ebml.size;
  let seg = await header(win, off);
  while (seg && seg.id !== ID.Segment && seg.size !== null) {
    off = seg.dataStart + seg.size;
    seg = await header(win, off);
  }
  if (!seg || seg.id !== ID.Segment) throw damaged("no Segment");
  const segEnd = seg.size === null ? size : Math.min(size, seg.dataStart + seg.size);
  let timecodeScale = 1_000_000;
  let durationUnits = null;
  let tracks = null;
  let firstCluster = null;
  off = seg.dataStart;
  while (off < segEnd) {
    const el = await header(win, off);
    if (!el) break;
    if (el.id === ID.Cluster) {
      if (firstCluster === null) firstCluster = off;
      if (tracks) break;
      if (el.size === null) throw damaged("the tracks come after a cluster of unknown size");
    } else if (el.id === ID.Info || el.id === ID.Tracks) {
      if (el.size === null || el.size > 64 * 1024 * 1024) throw damaged("an absurd header");
      const data = await win.get(el.dataStart, el.size);
      if (!data) throw damaged("the header is cut short");
      if (el.id === ID.Info) {
        for (const c of children(data)) {
          if (c.id === ID.TimecodeScale) timecodeScale = readUint(c.data);
          else if (c.id === ID.Duration) durationUnits = readFloat(c.data);
        }
      } else {
        tracks = children(data).filter((c) => c.id === ID.TrackEntry).map((t) => {
          const tr = { number: 0, type: 0, codecId: "", codecPrivate: null, defaultDuration: 0,
            width: 0, height: 0, matrix: null, range: null };
          for (const c of children(t.data)) {
            if (c.id === ID.TrackNumber) tr.number = readUint(c.data);
            else if (c.id === ID.TrackType) tr.type = readUint(c.data);
            else if (c.id === ID.CodecID) tr.codecId = String.fromCharCode(...c.data).replace(/\0+$/, "");
            else if (c.id === ID.CodecPrivate) tr.codecPrivate = Uint8Array.from(c.data);
            else if (c.id === ID.DefaultDuration) tr.defaultDuration = readUint(c.data);
            else if (c.id === ID.Video) {
              for (const v of children(c.data)) {
                if (v.id === ID.PixelWidth) tr.width = readUint(v.data);
                else if (v.id === ID.PixelHeight) tr.height = readUint(v.data);
                else if (v.id === ID.Colour) {
                  for (const k of children(v.data)) {
                    if (k.id === ID.MatrixCoefficients) tr.matrix = readUint(k.data);
                    else if (k.id === ID.Range) tr.range = readUint(k.data);
                  }
                }
              }
            }
          }
          return tr;
        });
      }
    }
    if (el.size === null) break;
    off = el.dataStart + el.size;
  }
  if (!tracks) throw damaged("no track list");
  const track = tracks.find((t) => t.type === 1);
  if (!track) throw new HashError("undecodable", "the file has no video stream");
  if (firstCluster === null) throw new HashError("undecodable", "the video has no decodable frames");
  const { codec, description, vp9 } = codecOf(track);
  const rate = track.defaultDuration ? avReduce(1e9, track.defaultDuration, 30000) : null;
  const duration = durationUnits
    ? Math.trunc((durationUnits * timecodeScale) / 1000) / 1e6 : null;
  const stream = track.codecId === "V_MPEG4/ISO/AVC" ? colourFromAvcC(description)
    : { colorspace: null, fullRange: null };
  const colour = {
    colorspace: stream.colorspace ?? track.matrix,
    fullRange: stream.fullRange ?? (track.range === 2 ? true : track.range === 1 ? false : null),
  };

  async function* chunks() {
    let p = firstCluster;
    let index = 0;
    while (p < segEnd) {
      const el = await header(win, p);
      if (!el) return;
      if (el.id !== ID.Cluster) {
        if (el.size === null) return;
        p = el.dataStart + el.size;
        continue;
      }
      const end = el.size === null ? segEnd : Math.min(segEnd, el.dataStart + el.size);
      let clusterTime = 0;
      let q = el.dataStart;
      while (q < end) {
        const c = await header(win, q);
        if (!c) return;
        if (el.size === null && TOP_LEVEL.has(c.id)) break; // the next cluster
        if (c.size === null) throw damaged(`an element of unknown size at ${q}`);
        const next = c.dataStart + c.size;
        if (c.id === ID.Timecode) {
          clusterTime = readUint(await win.get(c.dataStart, c.size) || []);
        } else if (c.id === ID.SimpleBlock || c.id === ID.BlockGroup) {
          let blockStart = c.dataStart;
          let blockSize = c.size;
          let key = false;
          if (c.id === ID.BlockGroup) {
            const group = await win.get(c.dataStart, c.size);
            if (!group) return;
            const parts = children(group);
            const block = parts.find((x) => x.id === ID.Block);
            if (!block) {
              q = next;
              continue;
            }
            key = !parts.some((x) => x.id === ID.ReferenceBlock);
            blockStart = c.dataStart + (block.data.byteOffset - group.byteOffset);
            blockSize = block.data.length;
          }
          const data = await win.get(blockStart, blockSize);
          if (!data) return; // cut short
          const tnLen = vintLength(data[0]);
          const trackNumber = readUint(data.subarray(0, tnLen)) - (0x80 >> (tnLen - 1)) * 256 ** (tnLen - 1);
          if (trackNumber === track.number) {
            const rel = (data[tnLen] << 24 >> 16) | data[tnLen + 1]; // int16
            const flags = data[tnLen + 2];
            if (flags & 0x06) {
              throw new HashError("codec-unsupported", "laced video frames in Matroska are not read by this page");
            }
            if (c.id === ID.SimpleBlock) key = (flags & 0x80) !== 0;
            const frame = Uint8Array.from(data.subarray(tnLen + 3));
            yield {
              data: frame,
              timestamp: Math.round(((clusterTime + rel) * timecodeScale) / 1000),
              duration: track.defaultDuration ? Math.round(track.defaultDuration / 1000) : 0,
              key,
              index: index++,
            };
          }
        }
        q = next;
      }
      if (el.size === null) p = q;
      else p = el.dataStart + el.size;
    }
  }

  return {
    container: "webm",
    codec,
    vp9: Boolean(vp9),
    description,
    width: track.width,
    height: track.height,
    duration,
    rate,
    colour,
    timescale: 1e9 / timecodeScale,
    chunks,
  };
}
