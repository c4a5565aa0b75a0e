// Runs variants.js in Node for test_photo_variants.py: reads a JSON list of {rgb: path of
// raw RGB bytes, width, height} on stdin, writes one JSON object per image on stdout:
// {variants: [{kind, name, pdq, quality}], ms}.
import { readFileSync } from "node:fs";
import { rgbImage, storedVariants } from "../../../src/rempart/web/hashpage/js/variants.js";

const jobs = JSON.parse(readFileSync(0, "utf8"));
const out = [];
for (const job of jobs) {
  const image = rgbImage(new Uint8Array(readFileSync(job.rgb)), job.width, job.height);
  const t0 = performance.now();
  const variants = storedVariants(image);
  out.push({ variants, ms: performance.now() - t0 });
}
process.stdout.write(JSON.stringify(out));
