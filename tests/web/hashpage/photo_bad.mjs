// Runs photo.js in Node for test_photo_signals.py with pixels that do not match their size:
// prints the error's code and message as JSON, one per case.
import { photoSignals } from "../../../src/rempart/web/hashpage/js/photo.js";

const cases = [[new Uint8Array(10), 4, 4], [new Uint8Array(48), 0, 16], [null, 2, 2]];
const out = cases.map(([rgb, w, h]) => {
  try {
    photoSignals(rgb, w, h);
    return { code: null };
  } catch (err) {
    return { code: err.code ?? null, name: err.name, message: err.message };
  }
});
process.stdout.write(JSON.stringify(out));
