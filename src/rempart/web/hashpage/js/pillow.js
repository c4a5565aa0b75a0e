// Exact ports of the few Pillow operations that Rempart's stored side applies to a photo
// before hashing its variants and keypoints (rempart/media/reduce.py, signals/pdq_variants.py,
// signals/local_features.py): RGB -> L, Image.reduce, resize with BILINEAR, rotate with
// BILINEAR, crop and reduce_to. They follow Pillow's integer and double arithmetic step by
// step (src/libImaging/Convert.c, Reduce.c, Resample.c, Geometry.c), so that the page's
// hashes equal `rempart hash --out`'s bit for bit. No DOM: Node imports this module too.
//
// An image is {width, height, channels (1: L, 3: RGB), data: Uint8Array (packed rows)}.

export function makeImage(width, height, channels, data) {
  return { width, height, channels, data: data || new Uint8Array(width * height * channels) };
}

// Python's round() of a float to an integer: half to even.
export function pyRound(x) {
  const f = Math.floor(x);
  const diff = x - f;
  if (diff > 0.5) return f + 1;
  if (diff < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

// Python's round(x, 15): correctly rounded through the decimal form.
function pyRound15(x) {
  const r = Number(x.toFixed(15));
  return r === 0 ? 0 : r;
}

// Convert.c rgb2l: ITU-R 601-2 luma with Pillow's 16-bit fixed point (L24).
export function toGrey(image) {
  if (image.channels === 1) return image;
  const { width, height, data } = image;
  const n = width * height;
  const out = new Uint8Array(n);
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    out[i] = (data[j] * 19595 + data[j + 1] * 38470 + data[j + 2] * 7471 + 0x8000) >>> 16;
  }
  return makeImage(width, height, 1, out);
}

// Reduce.c division_UINT32: a float32 division truncated to an unsigned integer.
function divisionUint32(divider) {
  return Math.trunc(Math.fround(4294967296 / Math.fround(256 * divider)));
}

function boxMean(sum, count) {
  // Pillow: ((ss + amend) * multiplier) >> 24 in uint32 (the 2x2 and 4x4 shifts give the
  // same value: their multiplier is an exact power of two).
  const multiplier = divisionUint32(count);
  const p = (sum + Math.floor(count / 2)) * multiplier;
  return Math.floor((p % 4294967296) / 16777216);
}

// Image.reduce(factor): box average of factor x factor blocks; the last column and row
// average the partial block (the output is ceil(size / factor)).
export function reduce(image, factor) {
  if (factor === 1) return copyImage(image);
  const { width, height, channels, data } = image;
  const ow = Math.ceil(width / factor);
  const oh = Math.ceil(height / factor);
  const out = new Uint8Array(ow * oh * channels);
  const sums = new Float64Array(ow * channels);
  const fullW = Math.floor(width / factor);
  const rowLen = width * channels;
  const colOut = new Int32Array(width); // the output column of each input column
  for (let x = 0; x < width; x++) colOut[x] = Math.floor(x / factor) * channels;
  for (let oy = 0; oy < oh; oy++) {
    sums.fill(0);
    const y0 = oy * factor;
    const y1 = Math.min(height, y0 + factor);
    for (let y = y0; y < y1; y++) {
      let k = y * rowLen;
      if (channels === 3) {
        for (let x = 0; x < width; x++, k += 3) {
          const o = colOut[x];
          sums[o] += data[k];
          sums[o + 1] += data[k + 1];
          sums[o + 2] += data[k + 2];
        }
      } else {
        for (let x = 0; x < width; x++, k += channels) {
          for (let c = 0; c < channels; c++) sums[colOut[x] + c] += data[k + c];
        }
      }
    }
    const rows = y1 - y0;
    for (let ox = 0; ox < ow; ox++) {
      const cols = ox < fullW ? factor : width - fullW * factor;
      const count = cols * rows;
      const base = ox * channels;
      for (let c = 0; c < channels; c++) out[(oy * ow) * channels + base + c] = boxMean(sums[base + c], count);
    }
  }
  return makeImage(ow, oh, channels, out);
}

export function copyImage(image) {
  return makeImage(image.width, image.height, image.channels, new Uint8Array(image.data));
}

// Resample.c's filters: the support and the weight at a signed distance.
export const BILINEAR = {
  support: 1.0,
  weight: (x) => {
    const t = x < 0.0 ? -x : x;
    return t < 1.0 ? 1.0 - t : 0.0;
  },
};
export const BOX = { support: 0.5, weight: (x) => (x > -0.5 && x <= 0.5 ? 1.0 : 0.0) };

// Resample.c precompute_coeffs + normalize_coeffs_8bpc for `filter` (BILINEAR or BOX) over
// the input span [in0, in1), with the support widened by the reduction factor (antialiasing).
// vpdq.js's BOX resize shares it.
export const PRECISION_BITS = 22;
export function resampleCoeffs(inSize, in0, in1, outSize, filter) {
  const scale = (Math.fround(in1) - Math.fround(in0)) / outSize;
  const filterscale = scale < 1.0 ? 1.0 : scale;
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const tmp = new Float64Array(ksize);
  const invFilterscale = 1.0 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = Math.fround(in0) + (xx + 0.5) * scale;
    let ww = 0.0;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    for (let x = 0; x < xmax; x++) {
      const w = filter.weight((x + xmin - center + 0.5) * invFilterscale);
      tmp[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const k = ww !== 0.0 ? tmp[x] / ww : tmp[x];
      kk[xx * ksize + x] = k < 0 ? Math.trunc(-0.5 + k * (1 << PRECISION_BITS))
        : Math.trunc(0.5 + k * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

function clip8(ss) {
  const v = Math.floor(ss / 4194304); // ss >> PRECISION_BITS, arithmetic
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

// Image.resize(size, BILINEAR): the horizontal pass over the rows the vertical pass needs,
// then the vertical pass, each skipped when its size is unchanged (ImagingResampleInner).
export function resizeBilinear(image, outW, outH) {
  const { width, height } = image;
  if (outW === width && outH === height) return copyImage(image);
  // Pillow 13 runs the vertical pass first when the height shrinks much more than the
  // width (python-pillow/Pillow#9549); the result differs from horizontal-first by rounding.
  if (outH < height && height - outH > 2 * (width - outW) && outW !== width) {
    return resizePasses(resizePasses(image, width, outH), outW, outH);
  }
  return resizePasses(image, outW, outH);
}

function resizePasses(image, outW, outH) {
  const { width, height, channels, data } = image;
  if (outW === width && outH === height) return image;
  const needH = outW !== width;
  const needV = outH !== height;
  const vert = resampleCoeffs(height, 0, height, outH, BILINEAR);
  let src = data;
  let srcW = width;
  let yFirst = 0;
  if (needH) {
    yFirst = vert.bounds[0];
    const yLast = vert.bounds[outH * 2 - 2] + vert.bounds[outH * 2 - 1];
    const rows = yLast - yFirst;
    const hor = resampleCoeffs(width, 0, width, outW, BILINEAR);
    const tmp = new Uint8Array(outW * rows * channels);
    const { ksize, bounds, kk } = hor;
    for (let yy = 0; yy < rows; yy++) {
      const rowIn = (yy + yFirst) * width * channels;
      const rowOut = yy * outW * channels;
      for (let xx = 0; xx < outW; xx++) {
        const xmin = bounds[xx * 2];
        const xmax = bounds[xx * 2 + 1];
        const kb = xx * ksize;
        for (let c = 0; c < channels; c++) {
          let ss = 1 << (PRECISION_BITS - 1);
          for (let x = 0, p = rowIn + xmin * channels + c; x < xmax; x++, p += channels) {
            ss += data[p] * kk[kb + x];
          }
          tmp[rowOut + xx * channels + c] = clip8(ss);
        }
      }
    }
    src = tmp;
    srcW = outW;
  }
  if (!needV) {
    return makeImage(srcW, outH, channels, needH ? src : new Uint8Array(src));
  }
  const out = new Uint8Array(srcW * outH * channels);
  const { ksize, bounds, kk } = vert;
  const stride = srcW * channels;
  for (let yy = 0; yy < outH; yy++) {
    const ymin = bounds[yy * 2] - yFirst;
    const ymax = bounds[yy * 2 + 1];
    const kb = yy * ksize;
    const rowOut = yy * stride;
    for (let i = 0; i < stride; i++) {
      let ss = 1 << (PRECISION_BITS - 1);
      for (let y = 0, p = ymin * stride + i; y < ymax; y++, p += stride) ss += src[p] * kk[kb + y];
      out[rowOut + i] = clip8(ss);
    }
  }
  return makeImage(srcW, outH, channels, out);
}

// Image.crop with an integer box (pixels outside the image are 0).
export function crop(image, left, top, right, bottom) {
  const { width, height, channels, data } = image;
  const w = Math.max(0, right - left);
  const h = Math.max(0, bottom - top);
  const out = new Uint8Array(w * h * channels);
  for (let y = 0; y < h; y++) {
    const sy = top + y;
    if (sy < 0 || sy >= height) continue;
    const x0 = Math.max(0, left);
    const x1 = Math.min(width, right);
    if (x1 <= x0) continue;
    out.set(data.subarray((sy * width + x0) * channels, (sy * width + x1) * channels),
      (y * w + (x0 - left)) * channels);
  }
  return makeImage(w, h, channels, out);
}

// pdq_variants._crop: a box of fractions, rounded as Python rounds (half to even).
export function cropFractions(image, box) {
  const { width: w, height: h } = image;
  return crop(image, pyRound(box[0] * w), pyRound(box[1] * h), pyRound(box[2] * w),
    pyRound(box[3] * h));
}

// Image.rotate(degrees, BILINEAR, center=...): the affine matrix as Image.rotate builds it
// (rounded to 15 decimals), then Geometry.c's generic transform with bilinear_filter (edge
// rows and columns clamped, pixels that map outside the source are 0).
export function rotateBilinear(image, degrees, center = null) {
  const { width: w, height: h, channels, data } = image;
  let angle = degrees % 360.0;
  if (angle < 0) angle += 360.0;
  if (angle === 0 && center === null) return copyImage(image);
  const cx = center ? center[0] : w / 2;
  const cy = center ? center[1] : h / 2;
  const rad = -(angle * (Math.PI / 180));
  const a = pyRound15(Math.cos(rad));
  const b = pyRound15(Math.sin(rad));
  const d = pyRound15(-Math.sin(rad));
  const e = pyRound15(Math.cos(rad));
  let c = a * -cx + b * -cy + 0.0;
  let f = d * -cx + e * -cy + 0.0;
  c += cx;
  f += cy;
  const out = new Uint8Array(w * h * channels);
  const stride = w * channels;
  for (let y = 0; y < h; y++) {
    const yin0 = y + 0.5;
    for (let x = 0; x < w; x++) {
      const xin0 = x + 0.5;
      let xin = a * xin0 + b * yin0 + c;
      let yin = d * xin0 + e * yin0 + f;
      if (xin < 0.0 || xin >= w || yin < 0.0 || yin >= h) continue;
      xin -= 0.5;
      yin -= 0.5;
      const ix = Math.floor(xin);
      const iy = Math.floor(yin);
      const dx = xin - ix;
      const dy = yin - iy;
      const yc = iy < 0 ? 0 : iy < h ? iy : h - 1;
      const x0 = (ix < 0 ? 0 : ix < w ? ix : w - 1) * channels;
      const x1 = (ix + 1 < 0 ? 0 : ix + 1 < w ? ix + 1 : w - 1) * channels;
      const row0 = yc * stride;
      const hasRow1 = iy + 1 >= 0 && iy + 1 < h;
      const row1 = (iy + 1) * stride;
      const o = (y * w + x) * channels;
      for (let ch = 0; ch < channels; ch++) {
        const p0 = data[row0 + x0 + ch];
        const v1 = p0 + (data[row0 + x1 + ch] - p0) * dx;
        let v2 = v1;
        if (hasRow1) {
          const q0 = data[row1 + x0 + ch];
          v2 = q0 + (data[row1 + x1 + ch] - q0) * dx;
        }
        out[o + ch] = Math.trunc(v1 + (v2 - v1) * dy);
      }
    }
  }
  return makeImage(w, h, channels, out);
}

// media/reduce.reduce_to: at most `side` pixels a side, by a whole-factor box reduction
// first, then bilinear for the rest; as it is when small enough already.
export function reduceTo(image, side) {
  if (Math.max(image.width, image.height) <= side) return image;
  const factor = Math.floor(Math.max(image.width, image.height) / side);
  if (factor >= 2) image = reduce(image, factor);
  if (Math.max(image.width, image.height) <= side) return image;
  const scale = side / Math.max(image.width, image.height);
  return resizeBilinear(image, Math.max(1, pyRound(image.width * scale)),
    Math.max(1, pyRound(image.height * scale)));
}
