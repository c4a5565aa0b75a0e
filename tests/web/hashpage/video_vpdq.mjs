// Runs vpdq.js in Node for test_video_vpdq.py: the YUV 4:2:0 planes of every frame, decoded by
// PyAV, arrive on stdin (one JSON header line {width, height, colorspace, fullRange,
// timestamps, hash}, then per frame the Y, U and V planes packed tight); writes on stdout
// {md5: [MD5 of each frame's RGB], result: VpdqHasher's {vpdq, vpdq_inside, vpdq_regions}
// (when hash is true), ms}. Frames are converted and hashed as they arrive (bounded memory).
import { createHash } from "node:crypto";
import {
  VpdqHasher,
  yuvCoefficients,
  yuvToRgb,
} from "../../../src/rempart/web/hashpage/js/vpdq.js";

let header = null;
let pending = Buffer.alloc(0);
let frameIndex = 0;
let hasher = null;
let coeffs = null;
let rgb = null;
const md5 = [];
let spent = 0;

function frameBytes() {
  const cw = (header.width + 1) >> 1;
  const ch = (header.height + 1) >> 1;
  return header.width * header.height + 2 * cw * ch;
}

function consume(buf) {
  const { width, height } = header;
  const cw = (width + 1) >> 1;
  const ch = (height + 1) >> 1;
  const y = new Uint8Array(buf.buffer, buf.byteOffset, width * height);
  const u = new Uint8Array(buf.buffer, buf.byteOffset + width * height, cw * ch);
  const v = new Uint8Array(buf.buffer, buf.byteOffset + width * height + cw * ch, cw * ch);
  const t0 = performance.now();
  yuvToRgb({ y, u, v, yStride: width, uStride: cw, vStride: cw }, width, height, coeffs, rgb);
  if (hasher) hasher.addFrame(rgb, width, height, header.timestamps[frameIndex]);
  spent += performance.now() - t0;
  md5.push(createHash("md5").update(rgb).digest("hex"));
  frameIndex++;
}

for await (const chunk of process.stdin) {
  pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
  if (header === null) {
    const nl = pending.indexOf(10);
    if (nl < 0) continue;
    header = JSON.parse(pending.subarray(0, nl).toString("utf8"));
    pending = pending.subarray(nl + 1);
    coeffs = yuvCoefficients(header.colorspace, header.fullRange);
    rgb = new Uint8Array(header.width * header.height * 3);
    hasher = header.hash ? new VpdqHasher() : null;
  }
  const size = frameBytes();
  let off = 0;
  while (pending.length - off >= size) {
    consume(pending.subarray(off, off + size));
    off += size;
  }
  pending = Buffer.from(pending.subarray(off));
}
process.stdout.write(JSON.stringify({
  md5,
  result: hasher ? hasher.result() : null,
  frames: frameIndex,
  ms: spent,
}));
