// Runs photo.js in Node for test_photo_signals.py: reads a JSON list of {rgb: path of raw
// RGB bytes, width, height, robust, keypoints} on stdin, writes one JSON object per photo on
// stdout: photoSignals' result and the milliseconds it took.
import { readFileSync } from "node:fs";
import { photoSignals } from "../../../src/rempart/web/hashpage/js/photo.js";

const jobs = JSON.parse(readFileSync(0, "utf8"));
const out = [];
for (const job of jobs) {
  const rgb = new Uint8Array(readFileSync(job.rgb));
  const t0 = performance.now();
  const item = photoSignals(rgb, job.width, job.height,
    { robust: job.robust ?? true, keypoints: job.keypoints ?? true });
  out.push({ item, ms: performance.now() - t0 });
}
process.stdout.write(JSON.stringify(out));
