// PDQ, Meta's perceptual image hash, in plain JavaScript so that her browser computes the same
// hash as the CLI (pdqhash, which wraps Meta's C++ reference) from the same pixels, bit for bit.
//
// Why it looks the way it does:
// - The C++ reference works in float32. Every float operation is emulated here: values live in
//   Float32Array slots (a store rounds to float32) or go through Math.fround. A float32 +, -, *
//   or / done in double precision then rounded once equals the float32 operation exactly.
// - Luma is computed as pdqhash's Python wrapper does it (in float64 by numpy, then cast to
//   float32), not as the C++ fillFloatLumaFromRGB does (in float32): pdqhash is the reference.
// - The Jarosz tent filter (two passes of box filters along rows then columns) is streamed row
//   by row: each column's running sum sees exactly the same sequence of float32 additions and
//   subtractions as in the reference, but only a window of rows is held, never a full-size
//   float copy of the image (a 48 Mpx photo would need 2 x 192 MB in the reference's layout).
// - pdqhash.compute keeps a 64x64 input as is (the reference's video-frame shortcut) while
//   compute_dihedral always filters; both behaviours are reproduced (pdqFromRgb and
//   pdqDihedralFromRgb).
// Pure computation: no DOM, no browser-only API, so Node runs it in the conformance tests.

const MIN_HASHABLE_DIM = 5;
const NUM_JAROSZ_XY_PASSES = 2;

// The order of rempart.signals.pdq.DIHEDRAL (and of pdqhash.compute_dihedral's results).
export const DIHEDRAL = [
  "original",
  "rotate90",
  "rotate180",
  "rotate270",
  "flip_vertical",
  "flip_horizontal",
  "transpose",
  "transverse",
];

// The 16x64 DCT matrix: a float32 scale factor times a double cosine, rounded to float32.
const DCT_MATRIX = (() => {
  const d = new Float32Array(16 * 64);
  const scale = Math.fround(Math.sqrt(2.0 / 64));
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 64; j++) {
      d[i * 64 + j] = scale * Math.cos((Math.PI / 2.0 / 64) * (i + 1) * (2 * j + 1));
    }
  }
  return d;
})();

export function jaroszWindowSize(oldDimension, newDimension) {
  return Math.floor((oldDimension + 2 * newDimension - 1) / (2 * newDimension));
}

// One row's box filter (the reference's box1DFloat with stride 1): `input` and `out` are
// Float32Arrays of the same length (distinct arrays).
export function boxRow(input, out, length, window) {
  const half = Math.floor((window + 2) / 2);
  const p1 = half - 1;
  const p2 = window - half + 1;
  const p3 = length - window;
  const p4 = half - 1;
  let li = 0;
  let ri = 0;
  let oi = 0;
  let sum = 0;
  let count = 0;
  for (let i = 0; i < p1; i++) {
    sum = Math.fround(sum + input[ri++]);
    count++;
  }
  for (let i = 0; i < p2; i++) {
    sum = Math.fround(sum + input[ri++]);
    count++;
    out[oi++] = sum / count;
  }
  for (let i = 0; i < p3; i++) {
    sum = Math.fround(sum + input[ri++]);
    sum = Math.fround(sum - input[li++]);
    out[oi++] = sum / count;
  }
  for (let i = 0; i < p4; i++) {
    sum = Math.fround(sum - input[li++]);
    count--;
    out[oi++] = sum / count;
  }
}

// The same box filter along one row, when only some outputs are read (the second pass: the
// decimation keeps 64 columns): the running sum takes every step, but only the outputs at
// the sorted indices `wanted` are divided out, into `picked`.
export function boxRowPicked(input, length, window, wanted, picked) {
  const half = Math.floor((window + 2) / 2);
  const p1 = half - 1;
  const p2 = window - half + 1;
  const p3 = length - window;
  const p4 = half - 1;
  const n = wanted.length;
  let next = 0;
  let li = 0;
  let ri = 0;
  let oi = 0;
  let sum = 0;
  let count = 0;
  for (let i = 0; i < p1; i++) {
    sum = Math.fround(sum + input[ri++]);
    count++;
  }
  for (let i = 0; i < p2; i++, oi++) {
    sum = Math.fround(sum + input[ri++]);
    count++;
    while (next < n && wanted[next] === oi) picked[next++] = sum / count;
  }
  for (let i = 0; i < p3; i++, oi++) {
    sum = Math.fround(sum + input[ri++]);
    sum = Math.fround(sum - input[li++]);
    while (next < n && wanted[next] === oi) picked[next++] = sum / count;
  }
  for (let i = 0; i < p4; i++, oi++) {
    sum = Math.fround(sum - input[li++]);
    count--;
    while (next < n && wanted[next] === oi) picked[next++] = sum / count;
  }
}

// The box filter along columns, fed one row at a time (top to bottom) and emitting output rows
// in order through `emit(rowIndex, Float32Array)`. It keeps the last `window` input rows in a
// ring, the only rows the running sums still have to subtract; the caller writes each input
// row straight into the ring (`slot()`, then `push()`).
class ColumnBox {
  constructor(numRows, numCols, window, emit) {
    this.numRows = numRows;
    this.numCols = numCols;
    this.window = window;
    this.emit = emit;
    const half = Math.floor((window + 2) / 2);
    this.p1 = half - 1;
    this.p12 = window; // p1 + p2
    this.sums = new Float32Array(numCols);
    this.out = new Float32Array(numCols);
    this.ring = [];
    for (let k = 0; k <= window; k++) this.ring.push(new Float32Array(numCols));
    this.count = 0;
    this.r = 0; // rows read
    this.o = 0; // rows written
  }

  // Where the next input row goes.
  slot() {
    return this.ring[this.r % this.ring.length];
  }

  push() {
    const { sums, out, numCols } = this;
    const r = this.r++;
    const row = this.ring[r % this.ring.length];
    const count = r < this.p12 ? ++this.count : this.count;
    if (r < this.p12) {
      if (r < this.p1) {
        for (let j = 0; j < numCols; j++) sums[j] += row[j];
        return;
      }
      for (let j = 0; j < numCols; j++) {
        sums[j] += row[j];
        out[j] = sums[j] / count;
      }
    } else {
      const old = this.ring[(r - this.window) % this.ring.length];
      for (let j = 0; j < numCols; j++) {
        sums[j] += row[j];
        sums[j] -= old[j];
        out[j] = sums[j] / count;
      }
    }
    this.emit(this.o++, out);
  }

  finish() {
    const { sums, out, numCols } = this;
    // Phase 4: the last rows, with a shrinking window.
    let li = this.numRows - this.window;
    while (this.o < this.numRows) {
      const old = this.ring[li % this.ring.length];
      li++;
      const count = --this.count;
      for (let j = 0; j < numCols; j++) {
        sums[j] -= old[j];
        out[j] = sums[j] / count;
      }
      this.emit(this.o++, out);
    }
  }
}

// Luma as pdqhash computes it: R*0.299 + G*0.587 + B*0.114 in double, rounded to float32.
export function lumaFromRgb(rgb, width, height) {
  const luma = new Float32Array(width * height);
  for (let i = 0, p = 0, n = width * height; i < n; i++, p += 3) {
    luma[i] = rgb[p] * 0.299 + rgb[p + 1] * 0.587 + rgb[p + 2] * 0.114;
  }
  return luma;
}

// The 64x64 downsample (Jarosz filter, then decimation at the cells' centres) of an image
// given row by row through `rowAt(i, Float32Array)`, which fills row i's luma.
function downsample64(rowAt, numRows, numCols) {
  const winAlongRows = jaroszWindowSize(numCols, 64);
  const winAlongCols = jaroszWindowSize(numRows, 64);
  const out = new Float32Array(64 * 64);
  const wantedRows = new Int32Array(64);
  const wantedCols = new Int32Array(64);
  for (let k = 0; k < 64; k++) {
    wantedRows[k] = Math.trunc(((k + 0.5) * numRows) / 64);
    wantedCols[k] = Math.trunc(((k + 0.5) * numCols) / 64);
  }
  let nextOut = 0;
  // Pass 2, columns, on the 64 columns the decimation reads; keeps the rows it reads.
  const cols2 = new ColumnBox(numRows, 64, winAlongCols, (i, row) => {
    while (nextOut < 64 && wantedRows[nextOut] === i) out.set(row, 64 * nextOut++);
  });
  // Pass 1, columns -> pass 2, rows (64 columns out) -> pass 2, columns.
  const cols1 = new ColumnBox(numRows, numCols, winAlongCols, (i, row) => {
    boxRowPicked(row, numCols, winAlongRows, wantedCols, cols2.slot());
    cols2.push();
  });
  const lumaRow = new Float32Array(numCols);
  for (let i = 0; i < numRows; i++) {
    rowAt(i, lumaRow);
    boxRow(lumaRow, cols1.slot(), numCols, winAlongRows); // pass 1, rows
    cols1.push();
  }
  cols1.finish();
  cols2.finish();
  return out;
}

function rgbRowReader(rgb, numCols) {
  return (i, row) => {
    for (let j = 0, p = i * numCols * 3; j < numCols; j++, p += 3) {
      row[j] = rgb[p] * 0.299 + rgb[p + 1] * 0.587 + rgb[p + 2] * 0.114;
    }
  };
}

function lumaRowReader(luma, numCols) {
  return (i, row) => row.set(luma.subarray(i * numCols, (i + 1) * numCols));
}

// Meta's heuristic quality (0-100): the count of significant gradients of the 64x64 image.
export function qualityOf64(b) {
  let gradientSum = 0;
  for (let i = 0; i < 63; i++) {
    for (let j = 0; j < 64; j++) {
      const diff = Math.fround(b[i * 64 + j] - b[(i + 1) * 64 + j]);
      gradientSum += Math.abs(Math.trunc(Math.fround(Math.fround(diff * 100) / 255)));
    }
  }
  for (let i = 0; i < 64; i++) {
    for (let j = 0; j < 63; j++) {
      const diff = Math.fround(b[i * 64 + j] - b[i * 64 + j + 1]);
      gradientSum += Math.abs(Math.trunc(Math.fround(Math.fround(diff * 100) / 255)));
    }
  }
  return Math.min(100, Math.trunc(gradientSum / 90));
}

// The 16x16 low-frequency block of the 2D DCT of a 64x64 image (B = D A D^T), float32.
export function dct64To16(a) {
  const d = DCT_MATRIX;
  const t = new Float32Array(16 * 64);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 64; j++) {
      let sum = 0;
      for (let k = 0; k < 64; k++) sum = Math.fround(sum + Math.fround(d[i * 64 + k] * a[k * 64 + j]));
      t[i * 64 + j] = sum;
    }
  }
  const b = new Float32Array(16 * 16);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 16; j++) {
      let sum = 0;
      for (let k = 0; k < 64; k++) sum = Math.fround(sum + Math.fround(t[i * 64 + k] * d[j * 64 + k]));
      b[i * 16 + j] = sum;
    }
  }
  return b;
}

// Torben Mogensen's median (as the reference computes it, on float32 values).
export function torben(m) {
  const n = m.length;
  let min = m[0];
  let max = m[0];
  for (let i = 1; i < n; i++) {
    if (m[i] < min) min = m[i];
    if (m[i] > max) max = m[i];
  }
  let less;
  let greater;
  let equal;
  let guess;
  let maxLtGuess;
  let minGtGuess;
  const half = Math.floor((n + 1) / 2);
  for (;;) {
    guess = Math.fround(Math.fround(min + max) / 2);
    less = 0;
    greater = 0;
    equal = 0;
    maxLtGuess = min;
    minGtGuess = max;
    for (let i = 0; i < n; i++) {
      const v = m[i];
      if (v < guess) {
        less++;
        if (v > maxLtGuess) maxLtGuess = v;
      } else if (v > guess) {
        greater++;
        if (v < minGtGuess) minGtGuess = v;
      } else {
        equal++;
      }
    }
    if (less <= half && greater <= half) break;
    if (less > greater) max = maxLtGuess;
    else min = minGtGuess;
  }
  if (less >= half) return maxLtGuess;
  if (less + equal >= half) return guess;
  return minGtGuess;
}

// Hex as Meta writes it: bit k set when coefficient k (row-major) is above the median; the
// 16-bit words from the last to the first, four hex digits each.
export function bitsToHex(b16x16) {
  const median = torben(b16x16);
  const words = new Uint16Array(16);
  for (let k = 0; k < 256; k++) {
    if (b16x16[k] > median) words[k >> 4] |= 1 << (k & 15);
  }
  let hex = "";
  for (let w = 15; w >= 0; w--) hex += words[w].toString(16).padStart(4, "0");
  return hex;
}

const ZERO_HEX = "0".repeat(64);

// The reference's dihedral transforms of the DCT block: each is a sign pattern, with or
// without a transpose.
function dihedralBlock(a, name) {
  const b = new Float32Array(256);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 16; j++) {
      const v = a[i * 16 + j];
      switch (name) {
        case "original":
          b[i * 16 + j] = v;
          break;
        case "rotate90":
          b[j * 16 + i] = j & 1 ? v : -v;
          break;
        case "rotate180":
          b[i * 16 + j] = (i + j) & 1 ? -v : v;
          break;
        case "rotate270":
          b[j * 16 + i] = i & 1 ? v : -v;
          break;
        case "flip_vertical": // the reference's FlipX
          b[i * 16 + j] = i & 1 ? v : -v;
          break;
        case "flip_horizontal": // FlipY
          b[i * 16 + j] = j & 1 ? v : -v;
          break;
        case "transpose": // FlipPlus1
          b[j * 16 + i] = v;
          break;
        case "transverse": // FlipMinus1
          b[j * 16 + i] = (i + j) & 1 ? -v : v;
          break;
        default:
          throw new Error(`unknown dihedral transform ${name}`);
      }
    }
  }
  return b;
}

function checkSize(length, perPixel, width, height) {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0) {
    throw new RangeError(`impossible image size ${width}x${height}`);
  }
  if (length < width * height * perPixel) {
    throw new RangeError(`pixel buffer too short for ${width}x${height}`);
  }
}

// The 64x64 luma a hash is computed from; `shortcut64` keeps a 64x64 input as is
// (pdqhash.compute does, compute_dihedral does not).
function image64(rowAt, copy64, width, height, shortcut64) {
  if (shortcut64 && width === 64 && height === 64) return copy64();
  return downsample64(rowAt, height, width);
}

// {block: the 16x16 DCT (Float32Array), quality} of an image given as float32 luma, or null
// when a side is under the reference's 5-pixel minimum.
export function pdqFloatFromLuma(luma, width, height, { shortcut64 = true } = {}) {
  checkSize(luma.length, 1, width, height);
  if (width < MIN_HASHABLE_DIM || height < MIN_HASHABLE_DIM) return null;
  const a = image64(lumaRowReader(luma, width), () => Float32Array.from(luma.subarray(0, 4096)),
    width, height, shortcut64);
  return { block: dct64To16(a), quality: qualityOf64(a) };
}

function pdqFloatFromRgb(rgb, width, height, shortcut64) {
  checkSize(rgb.length, 3, width, height);
  if (width < MIN_HASHABLE_DIM || height < MIN_HASHABLE_DIM) return null;
  const a = image64(rgbRowReader(rgb, width), () => lumaFromRgb(rgb, 64, 64), width, height,
    shortcut64);
  return { block: dct64To16(a), quality: qualityOf64(a) };
}

// pdqhash.compute on a luma image: {hex, quality}.
export function pdqFromLuma(luma, width, height) {
  const f = pdqFloatFromLuma(luma, width, height);
  return f ? { hex: bitsToHex(f.block), quality: f.quality } : { hex: ZERO_HEX, quality: 0 };
}

function dihedralFrom(f) {
  if (!f) return DIHEDRAL.map((name) => ({ name, hex: ZERO_HEX, quality: 0 }));
  return DIHEDRAL.map((name) => ({
    name,
    hex: bitsToHex(dihedralBlock(f.block, name)),
    quality: f.quality,
  }));
}

// pdqhash.compute_dihedral on a luma image: 8 x {name, hex, quality}.
export function pdqDihedralFromLuma(luma, width, height) {
  return dihedralFrom(pdqFloatFromLuma(luma, width, height, { shortcut64: false }));
}

// pdqhash.compute on RGB pixels (3 bytes a pixel, row-major): {hex, quality}.
export function pdqFromRgb(rgb, width, height) {
  const f = pdqFloatFromRgb(rgb, width, height, true);
  return f ? { hex: bitsToHex(f.block), quality: f.quality } : { hex: ZERO_HEX, quality: 0 };
}

// pdqhash.compute_dihedral on RGB pixels: 8 x {name, hex, quality} in DIHEDRAL order.
export function pdqDihedralFromRgb(rgb, width, height) {
  return dihedralFrom(pdqFloatFromRgb(rgb, width, height, false));
}

// Hamming distance between two PDQ hex strings.
export function hamming(aHex, bHex) {
  let d = 0;
  for (let k = 0; k < aHex.length; k += 8) {
    let x = (parseInt(aHex.slice(k, k + 8), 16) ^ parseInt(bHex.slice(k, k + 8), 16)) >>> 0;
    while (x) {
      x &= x - 1;
      d++;
    }
  }
  return d;
}
