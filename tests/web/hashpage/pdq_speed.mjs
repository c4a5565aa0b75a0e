// Times pdq.js in Node for the report's figures (run by hand, not by the tests):
//   node tests/web/hashpage/pdq_speed.mjs FILE.rgb WIDTH HEIGHT [REPEATS]
// FILE.rgb holds raw RGB bytes (the same pixels pdqhash is timed on in Python); prints JSON
// {pdq_ms, dihedral_ms, pdq_cpu_ms, hex} with the best of REPEATS runs (cpu: this process's
// CPU time, steadier than wall time on a busy machine).
import { readFileSync } from "node:fs";
import { pdqDihedralFromRgb, pdqFromRgb } from "../../../src/rempart/web/hashpage/js/pdq.js";

const [file, width, height, repeats = "3"] = process.argv.slice(2);
const rgb = new Uint8Array(readFileSync(file));
const w = Number(width);
const h = Number(height);
let pdqMs = Infinity;
let dihedralMs = Infinity;
let pdqCpuMs = Infinity;
let hex = "";
for (let k = 0; k < Number(repeats); k++) {
  let t = performance.now();
  const cpu = process.cpuUsage();
  hex = pdqFromRgb(rgb, w, h).hex;
  pdqMs = Math.min(pdqMs, performance.now() - t);
  pdqCpuMs = Math.min(pdqCpuMs, process.cpuUsage(cpu).user / 1000);
  t = performance.now();
  pdqDihedralFromRgb(rgb, w, h);
  dihedralMs = Math.min(dihedralMs, performance.now() - t);
}
process.stdout.write(JSON.stringify({ pdq_ms: pdqMs, dihedral_ms: dihedralMs, pdq_cpu_ms: pdqCpuMs, hex }));
