// Runs vpdq.js in Node for test_video_frame_parts.py: a JSON list of jobs {rgb: path of raw
// RGB pixels, width, height} on stdin; per job on stdout the pieces of one frame's bank-side
// hashes: the grey copy (MD5), the scaled copy (OpenCV INTER_AREA: size and MD5) of the RGB
// frame and of its grey copy (the crops'), the centre crops' hashes (from RGB and from grey) and the halves' hashes (from the grey copy inside any black bars).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { pdqFromLuma } from "../../../src/rempart/web/hashpage/js/pdq.js";
import {
  CROP_SIDE,
  REGIONS,
  contentBox,
  cropHashes,
  greyFromRgb,
  pyRound,
  regionViews,
  resizeArea,
} from "../../../src/rempart/web/hashpage/js/vpdq.js";

const md5 = (bytes) => createHash("md5").update(bytes).digest("hex");
const jobs = JSON.parse(readFileSync(0, "utf8"));
const out = [];
for (const { rgb: path, width, height } of jobs) {
  const rgb = new Uint8Array(readFileSync(path));
  const scale = Math.min(1, CROP_SIDE / Math.max(width, height));
  const w = scale < 1 ? Math.max(2, pyRound(width * scale)) : width;
  const h = scale < 1 ? Math.max(2, pyRound(height * scale)) : height;
  const [top, bottom, left, right] = contentBox(rgb, width, height) || [0, height, 0, width];
  const grey = greyFromRgb(rgb, width, top, bottom, left, right);
  const views = regionViews(grey, right - left, bottom - top, 1);
  const halves = {};
  for (const name of REGIONS) {
    const v = views[name];
    const r = pdqFromLuma(Float32Array.from(v.rgb), v.width, v.height);
    halves[name] = [r.hex, r.quality];
  }
  const whole = greyFromRgb(rgb, width, 0, height, 0, width);
  out.push({
    grey: md5(whole),
    area: [w, h, md5(resizeArea(rgb, width, height, w, h))],
    areaGrey: [w, h, md5(resizeArea(whole, width, height, w, h, 1))],
    crops: cropHashes(rgb, width, height).map((c) => [c.name, c.hex, c.quality]),
    cropsGrey: cropHashes(whole, width, height, 1).map((c) => [c.name, c.hex, c.quality]),
    halves,
  });
}
process.stdout.write(JSON.stringify(out));
