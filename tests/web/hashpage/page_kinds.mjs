// Runs kinds.js in Node for test_page_kinds.py: reads a JSON list of {path, name} on stdin,
// writes [{sniff, gifFrames, kind | code}] on stdout (kind from kindOf on the file's bytes).
import { readFileSync } from "node:fs";
import { gifFrameCount, kindOf, sniff } from "../../../src/rempart/web/hashpage/js/kinds.js";

const jobs = JSON.parse(readFileSync(0, "utf8"));
const out = [];
for (const job of jobs) {
  const bytes = new Uint8Array(readFileSync(job.path));
  const file = new File([bytes], job.name);
  const row = { sniff: sniff(bytes.subarray(0, 16)), gifFrames: gifFrameCount(bytes) };
  try {
    row.kind = (await kindOf(file)).kind;
  } catch (err) {
    row.code = err.code;
  }
  out.push(row);
}
process.stdout.write(JSON.stringify(out));
