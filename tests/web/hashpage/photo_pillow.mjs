// Runs pillow.js in Node for test_photo_pillow.py: reads a JSON list of jobs {in: path of
// raw pixels, width, height, channels, ops: [[name, ...args]], out: path} on stdin, applies
// the operations in order, writes the result's raw pixels to `out` and one JSON object per
// job ({width, height, channels, ms}) on stdout.
import { readFileSync, writeFileSync } from "node:fs";
import {
  cropFractions, makeImage, reduce, reduceTo, resizeBilinear, rotateBilinear, toGrey,
} from "../../../src/rempart/web/hashpage/js/pillow.js";

const OPS = {
  grey: (im) => toGrey(im),
  reduce: (im, f) => reduce(im, f),
  resize: (im, w, h) => resizeBilinear(im, w, h),
  rotate: (im, deg, center) => rotateBilinear(im, deg, center ?? null),
  crop: (im, box) => cropFractions(im, box),
  reduce_to: (im, side) => reduceTo(im, side),
};

const jobs = JSON.parse(readFileSync(0, "utf8"));
const out = [];
for (const job of jobs) {
  let im = makeImage(job.width, job.height, job.channels, new Uint8Array(readFileSync(job.in)));
  const t0 = performance.now();
  for (const [name, ...args] of job.ops) im = OPS[name](im, ...args);
  const ms = performance.now() - t0;
  writeFileSync(job.out, im.data);
  out.push({ width: im.width, height: im.height, channels: im.channels, ms });
}
process.stdout.write(JSON.stringify(out));
