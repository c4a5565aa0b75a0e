// Runs decode.js's pure parts in Node for test_decode_png.py. Reads a JSON list of jobs:
//   {mode: "encode", out, width, height, channels, depth, samples, palette?}
//       writes a PNG with fast-png (16-bit and 2/4-bit PNGs Pillow cannot write); samples is
//       a file of raw samples (uint16 little-endian when depth is 16, packed rows below 8)
//   {mode: "decode", path, out}
//       readHeader + fast-png + pngToRgb, as decodeImage does for the PNGs it decodes itself;
//       writes the RGB bytes to `out`, answers {width, height, alphaBelow255, header}
//   {mode: "header", path}  readHeader's answer for any image file
// and writes one JSON result per job on stdout.
import { openAsBlob, readFileSync, writeFileSync } from "node:fs";
import { decode, encode } from "fast-png";
import { pngToRgb, readHeader } from "../../../src/rempart/web/hashpage/js/decode.js";

async function run(job) {
  if (job.mode === "encode") {
    const raw = readFileSync(job.samples);
    const data =
      job.depth === 16
        ? new Uint16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length))
        : new Uint8Array(raw);
    const image = { width: job.width, height: job.height, channels: job.channels, depth: job.depth, data };
    if (job.palette) image.palette = job.palette;
    writeFileSync(job.out, encode(image));
    return {};
  }
  if (job.mode === "header") {
    try {
      return { header: await readHeader(await openAsBlob(job.path)) };
    } catch (err) {
      return { error: err.code || err.name, message: err.message };
    }
  }
  if (job.mode === "decode") {
    const header = await readHeader(await openAsBlob(job.path));
    const png = decode(readFileSync(job.path));
    const out = pngToRgb(png, header.orientation);
    writeFileSync(job.out, out.rgb);
    return { width: out.width, height: out.height, alphaBelow255: out.alphaBelow255, header };
  }
  throw new Error(`unknown mode ${job.mode}`);
}

const jobs = JSON.parse(readFileSync(0, "utf8"));
const results = [];
for (const job of jobs) results.push(await run(job));
process.stdout.write(JSON.stringify(results));
