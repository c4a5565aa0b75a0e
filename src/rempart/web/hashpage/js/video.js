// Her video hashed in her browser as `rempart hash --out` hashes it on the bank side: every
// frame decoded with WebCodecs' VideoDecoder, turned into RGB exactly as the CLI's PyAV does
// (the decoder's YUV planes through vpdq.js's port of swscale), hashed whole, inside black bars
// and by halves (vpdq.js). The file is read in slices (demux_mp4.js, demux_webm.js) and each
// VideoFrame is closed as soon as its pixels are copied, with few frames in flight, so memory
// stays bounded whatever the length; progress follows the frames' times; an AbortSignal
// cancels between frames. A container or codec this browser cannot decode (HEVC in most
// desktop Chromium builds, AVI, ...) is HashError("codec-unsupported"): the worker then keeps
// the exact hashes only and says what that means.
// Browser only (WebCodecs, OffscreenCanvas): runs in the hashing worker.

import { HashError, throwIfCancelled } from "./errors.js";
import { colourFromVp9Frame, openMp4 } from "./demux_mp4.js";
import { openWebm, vp9CodecString } from "./demux_webm.js";
import { VpdqHasher, avColorSpace, yuvCoefficients, yuvToRgb } from "./vpdq.js";

const MAX_SIDE = 8192; // rempart.media.video limits
const MAX_FRAME_PIXELS = 40_000_000;
const MAX_QUEUE = 6; // chunks waiting in the decoder
const MAX_FRAMES = 3; // decoded frames waiting to be hashed (each holds decoder memory)

const CODEC_NAMES = { avc1: "H.264", avc3: "H.264", hvc1: "HEVC (H.265)", hev1: "HEVC (H.265)",
  vp08: "VP8", vp8: "VP8", vp09: "VP9", vp9: "VP9", av01: "AV1", mp4v: "MPEG-4 Part 2" };

function codecName(codec) {
  const key = String(codec || "").split(".")[0];
  return CODEC_NAMES[key] || key || "unknown";
}

function reader(blob) {
  return async (offset, length) => {
    try {
      return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
    } catch (err) {
      throw new HashError("read-failed",
        `the file could not be read (moved or deleted while hashing?): ${err && err.message}`);
    }
  };
}

function containerOf(head) {
  if (head.length >= 4 && head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3) {
    return "webm";
  }
  if (head.length >= 8) {
    const t = String.fromCharCode(head[4], head[5], head[6], head[7]);
    if (["ftyp", "moov", "mdat", "free", "wide", "skip", "pnot"].includes(t)) return "mp4";
  }
  const ascii = String.fromCharCode(...head.subarray(0, 4));
  if (ascii === "RIFF") return "AVI";
  if (ascii.startsWith("FLV")) return "FLV";
  if (ascii.startsWith("GIF8")) return "animated GIF";
  if (head[0] === 0 && head[1] === 0 && head[2] === 1) return "MPEG";
  if (head[0] === 0x47) return "MPEG-TS";
  return "unknown";
}

// Pixel layouts whose planes go through vpdq.js's exact swscale port.
const YUV_FORMATS = { I420: "420", I420A: "420", NV12: "420", I422: "422", I444: "444" };
const RGB_FORMATS = { RGBA: [0, 1, 2], RGBX: [0, 1, 2], BGRA: [2, 1, 0], BGRX: [2, 1, 0] };

class FrameReader {
  constructor() {
    this.buffer = null;
    this.rgb = null;
    this.canvas = null;
    this.approximate = null;
    this.colour = { colorspace: null, fullRange: null }; // what FFmpeg finds in the stream
  }

  // The colour matrix and range as the CLI's FFmpeg sees them: the bitstream's or the
  // container's when known; otherwise "unspecified" (not the browser's guess: Chromium calls
  // an unspecified HD stream BT.709, where FFmpeg converts it as BT.601).
  coefficients(frame) {
    const cs = frame.colorSpace || {};
    let colorspace = this.colour.colorspace;
    if (colorspace === null && cs.matrix === "rgb") colorspace = avColorSpace(cs.matrix);
    return yuvCoefficients(colorspace ?? 2, this.colour.fullRange === true);
  }

  // VideoFrame -> {rgb, width, height}; the frame is closed here.
  async read(frame) {
    const width = frame.visibleRect ? frame.visibleRect.width : frame.displayWidth;
    const height = frame.visibleRect ? frame.visibleRect.height : frame.displayHeight;
    if (width * height > MAX_FRAME_PIXELS || Math.max(width, height) > MAX_SIDE) {
      frame.close();
      throw new HashError("too-large", `frames of ${width}x${height} exceed the limit (${MAX_SIDE} px)`);
    }
    if (!this.rgb || this.rgb.length !== width * height * 3) {
      this.rgb = new Uint8Array(width * height * 3);
    }
    const chroma = YUV_FORMATS[frame.format];
    const rgbOrder = RGB_FORMATS[frame.format];
    try {
      if (rgbOrder) {
        // Already RGB (animated GIF frames): the channels as they are.
        const size = frame.allocationSize();
        if (!this.buffer || this.buffer.length < size) this.buffer = new Uint8Array(size);
        const [layout] = await frame.copyTo(this.buffer);
        const [r, g, b] = rgbOrder;
        const buf = this.buffer;
        for (let row = 0, o = 0; row < height; row++) {
          for (let p = layout.offset + row * layout.stride, end = p + width * 4; p < end; p += 4) {
            this.rgb[o++] = buf[p + r];
            this.rgb[o++] = buf[p + g];
            this.rgb[o++] = buf[p + b];
          }
        }
      } else if (chroma) {
        const size = frame.allocationSize();
        if (!this.buffer || this.buffer.length < size) this.buffer = new Uint8Array(size);
        const layout = await frame.copyTo(this.buffer);
        const coeffs = this.coefficients(frame);
        const nv12 = frame.format === "NV12";
        const planes = {
          y: this.buffer, u: this.buffer, v: this.buffer,
          yOffset: layout[0].offset, yStride: layout[0].stride,
          uOffset: layout[1].offset, uStride: layout[1].stride,
          vOffset: nv12 ? layout[1].offset + 1 : layout[2].offset,
          vStride: nv12 ? layout[1].stride : layout[2].stride,
          uStep: nv12 ? 2 : 1,
        };
        yuvToRgb(planes, width, height, coeffs, this.rgb, chroma);
        if (chroma !== "420" || height % 2) {
          this.approximate = `${frame.format} frames of ${width}x${height}`;
        }
      } else {
        // Other layouts (10-bit, RGB): the browser's own conversion, which may differ from
        // the CLI's by a few levels.
        if (!this.canvas || this.canvas.width !== width || this.canvas.height !== height) {
          this.canvas = new OffscreenCanvas(width, height);
          this.ctx = this.canvas.getContext("2d", { willReadFrequently: true });
        }
        this.ctx.drawImage(frame, 0, 0, width, height);
        const rgba = this.ctx.getImageData(0, 0, width, height, { colorSpace: "srgb" }).data;
        for (let i = 0, o = 0; i < rgba.length; i += 4, o += 3) {
          this.rgb[o] = rgba[i];
          this.rgb[o + 1] = rgba[i + 1];
          this.rgb[o + 2] = rgba[i + 2];
        }
        this.approximate = `${frame.format || "opaque"} frames (colours converted by the browser)`;
      }
    } finally {
      frame.close();
    }
    return { rgb: this.rgb, width, height };
  }
}

// {media_type: "video", pdq: null, pdq_quality: null, width, height, duration,
//  seconds_per_frame: 0, vpdq, vpdq_inside?, vpdq_regions, vpdq_crops?, notes} for a video
// file; `robust` (default true) adds the centre crops, as `rempart hash` (--robust) does.
export async function hashVideo(blob, { onProgress, signal, robust = true } = {}) {
  if (typeof VideoDecoder === "undefined") {
    throw new HashError("codec-unsupported", "this browser has no video decoder (WebCodecs)");
  }
  const read = reader(blob);
  const size = blob.size;
  const head = await read(0, Math.min(16, size));
  const kind = containerOf(head);
  let demux;
  if (kind === "mp4") demux = await openMp4(read, size);
  else if (kind === "webm") demux = await openWebm(read, size);
  else if (kind === "animated GIF" && typeof ImageDecoder !== "undefined") {
    return hashGif(blob, { onProgress, signal, robust });
  } else {
    throw new HashError("codec-unsupported",
      kind === "unknown" ? "this video's container is not one this page reads (MP4, MOV, WebM)"
        : `${kind} videos are not read by this page (only MP4, MOV and WebM)`);
  }
  throwIfCancelled(signal);
  // The first chunk is read before configuring: a WebM VP9 track says its profile and bit
  // depth only in its first key frame.
  const source = demux.chunks()[Symbol.asyncIterator]();
  let first;
  try {
    first = await source.next();
  } catch (err) {
    if (err instanceof HashError && err.code !== "undecodable") throw err;
    throw new HashError("undecodable", `no frame could be read (${err && err.message})`);
  }
  if (first.done) throw new HashError("undecodable", "the video has no decodable frames");
  if (demux.vp9) demux.codec = vp9CodecString(first.value.data) || demux.codec;
  const config = { codec: demux.codec, codedWidth: demux.width, codedHeight: demux.height };
  if (demux.description) config.description = demux.description;
  let supported = false;
  try {
    supported = (await VideoDecoder.isConfigSupported(config)).supported;
  } catch (err) {
    supported = false;
  }
  if (!supported) {
    throw new HashError("codec-unsupported",
      `this browser cannot decode ${codecName(demux.codec)} video (${demux.codec})`);
  }

  const hasher = new VpdqHasher({ crops: robust });
  const frames = []; // decoded, waiting to be hashed
  let decodeError = null;
  let wake = null;
  const notify = () => {
    if (wake) {
      const w = wake;
      wake = null;
      w();
    }
  };
  const decoder = new VideoDecoder({
    output: (frame) => {
      frames.push(frame);
      notify();
    },
    error: (err) => {
      decodeError = err;
      notify();
    },
  });
  decoder.addEventListener && decoder.addEventListener("dequeue", notify);
  decoder.configure(config);
  const frameReader = new FrameReader();
  if (demux.colour) frameReader.colour = demux.colour;
  const vp9 = /^vp0?9/.test(demux.codec);
  let firstKey = true;
  const rate = demux.rate;
  const total = demux.duration || 0;
  let number = 0;
  let lastTime = 0;
  const notes = [];

  const waitEvent = () => new Promise((resolve) => {
    wake = resolve;
    setTimeout(notify, 20); // a decoder without dequeue events
  });

  async function hashOne() {
    const frame = frames.shift();
    const ts = rate ? (number * rate.den) / rate.num : frame.timestamp / 1e6;
    const { rgb, width, height } = await frameReader.read(frame);
    hasher.addFrame(rgb, width, height, ts);
    number++;
    lastTime = ts;
    if (onProgress) onProgress({ done: ts, total });
  }

  async function drain(maxQueue, maxFrames) {
    while (decoder.decodeQueueSize > maxQueue || frames.length > maxFrames) {
      if (decodeError) return;
      throwIfCancelled(signal);
      if (frames.length) await hashOne();
      else await waitEvent();
    }
  }

  let cutShort = null;
  try {
    try {
      for (let step = first; !step.done; step = await source.next()) {
        const chunk = step.value;
        throwIfCancelled(signal);
        if (decodeError) break;
        if (vp9 && firstKey && chunk.key) {
          firstKey = false;
          const c = colourFromVp9Frame(chunk.data);
          if (c) frameReader.colour = c;
        }
        decoder.decode(new EncodedVideoChunk({
          type: chunk.key ? "key" : "delta",
          timestamp: chunk.timestamp,
          duration: chunk.duration,
          data: chunk.data,
        }));
        await drain(MAX_QUEUE, MAX_FRAMES);
      }
    } catch (err) {
      if (err instanceof HashError && err.code !== "undecodable") throw err;
      cutShort = err && err.message ? err.message : String(err);
    }
    if (!decodeError) {
      const flushed = decoder.flush().catch((err) => {
        decodeError = decodeError || err;
      });
      let done = false;
      flushed.then(() => {
        done = true;
        notify();
      });
      while (!done || frames.length) {
        throwIfCancelled(signal);
        if (frames.length) await hashOne();
        else if (!done) await waitEvent();
      }
    }
    while (frames.length && !decodeError) await hashOne();
  } finally {
    for (const f of frames.splice(0)) f.close();
    if (decoder.state !== "closed") decoder.close();
  }
  if (number === 0) {
    const why = decodeError ? decodeError.message || String(decodeError) : cutShort;
    throw new HashError("undecodable", `no frame could be decoded${why ? ` (${why})` : ""}`);
  }
  if (decodeError) {
    notes.push(`decoding stopped after frame ${number - 1} (${decodeError.message || decodeError})`);
  } else if (cutShort) {
    notes.push(`reading stopped after frame ${number - 1} (${cutShort})`);
  }
  const slack = Math.max(2.0, 0.1 * total);
  if (total && lastTime < total - slack) {
    notes.push(`decoded up to ${lastTime.toFixed(1)} s of ${total.toFixed(1)} s: the file is cut short`);
  }
  if (frameReader.approximate) {
    notes.push(`${frameReader.approximate}: colours converted approximately, so frame hashes ` +
      "may differ by a few bits from the command line's");
  }
  return {
    media_type: "video",
    pdq: null,
    pdq_quality: null,
    width: demux.width,
    height: demux.height,
    duration: demux.duration,
    seconds_per_frame: 0,
    ...hasher.result(),
    notes,
  };
}

// An animated GIF, which Rempart hashes as a video (every frame matters): its frames composed
// by the browser's ImageDecoder, as FFmpeg's GIF decoder composes them for the CLI.
async function hashGif(blob, { onProgress, signal, robust = true } = {}) {
  let decoder;
  try {
    decoder = new ImageDecoder({ data: blob.stream(), type: "image/gif" });
    await decoder.tracks.ready;
    await decoder.completed;
  } catch (err) {
    if (decoder) decoder.close();
    throw new HashError("undecodable", `the animated GIF cannot be read (${err && err.message})`);
  }
  const hasher = new VpdqHasher({ crops: robust });
  const frameReader = new FrameReader();
  const notes = [];
  let width = null;
  let height = null;
  try {
    const count = decoder.tracks.selectedTrack ? decoder.tracks.selectedTrack.frameCount : 0;
    const durations = [];
    // Frame times first (FFmpeg's average rate from the delays), then the pixels one by one.
    let total = 0;
    for (let i = 0; i < count; i++) {
      throwIfCancelled(signal);
      const { image } = await decoder.decode({ frameIndex: i, completeFramesOnly: true });
      durations.push(image.duration || 0);
      total += image.duration || 0;
      image.close();
    }
    // FFmpeg's average rate for a GIF: 100 / (the mean delay in 1/100 s, rounded down),
    // measured on GIFs with even and uneven delays.
    const centis = durations.reduce((a, d) => a + Math.round(d / 10000), 0);
    const meanCentis = count ? Math.floor(centis / count) : 0;
    const rate = meanCentis > 0 ? { num: 100, den: meanCentis } : null;
    let at = 0;
    for (let i = 0; i < count; i++) {
      throwIfCancelled(signal);
      const { image } = await decoder.decode({ frameIndex: i, completeFramesOnly: true });
      const ts = rate ? (i * rate.den) / rate.num : at / 1e6;
      at += durations[i];
      const frame = await frameReader.read(image);
      width = frame.width;
      height = frame.height;
      hasher.addFrame(frame.rgb, frame.width, frame.height, ts);
      if (onProgress) onProgress({ done: ts, total: total / 1e6 });
    }
    if (!count) throw new HashError("undecodable", "the animated GIF has no frames");
    if (frameReader.approximate) notes.push(`${frameReader.approximate}: colours converted approximately`);
    return {
      media_type: "video", pdq: null, pdq_quality: null, width, height,
      duration: Math.round(total) / 1e6, seconds_per_frame: 0, ...hasher.result(), notes,
    };
  } finally {
    decoder.close();
  }
}
