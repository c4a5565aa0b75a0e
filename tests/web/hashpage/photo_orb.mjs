// Runs orb.js in Node for test_photo_orb.py: reads a JSON list of jobs {mode, grey: path of
// raw 8-bit grey pixels, width, height, ...} on stdin and writes one JSON result per job:
// "resize" {to: [w, h], out: path} writes the INTER_LINEAR_EXACT resize; "blur" {out} the
// Gaussian blur before the BRIEF tests; "detect" gives the
// keypoints; "compute" {keypoints} gives descriptors (hex) for given keypoints; "extract"
// {width, height} gives Features.to_text() (or null) and the time taken.
import { readFileSync, writeFileSync } from "node:fs";
import {
  blurredPadded, compute, detect, extractFromGrey, featuresToText, pyramid, resizeLinearExact,
} from "../../../src/rempart/web/hashpage/js/orb.js";

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const jobs = JSON.parse(readFileSync(0, "utf8"));
const out = [];
for (const job of jobs) {
  const grey = new Uint8Array(readFileSync(job.grey));
  const { width: w, height: h } = job;
  const t0 = performance.now();
  if (job.mode === "resize") {
    writeFileSync(job.out, resizeLinearExact(grey, w, h, job.to[0], job.to[1]));
    out.push({});
  } else if (job.mode === "blur") {
    const { pw, data } = blurredPadded({ w, h, data: grey });
    const inner = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) inner.set(data.subarray((y + 23) * pw + 23, (y + 23) * pw + 23 + w), y * w);
    writeFileSync(job.out, inner);
    out.push({});
  } else if (job.mode === "detect") {
    const kps = detect(pyramid(grey, w, h));
    out.push({ keypoints: kps.map((k) => [k.x, k.y, k.response, k.angle, k.octave]) });
  } else if (job.mode === "compute") {
    const kps = job.keypoints.map(([x, y, response, angle, octave]) => ({ x, y, response, angle, octave }));
    const levels = pyramid(grey, w, h, 1 + Math.max(0, ...kps.map((k) => k.octave)));
    const res = compute(levels, kps);
    out.push({
      keypoints: res.keypoints.map((k) => [k.x, k.y]),
      descriptors: Array.from({ length: res.keypoints.length }, (_, i) => hex(res.descriptors.subarray(32 * i, 32 * i + 32))),
    });
  } else if (job.mode === "extract") {
    const feats = extractFromGrey(grey, w, h, job.image_width, job.image_height);
    out.push({ text: feats ? featuresToText(feats) : null, ms: performance.now() - t0 });
  }
}
process.stdout.write(JSON.stringify(out));
