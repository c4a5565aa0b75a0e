// Runs pdq.js in Node for the pytest conformance test (test_pdq_conformance.py): reads a JSON
// list of {rgb: path of raw RGB bytes, width, height, dihedral?, luma?} on stdin, writes one JSON
// object per image on stdout: {pdq: {hex, quality}, dihedral: [{name, hex, quality}] x 8 (null
// when the job said dihedral: false), ms, luma?: the same through the luma entry points}.
import { readFileSync } from "node:fs";
import {
  lumaFromRgb,
  pdqDihedralFromLuma,
  pdqDihedralFromRgb,
  pdqFromLuma,
  pdqFromRgb,
} from "../../../src/rempart/web/hashpage/js/pdq.js";

const jobs = JSON.parse(readFileSync(0, "utf8"));
const out = [];
for (const job of jobs) {
  const rgb = new Uint8Array(readFileSync(job.rgb));
  const t0 = performance.now();
  const pdq = pdqFromRgb(rgb, job.width, job.height);
  const t1 = performance.now();
  const dihedral = job.dihedral === false ? null : pdqDihedralFromRgb(rgb, job.width, job.height);
  const result = { pdq, dihedral, ms: t1 - t0 };
  if (job.luma) {
    // The luma-level entry points (for callers that already have luma) must agree.
    const luma = lumaFromRgb(rgb, job.width, job.height);
    result.luma = {
      pdq: pdqFromLuma(luma, job.width, job.height),
      dihedral: pdqDihedralFromLuma(luma, job.width, job.height),
    };
  }
  out.push(result);
}
process.stdout.write(JSON.stringify(out));
