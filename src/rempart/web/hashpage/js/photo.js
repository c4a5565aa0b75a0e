// Everything her page computes from a decoded photo, in the fields `rempart hash --out` writes
// for it (rempart/signals/image_hashes.py robust_signals with side "stored",
// exchange/submission.py SubmissionItem.to_json): the whole-picture PDQ, and with `robust`
// the PDQ variants (crops, rotations, regions) and, with `keypoints`, the local features, all
// from one reduced work copy made first so that a 48 Mpx photo is never copied at full size.
// The notes are the CLI's, word for word. No DOM: Node imports this module too.

import { HashError } from "./errors.js";
import { extractFromGrey, featuresToText } from "./orb.js";
import { pdqFromRgb } from "./pdq.js";
import { makeImage, toGrey } from "./pillow.js";
import { MIN_SIDE, storedVariants, tooSmall, workCopy } from "./variants.js";

export const NOT_ENOUGH_CONTENT =
  "not enough content for crop, region and local-feature matching";

// local_features.extract on the RGB work copy (already at most 512 pixels a side).
function features(work) {
  if (Math.min(work.width, work.height) < 32) return null;
  const grey = toGrey(work);
  return extractFromGrey(grey.data, grey.width, grey.height, work.width, work.height);
}

// rgb: Uint8Array or Uint8ClampedArray, 3 bytes a pixel, rows packed.
// -> {pdq, pdq_quality, pdq_variants?, local_features?, notes}
export function photoSignals(rgb, width, height, { robust = true, keypoints = true } = {}) {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 ||
      !rgb || rgb.length !== width * height * 3) {
    throw new HashError("undecodable",
      `the decoded pixels (${rgb ? rgb.length : 0} bytes) do not make a ${width} x ${height} RGB picture`);
  }
  const whole = pdqFromRgb(rgb, width, height);
  const out = { pdq: whole.hex, pdq_quality: whole.quality };
  const notes = [];
  if (robust) {
    const image = makeImage(width, height, 3, rgb);
    if (tooSmall(image)) {
      notes.push(`${NOT_ENOUGH_CONTENT} (smaller than ${MIN_SIDE} pixels)`);
    } else {
      const work = workCopy(image); // reduced once, for every variant and the features
      const variants = storedVariants(work);
      // the CLI computes the features even with --no-keypoints (its note depends on them)
      const feats = keypoints || variants.length === 0 ? features(work) : null;
      if (variants.length) out.pdq_variants = variants;
      if (keypoints && feats) out.local_features = featuresToText(feats);
      if (!variants.length && !feats) {
        notes.push(`${NOT_ENOUGH_CONTENT} (too little detail: flat, or mostly border)`);
      }
    }
  }
  out.notes = notes;
  return out;
}
