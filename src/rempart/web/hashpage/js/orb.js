// ORB keypoints and descriptors of her photo, computed in her browser exactly as Rempart's
// stored side computes them with OpenCV (rempart/signals/local_features.py: cv2.ORB_create(
// nfeatures=2000, scaleFactor=1.2, nlevels=8, edgeThreshold=15, patchSize=31,
// fastThreshold=7), HARRIS_SCORE, then `_spread` to at most 400 keypoints over a 4x4 grid and
// descriptors for those only), so that a partly replaced copy found later still shares
// keypoints with what she registered. The algorithm follows OpenCV's
// modules/features2d/src/orb.cpp, fast.cpp and fast_score.cpp and imgproc's bit-exact
// INTER_LINEAR_EXACT resize step by step (integer and float32 arithmetic as OpenCV does it,
// and libstdc++'s nth_element where OpenCV's retainBest depends on its order of ties), and
// where OpenCV 5 (opencv-python 5.0, AVX2) differs from the 4.x sources it was checked
// against the library itself: level sizes, the float blur with fused multiply-adds.
// Only keypoint positions and descriptors leave this module: the RPO1 text of
// Features.to_text(). No DOM: Node imports this module too.
//
// BIT_PATTERN_31 below is data from OpenCV (modules/features2d/src/orb.cpp, bit_pattern_31_,
// the learned 256 point pairs of ORB's rotated BRIEF test), Copyright (C) 2009, Willow Garage
// Inc., BSD 3-Clause; OpenCV 4.5+ is distributed under the Apache License 2.0.

const f = Math.fround;

export const WORK_SIDE = 512;
export const MAX_POINTS = 400;
export const MIN_POINTS = 24;
export const GRID = 4;
const N_LEVELS = 8;
const EDGE = 15;
const HALF_PATCH = 15;
const FAST_THRESHOLD = 7;
const BORDER = 23; // max(edgeThreshold, ceil(halfPatch * sqrt 2), 4) + 1
// (float)pow((double)1.2f, level): the scale of each pyramid level
const LAYER_SCALE = [1, 1.2000000476837158, 1.440000057220459, 1.7280001640319824,
  2.0736002922058105, 2.4883205890655518, 2.9859848022460938, 3.583181858062744];
// The levels' sizes: OpenCV 5 divides by pow(1.2, level) in double (so 297 / 1.2 = 247.5
// gives 248), while the keypoints' coordinates use the float scales above. C's pow values:
const LEVEL_DIVISOR = [1, 1.2, 1.44, 1.7279999999999998, 2.0736, 2.4883199999999994,
  2.9859839999999993, 3.583180799999999];
// nfeatures spread over the levels as computeKeyPoints does (float32, cvRound)
const FEATURES_PER_LEVEL = [434, 362, 302, 251, 209, 175, 145, 122];
const HARRIS_K = f(0.04);
const HARRIS_SCALE = f(1 / f(4 * 7 * 255));
const HARRIS_SCALE_4 = f(f(f(HARRIS_SCALE * HARRIS_SCALE) * HARRIS_SCALE) * HARRIS_SCALE);

// cvRound: to nearest, ties to even (SSE conversion).
export function cvRound(v) {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// --- imgproc resize, INTER_LINEAR_EXACT, 8-bit (resize_bitExact, interpolationLinear) ---
function linearCoeffs(srcSize, dstSize) {
  const scale = 1 / (dstSize / srcSize);
  const ofs = new Int32Array(dstSize);
  const c0 = new Int32Array(dstSize);
  const c1 = new Int32Array(dstSize);
  let min = 0;
  let max = dstSize;
  for (let d = 0; d < dstSize; d++) {
    const fval = scale * (d + 0.5) - 0.5;
    const ival = Math.floor(fval);
    if (ival >= 0 && srcSize > 1) {
      if (ival < srcSize - 1) {
        ofs[d] = ival;
        const c = cvRound((fval - ival) * 256);
        c1[d] = c;
        c0[d] = 256 - c;
      } else {
        ofs[d] = srcSize - 1;
        max = Math.min(max, d);
      }
    } else {
      min = Math.max(min, d + 1);
    }
  }
  return { ofs, c0, c1, min, max };
}

export function resizeLinearExact(src, sw, sh, dw, dh) {
  const cx = linearCoeffs(sw, dw);
  const cy = linearCoeffs(sh, dh);
  const lines = new Int32Array(sh * dw); // each source row resized horizontally, Q8
  for (let y = 0; y < sh; y++) {
    const row = y * sw;
    const o = y * dw;
    let d = 0;
    for (; d < cx.min && d < dw; d++) lines[o + d] = src[row] << 8;
    for (; d < cx.max; d++) {
      const p = row + cx.ofs[d];
      lines[o + d] = cx.c0[d] * src[p] + cx.c1[d] * src[p + 1];
    }
    const last = src[row + cx.ofs[dw - 1]] << 8;
    for (; d < dw; d++) lines[o + d] = last;
  }
  const out = new Uint8Array(dw * dh);
  for (let y = 0; y < dh; y++) {
    const o = y * dw;
    if (y < cy.min || y >= cy.max) {
      const l = (y < cy.min ? 0 : sh - 1) * dw;
      for (let d = 0; d < dw; d++) out[o + d] = Math.min(255, (lines[l + d] + 128) >> 8);
    } else {
      const l0 = cy.ofs[y] * dw;
      const l1 = l0 + dw;
      const m0 = cy.c0[y];
      const m1 = cy.c1[y];
      for (let d = 0; d < dw; d++) {
        out[o + d] = Math.min(255, Math.floor((lines[l0 + d] * m0 + lines[l1 + d] * m1 + 32768) / 65536));
      }
    }
  }
  return out;
}

// --- FAST-9 (16-pixel circle) with non-maximum suppression (fast.cpp FAST_t) ---
const CIRCLE = [[0, 3], [1, 3], [2, 2], [3, 1], [3, 0], [3, -1], [2, -2], [1, -3],
  [0, -3], [-1, -3], [-2, -2], [-3, -1], [-3, 0], [-3, 1], [-2, 2], [-1, 3]];

function cornerScore(img, p, pixel, threshold, d) {
  const v = img[p];
  for (let k = 0; k < 25; k++) d[k] = v - img[p + pixel[k]];
  let a0 = threshold;
  for (let k = 0; k < 16; k += 2) {
    let a = Math.min(d[k + 1], d[k + 2], d[k + 3]);
    if (a <= a0) continue;
    a = Math.min(a, d[k + 4], d[k + 5], d[k + 6], d[k + 7], d[k + 8]);
    a0 = Math.max(a0, Math.min(a, d[k]));
    a0 = Math.max(a0, Math.min(a, d[k + 9]));
  }
  let b0 = -a0;
  for (let k = 0; k < 16; k += 2) {
    let b = Math.max(d[k + 1], d[k + 2], d[k + 3], d[k + 4], d[k + 5]);
    if (b >= b0) continue;
    b = Math.max(b, d[k + 6], d[k + 7], d[k + 8]);
    b0 = Math.min(b0, Math.max(b, d[k]));
    b0 = Math.min(b0, Math.max(b, d[k + 9]));
  }
  return -b0 - 1;
}

export function fast(img, w, h, threshold) {
  const pixel = new Int32Array(25);
  for (let k = 0; k < 16; k++) pixel[k] = CIRCLE[k][0] + CIRCLE[k][1] * w;
  for (let k = 16; k < 25; k++) pixel[k] = pixel[k - 16];
  const d = new Int32Array(25);
  const tab = new Uint8Array(512);
  for (let i = -255; i <= 255; i++) tab[i + 255] = i < -threshold ? 1 : i > threshold ? 2 : 0;
  const buf = [new Uint8Array(w), new Uint8Array(w), new Uint8Array(w)];
  const pos = [[], [], []];
  const out = [];
  for (let i = 3; i < h - 2; i++) {
    const curr = buf[(i - 3) % 3];
    curr.fill(0);
    const corners = [];
    pos[(i - 3) % 3] = corners;
    if (i < h - 3) {
      for (let j = 3; j < w - 3; j++) {
        const p = i * w + j;
        const v = img[p];
        const lo = v - threshold;
        const hi = v + threshold;
        // tab[x - v + 255]: 1 darker than v - threshold, 2 brighter than v + threshold
        const base = 255 - v;
        let m = tab[img[p + pixel[0]] + base] | tab[img[p + pixel[8]] + base];
        if (m === 0) continue;
        m &= (tab[img[p + pixel[2]] + base] | tab[img[p + pixel[10]] + base]) &
          (tab[img[p + pixel[4]] + base] | tab[img[p + pixel[12]] + base]) &
          (tab[img[p + pixel[6]] + base] | tab[img[p + pixel[14]] + base]);
        if (m === 0) continue;
        m &= (tab[img[p + pixel[1]] + base] | tab[img[p + pixel[9]] + base]) &
          (tab[img[p + pixel[3]] + base] | tab[img[p + pixel[11]] + base]) &
          (tab[img[p + pixel[5]] + base] | tab[img[p + pixel[13]] + base]) &
          (tab[img[p + pixel[7]] + base] | tab[img[p + pixel[15]] + base]);
        let isCorner = false;
        if (m & 1) {
          let count = 0;
          for (let k = 0; k < 25; k++) {
            if (img[p + pixel[k]] < lo) {
              if (++count > 8) { isCorner = true; break; }
            } else {
              count = 0;
            }
          }
        }
        if (!isCorner && (m & 2)) {
          let count = 0;
          for (let k = 0; k < 25; k++) {
            if (img[p + pixel[k]] > hi) {
              if (++count > 8) { isCorner = true; break; }
            } else {
              count = 0;
            }
          }
        }
        if (isCorner) {
          corners.push(j);
          curr[j] = cornerScore(img, p, pixel, threshold, d);
        }
      }
    }
    if (i === 3) continue;
    const prev = buf[(i - 4 + 3) % 3];
    const pprev = buf[(i - 5 + 3) % 3];
    for (const j of pos[(i - 4 + 3) % 3]) {
      const score = prev[j];
      if (score > prev[j + 1] && score > prev[j - 1] && score > pprev[j - 1] &&
          score > pprev[j] && score > pprev[j + 1] && score > curr[j - 1] &&
          score > curr[j] && score > curr[j + 1]) {
        out.push({ x: j, y: i - 1, response: score, octave: 0, angle: 0 });
      }
    }
  }
  return out;
}

// --- KeyPointsFilter::retainBest (OpenCV 4.5+: nth_element at n - 1, then every keypoint as
// strong as the n-th), with libstdc++'s nth_element and partition so that the order of the
// kept keypoints is OpenCV's too ---
const greater = (a, b) => a.response > b.response;

function swap(v, i, j) {
  const t = v[i];
  v[i] = v[j];
  v[j] = t;
}

function moveMedianToFirst(v, result, a, b, c) {
  if (greater(v[a], v[b])) {
    if (greater(v[b], v[c])) swap(v, result, b);
    else if (greater(v[a], v[c])) swap(v, result, c);
    else swap(v, result, a);
  } else if (greater(v[a], v[c])) swap(v, result, a);
  else if (greater(v[b], v[c])) swap(v, result, c);
  else swap(v, result, b);
}

function unguardedPartition(v, first, last, pivot) {
  for (;;) {
    while (greater(v[first], v[pivot])) first++;
    last--;
    while (greater(v[pivot], v[last])) last--;
    if (!(first < last)) return first;
    swap(v, first, last);
    first++;
  }
}

function adjustHeap(v, first, hole, len, value) {
  const top = hole;
  let child = hole;
  while (child < Math.floor((len - 1) / 2)) {
    child = 2 * (child + 1);
    if (greater(v[first + child], v[first + child - 1])) child--;
    v[first + hole] = v[first + child];
    hole = child;
  }
  if ((len & 1) === 0 && child === Math.floor((len - 2) / 2)) {
    child = 2 * (child + 1);
    v[first + hole] = v[first + child - 1];
    hole = child - 1;
  }
  let parent = Math.floor((hole - 1) / 2);
  while (hole > top && greater(v[first + parent], value)) {
    v[first + hole] = v[first + parent];
    hole = parent;
    parent = Math.floor((hole - 1) / 2);
  }
  v[first + hole] = value;
}

function heapSelect(v, first, middle, last) {
  const len = middle - first;
  if (len >= 2) {
    for (let parent = Math.floor((len - 2) / 2); ; parent--) {
      adjustHeap(v, first, parent, len, v[first + parent]);
      if (parent === 0) break;
    }
  }
  for (let i = middle; i < last; i++) {
    if (greater(v[i], v[first])) {
      const value = v[i];
      v[i] = v[first];
      adjustHeap(v, first, 0, len, value);
    }
  }
}

function insertionSort(v, first, last) {
  if (first === last) return;
  for (let i = first + 1; i < last; i++) {
    const val = v[i];
    if (greater(val, v[first])) {
      for (let k = i; k > first; k--) v[k] = v[k - 1];
      v[first] = val;
    } else {
      let k = i;
      while (greater(val, v[k - 1])) {
        v[k] = v[k - 1];
        k--;
      }
      v[k] = val;
    }
  }
}

function nthElement(v, nth) {
  let first = 0;
  let last = v.length;
  if (first === last || nth === last) return;
  let depth = 2 * (31 - Math.clz32(last - first));
  while (last - first > 3) {
    if (depth === 0) {
      heapSelect(v, first, nth + 1, last);
      swap(v, first, nth);
      return;
    }
    depth--;
    const mid = first + Math.floor((last - first) / 2);
    moveMedianToFirst(v, first, first + 1, mid, last - 1);
    const cut = unguardedPartition(v, first + 1, last, first);
    if (cut <= nth) first = cut;
    else last = cut;
  }
  insertionSort(v, first, last);
}

function partition(v, first, last, pred) {
  for (;;) {
    for (;;) {
      if (first === last) return first;
      if (pred(v[first])) first++;
      else break;
    }
    last--;
    for (;;) {
      if (first === last) return first;
      if (!pred(v[last])) last--;
      else break;
    }
    swap(v, first, last);
    first++;
  }
}

export function retainBest(v, n) {
  if (n < 0 || v.length <= n) return v;
  if (n === 0) return [];
  nthElement(v, n - 1);
  const ambiguous = v[n - 1].response;
  const end = partition(v, n, v.length, (kp) => kp.response >= ambiguous);
  v.length = end;
  return v;
}

function runByImageBorder(kps, w, h, border) {
  if (h <= border * 2 || w <= border * 2) return [];
  return kps.filter((k) => k.x >= border && k.x < w - border && k.y >= border && k.y < h - border);
}

// --- Harris response over a 7x7 block (orb.cpp HarrisResponses), in float32 as OpenCV ---
function harris(img, w, x0, y0) {
  const r = 3;
  let a = 0;
  let b = 0;
  let c = 0;
  for (let i = 0; i < 7; i++) {
    for (let j = 0; j < 7; j++) {
      const p = (y0 - r + i) * w + x0 - r + j;
      const ix = (img[p + 1] - img[p - 1]) * 2 + (img[p - w + 1] - img[p - w - 1]) +
        (img[p + w + 1] - img[p + w - 1]);
      const iy = (img[p + w] - img[p - w]) * 2 + (img[p + w - 1] - img[p - w - 1]) +
        (img[p + w + 1] - img[p - w + 1]);
      a += ix * ix;
      b += iy * iy;
      c += ix * iy;
    }
  }
  const fa = f(a);
  const fb = f(b);
  const fc = f(c);
  const s = f(fa + fb);
  const t = f(f(f(fa * fb) - f(fc * fc)) - f(f(HARRIS_K * s) * s));
  return f(t * HARRIS_SCALE_4);
}

// --- orientation by intensity centroid (orb.cpp ICAngles) and OpenCV's fastAtan2 ---
const UMAX = (() => {
  const u = new Int32Array(HALF_PATCH + 2);
  const vmax = Math.floor(f(f(f(HALF_PATCH * f(Math.SQRT2)) / 2) + 1));
  const vmin = Math.ceil(f(f(HALF_PATCH * f(Math.SQRT2)) / 2));
  for (let v = 0; v <= vmax; v++) u[v] = cvRound(Math.sqrt(HALF_PATCH * HALF_PATCH - v * v));
  for (let v = HALF_PATCH, v0 = 0; v >= vmin; v--) {
    while (u[v0] === u[v0 + 1]) v0++;
    u[v] = v0;
    v0++;
  }
  return u;
})();

const DEG = f(180 / Math.PI);
const P1 = f(f(0.9997878412794807) * DEG);
const P3 = f(f(-0.3258083974640975) * DEG);
const P5 = f(f(0.1555786518463281) * DEG);
const P7 = f(f(-0.04432655554792128) * DEG);
const EPS = f(2.220446049250313e-16);

export function fastAtan2(y, x) {
  const ax = Math.abs(x);
  const ay = Math.abs(y);
  let a;
  const poly = (c) => {
    const c2 = f(c * c);
    let t = f(f(P7 * c2) + P5);
    t = f(f(t * c2) + P3);
    t = f(f(t * c2) + P1);
    return f(t * c);
  };
  if (ax >= ay) a = poly(f(ay / f(ax + EPS)));
  else a = f(90 - poly(f(ax / f(ay + EPS))));
  if (x < 0) a = f(180 - a);
  if (y < 0) a = f(360 - a);
  return a;
}

function icAngle(img, w, cx, cy) {
  const center = cy * w + cx;
  let m01 = 0;
  let m10 = 0;
  for (let u = -HALF_PATCH; u <= HALF_PATCH; u++) m10 += u * img[center + u];
  for (let v = 1; v <= HALF_PATCH; v++) {
    let vSum = 0;
    const d = UMAX[v];
    for (let u = -d; u <= d; u++) {
      const plus = img[center + u + v * w];
      const minus = img[center + u - v * w];
      vSum += plus - minus;
      m10 += u * (plus + minus);
    }
    m01 += v * vSum;
  }
  return fastAtan2(f(m01), f(m10));
}

// --- the pyramid ---
function reflect101(i, n) {
  if (n === 1) return 0;
  while (i < 0 || i >= n) {
    if (i < 0) i = -i;
    if (i >= n) i = 2 * (n - 1) - i;
  }
  return i;
}

export function pyramid(grey, w, h, nLevels = N_LEVELS) {
  const levels = [];
  let prev = null;
  for (let l = 0; l < nLevels; l++) {
    const lw = cvRound(w / LEVEL_DIVISOR[l]);
    const lh = cvRound(h / LEVEL_DIVISOR[l]);
    const data = l === 0 ? grey : resizeLinearExact(prev.data, prev.w, prev.h, lw, lh);
    prev = { w: lw, h: lh, data };
    levels.push(prev);
  }
  return levels;
}

// GaussianBlur 7x7 sigma 2 with BORDER_REFLECT_101 as ORB gets it: the level is a region of
// OpenCV's pyramid buffer, blurred in place, which takes the float separable filter (not the
// bit-exact fixed-point one), kernel getGaussianKernel(7, 2, CV_32F): the row pass sums the
// 7 taps left to right with fused multiply-adds, the column pass starts from the centre and
// adds each symmetric pair with a fused multiply-add (OpenCV's AVX2 code), then rounds to
// nearest. A float32 fused multiply-add is a*b + c in double (the product is exact there)
// rounded once to float32. The result is written into a copy padded by BORDER pixels whose
// border keeps the level's unblurred reflection (the buffer the BRIEF tests sample).
export const GAUSS_KERNEL = [0.07015932351350784, 0.13107487559318542, 0.1907128244638443,
  0.21610593795776367].map(f);

export function blurredPadded(level) {
  const { w, h, data } = level;
  const [k0, k1, k2, k3] = GAUSS_KERNEL;
  const pw = w + 2 * BORDER;
  const ph = h + 2 * BORDER;
  const out = new Uint8Array(pw * ph);
  for (let y = 0; y < ph; y++) {
    const sy = reflect101(y - BORDER, h) * w;
    for (let x = 0; x < pw; x++) out[y * pw + x] = data[sy + reflect101(x - BORDER, w)];
  }
  const rows = new Float32Array(w * h);
  const xi = new Int32Array(w + 6);
  for (let x = -3; x < w + 3; x++) xi[x + 3] = reflect101(x, w);
  for (let y = 0; y < h; y++) {
    const r = y * w;
    for (let x = 0; x < w; x++) {
      let s = f(data[r + xi[x]] * k0);
      s = f(data[r + xi[x + 1]] * k1 + s);
      s = f(data[r + xi[x + 2]] * k2 + s);
      s = f(data[r + xi[x + 3]] * k3 + s);
      s = f(data[r + xi[x + 4]] * k2 + s);
      s = f(data[r + xi[x + 5]] * k1 + s);
      rows[r + x] = f(data[r + xi[x + 6]] * k0 + s);
    }
  }
  const yi = new Int32Array(h + 6);
  for (let y = -3; y < h + 3; y++) yi[y + 3] = reflect101(y, h) * w;
  for (let y = 0; y < h; y++) {
    const o = (y + BORDER) * pw + BORDER;
    const [r0, r1, r2, r3, r4, r5, r6] = [0, 1, 2, 3, 4, 5, 6].map((k) => yi[y + k]);
    for (let x = 0; x < w; x++) {
      let s = f(rows[r3 + x] * k3);
      s = f(f(rows[r2 + x] + rows[r4 + x]) * k2 + s);
      s = f(f(rows[r1 + x] + rows[r5 + x]) * k1 + s);
      s = f(f(rows[r0 + x] + rows[r6 + x]) * k0 + s);
      const v = cvRound(s);
      out[o + x] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return { pw, data: out };
}

// ORB.detect: keypoints of every level, their Harris response and orientation, positions
// in the picture's pixels ({x, y, response, octave, angle}, float32 values).
export function detect(levels) {
  const all = [];
  const counts = [];
  for (let l = 0; l < levels.length; l++) {
    const { w, h, data } = levels[l];
    let kps = fast(data, w, h, FAST_THRESHOLD);
    kps = runByImageBorder(kps, w, h, EDGE);
    kps = retainBest(kps, 2 * FEATURES_PER_LEVEL[l]);
    for (const kp of kps) kp.octave = l;
    counts.push(kps.length);
    all.push(...kps);
  }
  for (const kp of all) {
    const { w, data } = levels[kp.octave];
    kp.response = harris(data, w, cvRound(kp.x), cvRound(kp.y));
  }
  const kept = [];
  let offset = 0;
  for (let l = 0; l < levels.length; l++) {
    const level = all.slice(offset, offset + counts[l]);
    offset += counts[l];
    kept.push(...retainBest(level, FEATURES_PER_LEVEL[l]));
  }
  for (const kp of kept) {
    const { w, data } = levels[kp.octave];
    kp.angle = icAngle(data, w, cvRound(kp.x), cvRound(kp.y));
    const s = LAYER_SCALE[kp.octave];
    kp.x = f(kp.x * s);
    kp.y = f(kp.y * s);
  }
  return kept;
}

// ORB.compute on given keypoints: those too close to the border are dropped, the rest
// grouped by level (stable), each level blurred, then the 256 rotated BRIEF tests.
export function compute(levels, keypoints) {
  const { w, h } = levels[0];
  let kps = runByImageBorder(keypoints, w, h, EDGE);
  let sorted = true;
  for (let i = 1; i < kps.length; i++) if (kps[i].octave < kps[i - 1].octave) sorted = false;
  if (!sorted) {
    const byLevel = levels.map(() => []);
    for (const kp of kps) byLevel[kp.octave].push(kp);
    kps = byLevel.flat();
  }
  const descriptors = new Uint8Array(kps.length * 32);
  const blurred = new Map();
  const toRad = f(Math.PI / 180);
  for (let i = 0; i < kps.length; i++) {
    const kp = kps[i];
    if (!blurred.has(kp.octave)) blurred.set(kp.octave, blurredPadded(levels[kp.octave]));
    const { pw, data } = blurred.get(kp.octave);
    const scale = f(1 / LAYER_SCALE[kp.octave]);
    const cx = cvRound(f(kp.x * scale)) + BORDER;
    const cy = cvRound(f(kp.y * scale)) + BORDER;
    const angle = f(kp.angle * toRad);
    const a = f(Math.cos(angle));
    const b = f(Math.sin(angle));
    const center = cy * pw + cx;
    const value = (idx) => {
      const px = BIT_PATTERN_31[2 * idx];
      const py = BIT_PATTERN_31[2 * idx + 1];
      const x = f(f(px * a) - f(py * b));
      const y = f(f(px * b) + f(py * a));
      return data[center + cvRound(y) * pw + cvRound(x)];
    };
    for (let byte = 0; byte < 32; byte++) {
      let v = 0;
      for (let bit = 0; bit < 8; bit++) {
        const idx = byte * 16 + bit * 2;
        if (value(idx) < value(idx + 1)) v |= 1 << bit;
      }
      descriptors[i * 32 + byte] = v;
    }
  }
  return { keypoints: kps, descriptors };
}

// local_features._spread: at most MAX_POINTS keypoints, the strongest of each grid cell up
// to its share, then the strongest of the rest; strongest first (stable sorts, as NumPy).
export function spread(kps, w, h) {
  const n = kps.length;
  const cell = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const col = Math.min(Math.floor((kps[i].x * GRID) / w), GRID - 1);
    const row = Math.min(Math.floor((kps[i].y * GRID) / h), GRID - 1);
    cell[i] = row * GRID + col;
  }
  const idx = Array.from({ length: n }, (_, i) => i);
  const byCell = idx.slice().sort((a, b) => cell[a] - cell[b] ||
    kps[b].response - kps[a].response || a - b);
  const rank = new Int32Array(n);
  let start = 0;
  for (let k = 0; k < n; k++) {
    if (k > 0 && cell[byCell[k]] !== cell[byCell[k - 1]]) start = k;
    rank[byCell[k]] = k - start;
  }
  const order = idx.slice().sort((a, b) => kps[b].response - kps[a].response || a - b);
  const share = Math.floor(MAX_POINTS / (GRID * GRID));
  const first = order.filter((i) => rank[i] < share);
  const rest = order.filter((i) => rank[i] >= share).slice(0, Math.max(0, MAX_POINTS - first.length));
  const chosen = first.concat(rest);
  const pos = new Map(chosen.map((c, k) => [c, k]));
  return chosen.slice().sort((a, b) => kps[b].response - kps[a].response || pos.get(a) - pos.get(b));
}

// local_features.extract on a grey work copy (at most WORK_SIDE a side): {points (x, y
// fractions, float32), descriptors, width, height} or null when it has too little detail.
// `width` and `height` are those of the picture the caller reduced (the RGB work copy).
export function extractFromGrey(grey, gw, gh, width, height) {
  if (Math.min(width, height) < 32) return null;
  const levels = pyramid(grey, gw, gh);
  const found = detect(levels);
  if (found.length < MIN_POINTS) return null;
  const chosen = spread(found, gw, gh).map((i) => found[i]);
  const { keypoints, descriptors } = compute(levels, chosen);
  if (keypoints.length < MIN_POINTS) return null;
  const fw = f(gw);
  const fh = f(gh);
  const points = new Float32Array(keypoints.length * 2);
  keypoints.forEach((kp, i) => {
    points[2 * i] = Math.min(1, Math.max(0, f(kp.x / fw)));
    points[2 * i + 1] = Math.min(1, Math.max(0, f(kp.y / fh)));
  });
  return { points, descriptors, width, height, keypoints };
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

export function base64(bytes) {
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63];
  }
  if (i < bytes.length) {
    const n = (bytes[i] << 16) | ((i + 1 < bytes.length ? bytes[i + 1] : 0) << 8);
    out += B64[n >> 18] + B64[(n >> 12) & 63] +
      (i + 1 < bytes.length ? B64[(n >> 6) & 63] : "=") + "=";
  }
  return out;
}

// Features.to_text: "RPO1", n (uint16), width, height (uint32), positions rounded to
// 1/4095 of a side (uint16 pairs), descriptors; little-endian, base64.
export function featuresToText(features) {
  const n = features.points.length / 2;
  const bytes = new Uint8Array(14 + n * 4 + n * 32);
  const view = new DataView(bytes.buffer);
  bytes.set([0x52, 0x50, 0x4f, 0x31], 0);
  view.setUint16(4, n, true);
  view.setUint32(6, features.width, true);
  view.setUint32(10, features.height, true);
  for (let i = 0; i < 2 * n; i++) {
    const v = Math.min(4095, Math.max(0, cvRound(f(features.points[i] * 4095))));
    view.setUint16(14 + 2 * i, v, true);
  }
  bytes.set(features.descriptors, 14 + n * 4);
  return base64(bytes);
}
export const BIT_PATTERN_31 = new Int8Array([
  8, -3, 9, 5,
  4, 2, 7, -12,
  -11, 9, -8, 2,
  7, -12, 12, -13,
  2, -13, 2, 12,
  1, -7, 1, 6,
  -2, -10, -2, -4,
  -13, -13, -11, -8,
  -13, -3, -12, -9,
  10, 4, 11, 9,
  -13, -8, -8, -9,
  -11, 7, -9, 12,
  7, 7, 12, 6,
  -4, -5, -3, 0,
  -13, 2, -12, -3,
  -9, 0, -7, 5,
  12, -6, 12, -1,
  -3, 6, -2, 12,
  -6, -13, -4, -8,
  11, -13, 12, -8,
  4, 7, 5, 1,
  5, -3, 10, -3,
  3, -7, 6, 12,
  -8, -7, -6, -2,
  -2, 11, -1, -10,
  -13, 12, -8, 10,
  -7, 3, -5, -3,
  -4, 2, -3, 7,
  -10, -12, -6, 11,
  5, -12, 6, -7,
  5, -6, 7, -1,
  1, 0, 4, -5,
  9, 11, 11, -13,
  4, 7, 4, 12,
  2, -1, 4, 4,
  -4, -12, -2, 7,
  -8, -5, -7, -10,
  4, 11, 9, 12,
  0, -8, 1, -13,
  -13, -2, -8, 2,
  -3, -2, -2, 3,
  -6, 9, -4, -9,
  8, 12, 10, 7,
  0, 9, 1, 3,
  7, -5, 11, -10,
  -13, -6, -11, 0,
  10, 7, 12, 1,
  -6, -3, -6, 12,
  10, -9, 12, -4,
  -13, 8, -8, -12,
  -13, 0, -8, -4,
  3, 3, 7, 8,
  5, 7, 10, -7,
  -1, 7, 1, -12,
  3, -10, 5, 6,
  2, -4, 3, -10,
  -13, 0, -13, 5,
  -13, -7, -12, 12,
  -13, 3, -11, 8,
  -7, 12, -4, 7,
  6, -10, 12, 8,
  -9, -1, -7, -6,
  -2, -5, 0, 12,
  -12, 5, -7, 5,
  3, -10, 8, -13,
  -7, -7, -4, 5,
  -3, -2, -1, -7,
  2, 9, 5, -11,
  -11, -13, -5, -13,
  -1, 6, 0, -1,
  5, -3, 5, 2,
  -4, -13, -4, 12,
  -9, -6, -9, 6,
  -12, -10, -8, -4,
  10, 2, 12, -3,
  7, 12, 12, 12,
  -7, -13, -6, 5,
  -4, 9, -3, 4,
  7, -1, 12, 2,
  -7, 6, -5, 1,
  -13, 11, -12, 5,
  -3, 7, -2, -6,
  7, -8, 12, -7,
  -13, -7, -11, -12,
  1, -3, 12, 12,
  2, -6, 3, 0,
  -4, 3, -2, -13,
  -1, -13, 1, 9,
  7, 1, 8, -6,
  1, -1, 3, 12,
  9, 1, 12, 6,
  -1, -9, -1, 3,
  -13, -13, -10, 5,
  7, 7, 10, 12,
  12, -5, 12, 9,
  6, 3, 7, 11,
  5, -13, 6, 10,
  2, -12, 2, 3,
  3, 8, 4, -6,
  2, 6, 12, -13,
  9, -12, 10, 3,
  -8, 4, -7, 9,
  -11, 12, -4, -6,
  1, 12, 2, -8,
  6, -9, 7, -4,
  2, 3, 3, -2,
  6, 3, 11, 0,
  3, -3, 8, -8,
  7, 8, 9, 3,
  -11, -5, -6, -4,
  -10, 11, -5, 10,
  -5, -8, -3, 12,
  -10, 5, -9, 0,
  8, -1, 12, -6,
  4, -6, 6, -11,
  -10, 12, -8, 7,
  4, -2, 6, 7,
  -2, 0, -2, 12,
  -5, -8, -5, 2,
  7, -6, 10, 12,
  -9, -13, -8, -8,
  -5, -13, -5, -2,
  8, -8, 9, -13,
  -9, -11, -9, 0,
  1, -8, 1, -2,
  7, -4, 9, 1,
  -2, 1, -1, -4,
  11, -6, 12, -11,
  -12, -9, -6, 4,
  3, 7, 7, 12,
  5, 5, 10, 8,
  0, -4, 2, 8,
  -9, 12, -5, -13,
  0, 7, 2, 12,
  -1, 2, 1, 7,
  5, 11, 7, -9,
  3, 5, 6, -8,
  -13, -4, -8, 9,
  -5, 9, -3, -3,
  -4, -7, -3, -12,
  6, 5, 8, 0,
  -7, 6, -6, 12,
  -13, 6, -5, -2,
  1, -10, 3, 10,
  4, 1, 8, -4,
  -2, -2, 2, -13,
  2, -12, 12, 12,
  -2, -13, 0, -6,
  4, 1, 9, 3,
  -6, -10, -3, -5,
  -3, -13, -1, 1,
  7, 5, 12, -11,
  4, -2, 5, -7,
  -13, 9, -9, -5,
  7, 1, 8, 6,
  7, -8, 7, 6,
  -7, -4, -7, 1,
  -8, 11, -7, -8,
  -13, 6, -12, -8,
  2, 4, 3, 9,
  10, -5, 12, 3,
  -6, -5, -6, 7,
  8, -3, 9, -8,
  2, -12, 2, 8,
  -11, -2, -10, 3,
  -12, -13, -7, -9,
  -11, 0, -10, -5,
  5, -3, 11, 8,
  -2, -13, -1, 12,
  -1, -8, 0, 9,
  -13, -11, -12, -5,
  -10, -2, -10, 11,
  -3, 9, -2, -13,
  2, -3, 3, 2,
  -9, -13, -4, 0,
  -4, 6, -3, -10,
  -4, 12, -2, -7,
  -6, -11, -4, 9,
  6, -3, 6, 11,
  -13, 11, -5, 5,
  11, 11, 12, 6,
  7, -5, 12, -2,
  -1, 12, 0, 7,
  -4, -8, -3, -2,
  -7, 1, -6, 7,
  -13, -12, -8, -13,
  -7, -2, -6, -8,
  -8, 5, -6, -9,
  -5, -1, -4, 5,
  -13, 7, -8, 10,
  1, 5, 5, -13,
  1, 0, 10, -13,
  9, 12, 10, -1,
  5, -8, 10, -9,
  -1, 11, 1, -13,
  -9, -3, -6, 2,
  -1, -10, 1, 12,
  -13, 1, -8, -10,
  8, -11, 10, -6,
  2, -13, 3, -6,
  7, -13, 12, -9,
  -10, -10, -5, -7,
  -10, -8, -8, -13,
  4, -6, 8, 5,
  3, 12, 8, -13,
  -4, 2, -3, -3,
  5, -13, 10, -12,
  4, -13, 5, -1,
  -9, 9, -4, 3,
  0, 3, 3, -9,
  -12, 1, -6, 1,
  3, 2, 4, -8,
  -10, -10, -10, 9,
  8, -13, 12, 12,
  -8, -12, -6, -5,
  2, 2, 3, 7,
  10, 6, 11, -8,
  6, 8, 8, -12,
  -7, 10, -6, 5,
  -3, -9, -3, 9,
  -1, -13, -1, 5,
  -3, -7, -3, 4,
  -8, -2, -8, 3,
  4, 2, 12, 12,
  2, -5, 3, 11,
  6, -9, 11, -13,
  3, -1, 7, 12,
  11, -1, 12, 4,
  -3, 0, -3, 6,
  4, -11, 4, 12,
  2, -4, 2, 1,
  -10, -6, -8, 1,
  -13, 7, -11, 1,
  -13, 12, -11, -13,
  6, 0, 11, -13,
  0, -1, 1, 4,
  -13, 3, -9, -2,
  -9, 8, -6, -3,
  -13, -6, -8, -2,
  5, -9, 8, 10,
  2, 7, 3, -9,
  -1, -6, -1, -1,
  9, 5, 11, -2,
  11, -3, 12, -8,
  3, 0, 3, 5,
  -1, 4, 0, 10,
  3, -6, 4, 5,
  -13, 0, -10, 5,
  5, 8, 12, 11,
  8, 9, 9, -6,
  7, -4, 8, -12,
  -10, 4, -10, 9,
  7, 3, 12, 4,
  9, -7, 10, -2,
  7, 0, 12, -2,
  -1, -6, 0, -11,
]);
