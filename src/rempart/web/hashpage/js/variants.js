// The stored side's extra PDQ hashes of a photo (rempart/signals/pdq_variants.py,
// stored_variants): centre crops at several scales, rotations cut to fill the frame and fixed
// regions, each kept only with enough quality, so that a cropped, tilted or partly replaced
// copy still shares a hash with what she registered. Same names, kinds, order and hashes as
// `rempart hash --out`, from the same pixels (pillow.js reproduces Pillow, pdq.js Meta's PDQ).
// No DOM: Node imports this module too.

import { pdqFromRgb } from "./pdq.js";
import { cropFractions, makeImage, pyRound, reduceTo, resizeBilinear, rotateBilinear } from "./pillow.js";

export const WORK_SIDE = 512;
export const REGION_SIDE = 256;
export const MIN_SIDE = 64;
export const MIN_QUALITY = 50;
export const CROP_SCALES = [0.95, 0.9, 0.85, 0.8, 0.75];
export const ANGLES = [-9, -6, -3, 3, 6, 9];
export const REGIONS = [
  ["top20", [0.0, 0.0, 1.0, 0.2]],
  ["top33", [0.0, 0.0, 1.0, 1 / 3]],
  ["top50", [0.0, 0.0, 1.0, 0.5]],
  ["bottom50", [0.0, 0.5, 1.0, 1.0]],
  ["left50", [0.0, 0.0, 0.5, 1.0]],
  ["right50", [0.5, 0.0, 1.0, 1.0]],
  ["centre50", [0.25, 0.25, 0.75, 0.75]],
];

// pdq_variants.too_small
export function tooSmall(image) {
  return Math.min(image.width, image.height) < MIN_SIDE;
}

// pdq_variants.work_copy: an RGB copy of at most WORK_SIDE pixels a side.
export function workCopy(image) {
  return reduceTo(image, WORK_SIDE);
}

function pdqOf(image) {
  return pdqFromRgb(image.data, image.width, image.height);
}

function keep(kind, name, h, out) {
  if (h.quality >= MIN_QUALITY) out.push({ kind, name, pdq: h.hex, quality: h.quality });
}

// pdq_variants.rotate_filled: rotated counter-clockwise and cut to the largest centred box
// of the same shape that holds no corner.
export function rotateFilled(image, degrees) {
  const { width: w, height: h } = image;
  const a = Math.abs(degrees) * (Math.PI / 180);
  const c = Math.cos(a);
  const s = Math.sin(a);
  const scale = Math.min(w / (w * c + h * s), h / (w * s + h * c));
  const m = (1 - scale) / 2;
  return cropFractions(rotateBilinear(image, degrees), [m, m, 1 - m, 1 - m]);
}

function regions(image, out) {
  if (Math.max(image.width, image.height) > REGION_SIDE) {
    const s = REGION_SIDE / Math.max(image.width, image.height);
    image = resizeBilinear(image, Math.max(1, pyRound(image.width * s)),
      Math.max(1, pyRound(image.height * s)));
  }
  for (const [name, box] of REGIONS) keep("region", name, pdqOf(cropFractions(image, box)), out);
}

// pdq_variants.stored_variants on an RGB image {width, height, channels: 3, data}:
// [{kind, name, pdq, quality}] (the whole-image PDQ is kept apart).
export function storedVariants(image) {
  if (tooSmall(image)) return [];
  const work = workCopy(image);
  const out = [];
  for (const s of CROP_SCALES) {
    const m = (1 - s) / 2;
    keep("crop", `crop${Math.round(s * 100)}`, pdqOf(cropFractions(work, [m, m, 1 - m, 1 - m])), out);
  }
  for (const a of ANGLES) {
    keep("rotation", `rot${a > 0 ? "+" : "-"}${Math.abs(a)}`, pdqOf(rotateFilled(work, a)), out);
  }
  regions(work, out);
  return out;
}

export function rgbImage(rgb, width, height) {
  return makeImage(width, height, 3, rgb);
}
