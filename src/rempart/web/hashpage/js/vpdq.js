// vPDQ as Rempart's bank side computes it (rempart/signals/vpdq.py, hash_frames with every
// frame, regions and inside-bars hashes), as pure functions over decoded frames, so that her
// browser's hash file for a video equals `rempart hash --out`'s.
//
// Why it looks the way it does:
// - The CLI's frames are PyAV's `frame.to_ndarray(format="rgb24")`: FFmpeg's swscale turns
//   4:2:0 YUV into RGB with its x86 SIMD routine (each 2x2 block shares its chroma sample,
//   16-bit fixed-point products kept by their high half, coefficients rounded from the
//   frame's colour matrix and range). yuvToRgb reproduces that arithmetic exactly, so the
//   same YUV planes (H.264, VP8, VP9 and AV1 decoding is bit-exact) give the same RGB bytes,
//   hence the same PDQ hashes. Odd frame heights take another swscale path: approximated.
// - content_box (black bars), the halves (from the frame's grey copy, OpenCV's RGB2GRAY
//   integers, scaled to fit 384 px with Pillow's BOX filter), the centre crops crop90 and
//   crop80 (signals/video_variants.py bank_hashes: the frame's grey copy scaled to fit 384 px
//   with OpenCV's INTER_AREA, computed for frames whose whole hash moved more than 8 bits from
//   the last frame cropped), the dedupe of each stream (a frame within 8 bits of the last
//   kept one is dropped) and the timestamps' "%.3f" text are ports of the Python, step by
//   step.
// Pure computation: no DOM, no browser-only API, so Node runs it in the conformance tests.

import { pdqFromLuma, pdqFromRgb, hamming } from "./pdq.js";
import { BOX, PRECISION_BITS, pyRound, resampleCoeffs } from "./pillow.js";

export const BANK_DEDUPE_DISTANCE = 8; // rempart.signals.vpdq.BANK_DEDUPE_DISTANCE
export const BAR_MAX_LEVEL = 40;
export const BAR_MIN_FRACTION = 0.04;
export const CONTENT_MIN_FRACTION = 0.4;
export const REGIONS = ["top", "bottom", "left", "right"];
export const REGION_SIDE = 384;
// rempart.signals.video_variants: CROPS (share of each side kept), BANK_SIDE, BANK_DEDUPE.
export const CROPS = [["crop90", 0.9], ["crop80", 0.8]];
export const CROP_NAMES = CROPS.map(([name]) => name);
export const CROP_SIDE = 384;

// --- YUV -> RGB as swscale (libswscale/yuv2rgb.c tables, x86/yuv_2_rgb.asm arithmetic) -------

// ff_yuv2rgb_coeffs, indexed by FFmpeg's AVColorSpace: {Rv, Bu, Gu, Gv} * 255/224 * 2^16.
const FF_COEFFS = [
  [117489, 138438, 13975, 34925], // 0 (RGB / none): the table's first row
  [117489, 138438, 13975, 34925], // 1 BT.709
  [104597, 132201, 25675, 53279], // 2 unspecified
  [104597, 132201, 25675, 53279], // 3 reserved
  [104448, 132798, 24759, 53109], // 4 FCC
  [104597, 132201, 25675, 53279], // 5 BT.470BG
  [104597, 132201, 25675, 53279], // 6 SMPTE 170M
  [117579, 136230, 16907, 35559], // 7 SMPTE 240M
  [0, 0, 0, 0], // 8 YCgCo (not supported by this path)
  [110013, 140363, 12277, 42626], // 9 BT.2020 NCL
  [110013, 140363, 12277, 42626], // 10 BT.2020 CL
];

// WebCodecs' VideoColorSpace.matrix -> FFmpeg's AVColorSpace number.
const MATRIX_TO_AVCOL = {
  rgb: 0,
  bt709: 1,
  fcc: 4,
  bt470bg: 5,
  smpte170m: 6,
  smpte240m: 7,
  "bt2020-ncl": 9,
};

export function avColorSpace(matrix) {
  return matrix != null && matrix in MATRIX_TO_AVCOL ? MATRIX_TO_AVCOL[matrix] : 2;
}

function roundToInt16(x) {
  const r = Math.floor((x + 32768) / 65536);
  return r < -32768 ? -32768 : r > 32767 ? 32767 : r;
}

// The SIMD routine's coefficients for a colour space (AVColorSpace number, 2 = unspecified)
// and range (fullRange true for JPEG/"full" range): ff_yuv2rgb_c_init_tables.
export function yuvCoefficients(colorspace = 2, fullRange = false) {
  let row = FF_COEFFS[colorspace];
  if (!row || (row[0] === 0 && row[1] === 0)) row = FF_COEFFS[2];
  let [crv, cbu, cgu, cgv] = [row[0], row[1], -row[2], -row[3]];
  let cy = 65536;
  let oy = 0;
  if (!fullRange) {
    cy = Math.trunc((cy * 255) / 219);
    oy = 16 * 65536;
  } else {
    crv = Math.trunc((crv * 224) / 255);
    cbu = Math.trunc((cbu * 224) / 255);
    cgu = Math.trunc((cgu * 224) / 255);
    cgv = Math.trunc((cgv * 224) / 255);
  }
  return {
    y: roundToInt16(cy * 8192),
    yOffset: roundToInt16(oy * 8),
    vr: roundToInt16(crv * 8192),
    ub: roundToInt16(cbu * 8192),
    vg: roundToInt16(cgv * 8192),
    ug: roundToInt16(cgu * 8192),
  };
}

const tableCache = new Map();

function tablesFor(coeffs) {
  const key = `${coeffs.y},${coeffs.yOffset},${coeffs.vr},${coeffs.ub},${coeffs.vg},${coeffs.ug}`;
  let t = tableCache.get(key);
  if (t) return t;
  const yT = new Int32Array(256);
  const rV = new Int32Array(256);
  const gU = new Int32Array(256);
  const gV = new Int32Array(256);
  const bU = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    // pmulhw keeps the high 16 bits of the 32-bit product: an arithmetic shift.
    yT[i] = ((i * 8 - coeffs.yOffset) * coeffs.y) >> 16;
    const c = i * 8 - 1024;
    rV[i] = (c * coeffs.vr) >> 16;
    gU[i] = (c * coeffs.ug) >> 16;
    gV[i] = (c * coeffs.vg) >> 16;
    bU[i] = (c * coeffs.ub) >> 16;
  }
  t = { yT, rV, gU, gV, bU };
  tableCache.set(key, t);
  return t;
}

const CLAMP_OFFSET = 2048;
const CLAMP = new Uint8Array(4096 + 1024);
for (let i = 0; i < CLAMP.length; i++) {
  const v = i - CLAMP_OFFSET;
  CLAMP[i] = v < 0 ? 0 : v > 255 ? 255 : v;
}

// 4:2:0 planes -> packed RGB (3 bytes a pixel), as PyAV's to_ndarray("rgb24") gives them.
// planes: {y, u, v (Uint8Array), yStride, uStride, vStride, yOffset?, uOffset?, vOffset?}; for
// NV12 give u = v = the interleaved plane, uStep = 2 and vOffset = uOffset + 1.
// chroma: "420" (default), "422" or "444" (sampling of the chroma planes; PyAV takes another
// swscale path for those, so they are approximate).
export function yuvToRgb(planes, width, height, coeffs, out = null, chroma = "420") {
  const rgb = out || new Uint8Array(width * height * 3);
  const { yT, rV, gU, gV, bU } = tablesFor(coeffs);
  const { y, u, v, yStride, uStride, vStride } = planes;
  const y0 = planes.yOffset || 0;
  const u0 = planes.uOffset || 0;
  const v0 = planes.vOffset || 0;
  const step = planes.uStep || 1;
  const xShift = chroma === "444" ? 0 : 1;
  const yShift = chroma === "420" ? 1 : 0;
  let o = 0;
  if (xShift === 1) {
    // Two pixels share each chroma sample: look its terms up once.
    for (let r = 0; r < height; r++) {
      const yRow = y0 + r * yStride;
      const cr = r >> yShift;
      let uAt = u0 + cr * uStride;
      let vAt = v0 + cr * vStride;
      let c = 0;
      for (; c + 1 < width; c += 2, uAt += step, vAt += step) {
        const V = v[vAt];
        const U = u[uAt];
        const rr = rV[V] + CLAMP_OFFSET;
        const gg = gU[U] + gV[V] + CLAMP_OFFSET;
        const bb = bU[U] + CLAMP_OFFSET;
        let Y = yT[y[yRow + c]];
        rgb[o] = CLAMP[Y + rr];
        rgb[o + 1] = CLAMP[Y + gg];
        rgb[o + 2] = CLAMP[Y + bb];
        Y = yT[y[yRow + c + 1]];
        rgb[o + 3] = CLAMP[Y + rr];
        rgb[o + 4] = CLAMP[Y + gg];
        rgb[o + 5] = CLAMP[Y + bb];
        o += 6;
      }
      if (c < width) {
        const V = v[vAt];
        const U = u[uAt];
        const Y = yT[y[yRow + c]] + CLAMP_OFFSET;
        rgb[o++] = CLAMP[Y + rV[V]];
        rgb[o++] = CLAMP[Y + gU[U] + gV[V]];
        rgb[o++] = CLAMP[Y + bU[U]];
      }
    }
    return rgb;
  }
  for (let r = 0; r < height; r++) {
    const yRow = y0 + r * yStride;
    const cr = r >> yShift;
    const uRow = u0 + cr * uStride;
    const vRow = v0 + cr * vStride;
    for (let c = 0; c < width; c++) {
      const cc = (c >> xShift) * step;
      const U = u[uRow + cc];
      const V = v[vRow + cc];
      const Y = yT[y[yRow + c]] + CLAMP_OFFSET;
      rgb[o++] = CLAMP[Y + rV[V]];
      rgb[o++] = CLAMP[Y + gU[U] + gV[V]];
      rgb[o++] = CLAMP[Y + bU[U]];
    }
  }
  return rgb;
}

// --- black bars (rempart.signals.vpdq.content_box) --------------------------------------------

// Max over channels of the pixel at (row, col).
function px(rgb, width, row, col) {
  const p = (row * width + col) * 3;
  const a = rgb[p];
  const b = rgb[p + 1];
  const c = rgb[p + 2];
  return a > b ? (a > c ? a : c) : b > c ? b : c;
}

// Max of "line" i (a row when rows is true, else a column), looked at every 4th pixel.
function lineMax(rgb, width, height, rows, i, reversed) {
  let m = 0;
  if (rows) {
    const row = reversed ? height - 1 - i : i;
    for (let col = 0; col < width; col += 4) {
      const v = px(rgb, width, row, col);
      if (v > m) m = v;
    }
  } else {
    const col = reversed ? width - 1 - i : i;
    for (let row = 0; row < height; row += 4) {
      const v = px(rgb, width, row, col);
      if (v > m) m = v;
    }
  }
  return m;
}

// _bar_depth: leading bar lines, first on a 1-in-4 grid of lines, then line by line.
function barDepth(rgb, width, height, rows, reversed) {
  const n = rows ? height : width;
  let run = 0;
  while (run * 4 < n && lineMax(rgb, width, height, rows, run * 4, reversed) <= BAR_MAX_LEVEL) {
    run++;
  }
  if (run === 0) return 0;
  let depth = 4 * (run - 1) + 1;
  while (depth < n && lineMax(rgb, width, height, rows, depth, reversed) <= BAR_MAX_LEVEL) {
    depth++;
  }
  return depth;
}

// [top, bottom, left, right] of the picture inside black bars, or null without bars.
export function contentBox(rgb, width, height) {
  if (height < 32 || width < 32) return null;
  let top = barDepth(rgb, width, height, true, false);
  let bottom = barDepth(rgb, width, height, true, true);
  let left = barDepth(rgb, width, height, false, false);
  let right = barDepth(rgb, width, height, false, true);
  if (top < BAR_MIN_FRACTION * height) top = 0;
  if (bottom < BAR_MIN_FRACTION * height) bottom = 0;
  if (left < BAR_MIN_FRACTION * width) left = 0;
  if (right < BAR_MIN_FRACTION * width) right = 0;
  if (!(top || bottom || left || right)) return null;
  if (height - top - bottom < CONTENT_MIN_FRACTION * height
      || width - left - right < CONTENT_MIN_FRACTION * width) {
    return null;
  }
  return [top, height - bottom, left, width - right];
}

// pixels[top:bottom, left:right] as a packed copy (cn bytes a pixel: 3 RGB, 1 grey).
export function cropRgb(rgb, width, top, bottom, left, right, cn = 3) {
  const w = right - left;
  const out = new Uint8Array(w * (bottom - top) * cn);
  for (let r = top, o = 0; r < bottom; r++, o += w * cn) {
    out.set(rgb.subarray((r * width + left) * cn, (r * width + right) * cn), o);
  }
  return out;
}

// The grey copy of rgb[top:bottom, left:right] as the CLI makes it (DecodedFrame.grey():
// OpenCV's COLOR_RGB2GRAY on 8-bit pixels, 15-bit fixed point, rounded).
export function greyFromRgb(rgb, width, top, bottom, left, right) {
  const w = right - left;
  const out = new Uint8Array(w * (bottom - top));
  let o = 0;
  for (let r = top; r < bottom; r++) {
    for (let p = (r * width + left) * 3, end = (r * width + right) * 3; p < end; p += 3) {
      out[o++] = (rgb[p] * 9798 + rgb[p + 1] * 19235 + rgb[p + 2] * 3735 + 16384) >> 15;
    }
  }
  return out;
}

// --- Pillow's resize with the BOX filter (libImaging/Resample.c) ------------------------------

function boxCoeffs(inSize, outSize) {
  return resampleCoeffs(inSize, 0, inSize, outSize, BOX);
}

function clip8(ss) {
  // ss >> PRECISION_BITS (BOX weights are positive: 0 <= ss < 2^31).
  const v = ss >> PRECISION_BITS;
  return v > 255 ? 255 : v;
}

function boxPasses(data, width, height, outW, outH, cn) {
  const needH = outW !== width;
  const needV = outH !== height;
  if (!needH && !needV) return data;
  const vert = boxCoeffs(height, outH);
  let src = data;
  let srcW = width;
  let yFirst = 0;
  if (needH) {
    yFirst = needV ? vert.bounds[0] : 0;
    const yLast = needV ? vert.bounds[outH * 2 - 2] + vert.bounds[outH * 2 - 1] : height;
    const rows = yLast - yFirst;
    const { ksize, bounds, kk } = boxCoeffs(width, outW);
    const tmp = new Uint8Array(outW * rows * cn);
    for (let yy = 0; yy < rows; yy++) {
      const rowIn = (yy + yFirst) * width * cn;
      const rowOut = yy * outW * cn;
      if (cn === 1) {
        for (let xx = 0; xx < outW; xx++) {
          const xmin = bounds[xx * 2];
          const xmax = bounds[xx * 2 + 1];
          const kb = xx * ksize;
          let s0 = 1 << (PRECISION_BITS - 1);
          for (let x = 0, p = rowIn + xmin; x < xmax; x++, p++) s0 += data[p] * kk[kb + x];
          tmp[rowOut + xx] = clip8(s0);
        }
        continue;
      }
      for (let xx = 0; xx < outW; xx++) {
        const xmin = bounds[xx * 2];
        const xmax = bounds[xx * 2 + 1];
        const kb = xx * ksize;
        let s0 = 1 << (PRECISION_BITS - 1);
        let s1 = s0;
        let s2 = s0;
        for (let x = 0, p = rowIn + xmin * 3; x < xmax; x++, p += 3) {
          const k = kk[kb + x];
          s0 += data[p] * k;
          s1 += data[p + 1] * k;
          s2 += data[p + 2] * k;
        }
        tmp[rowOut + xx * 3] = clip8(s0);
        tmp[rowOut + xx * 3 + 1] = clip8(s1);
        tmp[rowOut + xx * 3 + 2] = clip8(s2);
      }
    }
    src = tmp;
    srcW = outW;
    if (!needV) return src;
  }
  const out = new Uint8Array(srcW * outH * cn);
  const { ksize, bounds, kk } = vert;
  const stride = srcW * cn;
  const acc = new Float64Array(stride); // sums stay integers below 2^31: exact
  for (let yy = 0; yy < outH; yy++) {
    const ymin = bounds[yy * 2] - yFirst;
    const ymax = bounds[yy * 2 + 1];
    const kb = yy * ksize;
    acc.fill(1 << (PRECISION_BITS - 1));
    for (let y = 0; y < ymax; y++) {
      const k = kk[kb + y];
      const row = (ymin + y) * stride;
      for (let i = 0; i < stride; i++) acc[i] += src[row + i] * k;
    }
    const rowOut = yy * stride;
    for (let i = 0; i < stride; i++) out[rowOut + i] = clip8(acc[i]);
  }
  return out;
}

// Image.fromarray(pixels).resize((outW, outH), Image.Resampling.BOX) on packed RGB (cn 3)
// or grey (cn 1) pixels: the same integer arithmetic per channel.
export function resizeBox(rgb, width, height, outW, outH, cn = 3) {
  if (outW === width && outH === height) return rgb;
  // Pillow 13 runs the vertical pass first when the height shrinks much more than the width
  // (as pillow.js resizeBilinear; ImagingResampleInner).
  if (outH < height && height - outH > 2 * (width - outW) && outW !== width) {
    const mid = boxPasses(rgb, width, height, width, outH, cn);
    return boxPasses(mid, width, outH, outW, outH, cn);
  }
  return boxPasses(rgb, width, height, outW, outH, cn);
}

// --- OpenCV's resize with INTER_AREA on packed pixels (imgproc/src/resize.cpp) ----------------
// The crops' scaled copy (video_layout.scaled). Integer factors take OpenCV's fast path
// (block sums; 2x2 blocks rounded as (sum + 2) >> 2, others as float32 sum / area rounded
// half to even); other factors its ResizeArea_Invoker: float32 weights from
// computeResizeAreaTab, each source row summed across then weighted into its output row,
// every product and sum rounded to float32 as the C++ does, then rounded half to even.

function areaTab(ssize, dsize, scale, cn) {
  const di = [];
  const si = [];
  const alpha = [];
  for (let dx = 0; dx < dsize; dx++) {
    const fsx1 = dx * scale;
    const fsx2 = fsx1 + scale;
    const cellWidth = Math.min(scale, ssize - fsx1);
    let sx1 = Math.ceil(fsx1);
    let sx2 = Math.floor(fsx2);
    sx2 = Math.min(sx2, ssize - 1);
    sx1 = Math.min(sx1, sx2);
    if (sx1 - fsx1 > 1e-3) {
      di.push(dx * cn);
      si.push((sx1 - 1) * cn);
      alpha.push(Math.fround((sx1 - fsx1) / cellWidth));
    }
    for (let sx = sx1; sx < sx2; sx++) {
      di.push(dx * cn);
      si.push(sx * cn);
      alpha.push(Math.fround(1.0 / cellWidth));
    }
    if (fsx2 - sx2 > 1e-3) {
      di.push(dx * cn);
      si.push(sx2 * cn);
      alpha.push(Math.fround(Math.min(Math.min(fsx2 - sx2, 1.0), cellWidth) / cellWidth));
    }
  }
  return { di: Int32Array.from(di), si: Int32Array.from(si), alpha: Float32Array.from(alpha) };
}

// cvRound then saturate_cast<uchar>: half to even, clamped.
function roundU8(v) {
  let r = Math.round(v);
  if (r - v === 0.5 && r % 2 !== 0) r -= 1; // a tie rounded up to odd: take the even one
  return r < 0 ? 0 : r > 255 ? 255 : r;
}

function areaFast(rgb, width, kx, ky, outW, outH, cn) {
  const out = new Uint8Array(outW * outH * cn);
  const scale = Math.fround(1 / (kx * ky));
  const halfAndHalf = kx === 2 && ky === 2;
  for (let dy = 0; dy < outH; dy++) {
    for (let dx = 0; dx < outW; dx++) {
      for (let c = 0; c < cn; c++) {
        let sum = 0;
        for (let y = dy * ky; y < dy * ky + ky; y++) {
          for (let x = dx * kx, p = (y * width + x) * cn + c; x < dx * kx + kx; x++, p += cn) {
            sum += rgb[p];
          }
        }
        out[(dy * outW + dx) * cn + c] = halfAndHalf ? (sum + 2) >> 2
          : roundU8(Math.fround(sum * scale));
      }
    }
  }
  return out;
}

const areaTabs = new Map();

// cv2.resize(rgb, (outW, outH), interpolation=cv2.INTER_AREA) for a reduction (cn bytes a
// pixel: 3 RGB, 1 grey).
export function resizeArea(rgb, width, height, outW, outH, cn = 3) {
  if (outW === width && outH === height) return rgb;
  const scaleX = 1 / (outW / width);
  const scaleY = 1 / (outH / height);
  const ix = Math.round(scaleX);
  const iy = Math.round(scaleY);
  if (Math.abs(scaleX - ix) < Number.EPSILON && Math.abs(scaleY - iy) < Number.EPSILON) {
    return areaFast(rgb, width, ix, iy, outW, outH, cn);
  }
  const key = `${width}x${height}>${outW}x${outH}x${cn}`;
  let tabs = areaTabs.get(key);
  if (!tabs) { // a video's frames share one size: its tables are computed once
    tabs = [areaTab(width, outW, scaleX, cn), areaTab(height, outH, scaleY, 1)];
    if (areaTabs.size > 8) areaTabs.clear();
    areaTabs.set(key, tabs);
  }
  const [xt, yt] = tabs;
  const n = outW * cn;
  const out = new Uint8Array(n * outH);
  const buf = new Float32Array(n);
  const sum = new Float32Array(n);
  const { di, si, alpha } = xt;
  let prev = yt.di[0];
  for (let j = 0; j < yt.di.length; j++) {
    const beta = yt.alpha[j];
    const dy = yt.di[j];
    const row = yt.si[j] * width * cn;
    buf.fill(0);
    if (cn === 1) {
      for (let k = 0; k < di.length; k++) buf[di[k]] += Math.fround(rgb[row + si[k]] * alpha[k]);
    } else {
      for (let k = 0; k < di.length; k++) {
        const d = di[k];
        const s = row + si[k];
        const a = alpha[k];
        for (let c = 0; c < cn; c++) buf[d + c] += Math.fround(rgb[s + c] * a);
      }
    }
    if (dy !== prev) {
      const o = prev * n;
      for (let i = 0; i < n; i++) {
        out[o + i] = roundU8(sum[i]);
        sum[i] = beta * buf[i];
      }
      prev = dy;
    } else {
      for (let i = 0; i < n; i++) sum[i] += Math.fround(beta * buf[i]);
    }
  }
  const o = prev * n;
  for (let i = 0; i < n; i++) out[o + i] = roundU8(sum[i]);
  return out;
}

// video_layout.fit_size: [width, height] of a picture scaled down to fit `side` pixels (at
// least 2 a side), or null when it fits already.
function fitSize(width, height, side) {
  const scale = side / Math.max(height, width);
  if (scale >= 1) return null;
  return [Math.max(2, pyRound(width * scale)), Math.max(2, pyRound(height * scale))];
}

// video_variants.bank_hashes: [{name, hex, quality}] of each centre crop (CROPS) of a frame,
// from its grey copy (greyFromRgb; cn = 1: `pixels` is that copy already) scaled to fit
// CROP_SIDE: grey, as the CLI, a third of the scaling's work of RGB.
export function cropHashes(pixels, width, height, cn = 3) {
  const grey = cn === 1 ? pixels : greyFromRgb(pixels, width, 0, height, 0, width);
  const fitted = fitSize(width, height, CROP_SIDE);
  const [w, h] = fitted ?? [width, height];
  const small = fitted ? resizeArea(grey, width, height, w, h, 1) : grey;
  return CROPS.map(([name, keep]) => {
    const dy = pyRound((h * (1 - keep)) / 2);
    const dx = pyRound((w * (1 - keep)) / 2);
    const luma = Float32Array.from(cropRgb(small, w, dy, h - dy, dx, w - dx, 1));
    const r = pdqFromLuma(luma, w - 2 * dx, h - 2 * dy);
    return { name, hex: r.hex, quality: r.quality };
  });
}

// Python's round(): half to even (pillow.js's).
export { pyRound };

// region_views: the four halves of a picture scaled down to fit REGION_SIDE (cn bytes a
// pixel: 3 RGB, 1 grey; each view's pixels in `rgb` either way).
export function regionViews(rgb, width, height, cn = 3) {
  const fitted = fitSize(width, height, REGION_SIDE);
  const [w, h] = fitted ?? [width, height];
  const pic = fitted ? resizeBox(rgb, width, height, w, h, cn) : rgb;
  const h2 = h >> 1;
  const w2 = w >> 1;
  return {
    top: { rgb: cropRgb(pic, w, 0, h2, 0, w, cn), width: w, height: h2 },
    bottom: { rgb: cropRgb(pic, w, h2, h, 0, w, cn), width: w, height: h - h2 },
    left: { rgb: cropRgb(pic, w, 0, h, 0, w2, cn), width: w2, height: h },
    right: { rgb: cropRgb(pic, w, 0, h, w2, w, cn), width: w - w2, height: h },
  };
}

// --- text -------------------------------------------------------------------------------------

// Python's f"{t:.3f}": the double's exact decimal value rounded half to even (JS toFixed
// rounds exact ties up: 0.0625 -> "0.063" where Python writes "0.062").
export function formatSeconds(t) {
  const s = t.toFixed(3);
  const exact = t.toFixed(100).replace(/0+$/, "");
  const dot = exact.indexOf(".");
  if (dot < 0 || exact.length - dot - 1 !== 4 || !exact.endsWith("5")) return s;
  // An exact tie at the 4th decimal: keep the even neighbour.
  const down = exact.slice(0, -1);
  const lastDigit = Number(down[down.length - 1]);
  return lastDigit % 2 === 0 ? down : s;
}

// --- the streams --------------------------------------------------------------------------

class Stream {
  constructor(distance) {
    this.distance = distance;
    this.frames = [];
    this.last = null;
  }

  add(hex, quality, ts) {
    if (this.distance !== null && this.last !== null && hamming(this.last, hex) <= this.distance) {
      return false;
    }
    this.last = hex;
    this.frames.push(`${hex},${quality},${formatSeconds(ts)}`);
    return true;
  }
}

// The bank side's hashes of a video, fed one decoded frame at a time (hash_frames with
// seconds_per_frame 0, regions, inside-bars and robust "stored"): whole frames, the picture
// inside black bars for frames that have bars, the four halves (from the grey copy) and,
// with `crops`, the centre crops of frames that moved (the robust stage's; `rempart hash`
// keeps them unless --no-robust), each stream deduplicated on its own.
export class VpdqHasher {
  constructor({
    dedupe = BANK_DEDUPE_DISTANCE, regions = true, inside = true, crops = true,
  } = {}) {
    this.whole = new Stream(dedupe);
    this.inside = inside ? new Stream(dedupe) : null;
    this.halves = regions ? Object.fromEntries(REGIONS.map((n) => [n, new Stream(dedupe)])) : null;
    // video_variants._BankExtra (only with the regions, as hash_frames calls it)
    this.crops = regions && crops
      ? Object.fromEntries(CROP_NAMES.map((n) => [n, new Stream(dedupe)])) : null;
    this.lastCropped = null; // the whole hash of the last frame cropped
    this.count = 0;
  }

  // One frame: packed RGB, its size and its timestamp in seconds.
  addFrame(rgb, width, height, ts) {
    const whole = pdqFromRgb(rgb, width, height);
    this.whole.add(whole.hex, whole.quality, ts);
    this.count++;
    const box = this.inside || this.halves ? contentBox(rgb, width, height) : null;
    const [top, bottom, left, right] = box !== null ? box : [0, height, 0, width];
    if (box !== null && this.inside) {
      const t = pdqFromRgb(cropRgb(rgb, width, top, bottom, left, right), right - left,
        bottom - top);
      this.inside.add(t.hex, t.quality, ts);
    }
    const crop = this.crops && (this.lastCropped === null
      || hamming(this.lastCropped, whole.hex) > BANK_DEDUPE_DISTANCE);
    let grey = null; // the whole frame's grey copy, when the halves' picture is the frame
    if (this.halves) {
      // from the grey copy of the picture inside any bars, as the CLI (vpdq.frame_hashes)
      const w = right - left;
      const picture = greyFromRgb(rgb, width, top, bottom, left, right);
      if (box === null) grey = picture;
      const views = regionViews(picture, w, bottom - top, 1);
      for (const name of REGIONS) {
        const v = views[name];
        const r = pdqFromLuma(Float32Array.from(v.rgb), v.width, v.height);
        this.halves[name].add(r.hex, r.quality, ts);
      }
    }
    if (crop) {
      this.lastCropped = whole.hex;
      const crops = grey !== null ? cropHashes(grey, width, height, 1)
        : cropHashes(rgb, width, height);
      for (const c of crops) this.crops[c.name].add(c.hex, c.quality, ts);
    }
    return whole;
  }

  // {vpdq, vpdq_inside?, vpdq_regions?, vpdq_crops?} in the submission file's JSON form.
  result() {
    const out = { vpdq: this.whole.frames };
    if (this.inside && this.inside.frames.length) out.vpdq_inside = this.inside.frames;
    if (this.halves) {
      out.vpdq_regions = Object.fromEntries(REGIONS.map((n) => [n, this.halves[n].frames]));
    }
    if (this.crops && this.crops[CROP_NAMES[0]].frames.length) {
      out.vpdq_crops = Object.fromEntries(CROP_NAMES.map((n) => [n, this.crops[n].frames]));
    }
    return out;
  }
}
