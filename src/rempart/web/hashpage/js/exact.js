// MD5 and SHA-256 of a file's exact bytes, streamed, in plain JavaScript: her page needs the
// exact-copy hashes the CLI writes (md5, sha256 in the hash file), Web Crypto has no MD5 and
// no streaming digest, and a 2 GB video must be hashed without holding it in memory. Reading
// goes by chunks of a few MB (Blob.slice), so memory stays bounded whatever the file's size.
// Pure computation apart from Blob reads: Node runs it in the conformance tests.

import { HashError, throwIfCancelled } from "./errors.js";

export const CHUNK_BYTES = 4 * 1024 * 1024;

function hexOfWordsLE(words) {
  let hex = "";
  for (const w of words) {
    for (let b = 0; b < 32; b += 8) hex += ((w >>> b) & 0xff).toString(16).padStart(2, "0");
  }
  return hex;
}

function hexOfWordsBE(words) {
  let hex = "";
  for (const w of words) hex += (w >>> 0).toString(16).padStart(8, "0");
  return hex;
}

// Shared buffering for Merkle-Damgard hashes with 64-byte blocks: whole blocks are compressed
// straight from the caller's bytes, only a partial block is copied.
class BlockHash {
  constructor() {
    this.block = new Uint8Array(64);
    this.fill = 0;
    this.length = 0; // bytes so far (a double: exact up to 2^53)
    this.done = false;
  }

  update(data) {
    if (this.done) throw new Error("update() after hex()");
    const u8 = data instanceof Uint8Array ? data : new Uint8Array(data);
    let pos = 0;
    const n = u8.length;
    this.length += n;
    if (this.fill > 0) {
      const take = Math.min(64 - this.fill, n);
      this.block.set(u8.subarray(0, take), this.fill);
      this.fill += take;
      pos = take;
      if (this.fill < 64) return this;
      this.compress(this.block, 0);
      this.fill = 0;
    }
    while (pos + 64 <= n) {
      this.compress(u8, pos);
      pos += 64;
    }
    if (pos < n) {
      this.block.set(u8.subarray(pos), 0);
      this.fill = n - pos;
    }
    return this;
  }

  // Appends 0x80, zeros and the bit length (little- or big-endian 64 bits), compresses.
  pad(littleEndian) {
    const bits = this.length * 8;
    const lo = bits >>> 0;
    const hi = Math.floor(bits / 4294967296) >>> 0;
    const tail = new Uint8Array(this.fill < 56 ? 64 : 128);
    tail.set(this.block.subarray(0, this.fill));
    tail[this.fill] = 0x80;
    const view = new DataView(tail.buffer);
    if (littleEndian) {
      view.setUint32(tail.length - 8, lo, true);
      view.setUint32(tail.length - 4, hi, true);
    } else {
      view.setUint32(tail.length - 8, hi, false);
      view.setUint32(tail.length - 4, lo, false);
    }
    for (let p = 0; p < tail.length; p += 64) this.compress(tail, p);
    this.done = true;
  }
}

// MD5 round constants and shifts (RFC 1321).
const MD5_K = new Int32Array(64);
for (let i = 0; i < 64; i++) MD5_K[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 4294967296) | 0;
const MD5_S = new Int32Array([7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21]);

function rotl(v, s) {
  return (v << s) | (v >>> (32 - s));
}

export class Md5 extends BlockHash {
  constructor() {
    super();
    this.h = new Int32Array([0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476]);
    this.x = new Int32Array(16);
  }

  compress(u8, p) {
    const x = this.x;
    for (let i = 0; i < 16; i++, p += 4) {
      x[i] = u8[p] | (u8[p + 1] << 8) | (u8[p + 2] << 16) | (u8[p + 3] << 24);
    }
    const h = this.h;
    let a = h[0];
    let b = h[1];
    let c = h[2];
    let d = h[3];
    let t;
    for (let i = 0; i < 16; i++) {
      t = (a + ((b & c) | (~b & d)) + MD5_K[i] + x[i]) | 0;
      a = d;
      d = c;
      c = b;
      b = (b + rotl(t, MD5_S[i & 3])) | 0;
    }
    for (let i = 16; i < 32; i++) {
      t = (a + ((d & b) | (~d & c)) + MD5_K[i] + x[(5 * i + 1) & 15]) | 0;
      a = d;
      d = c;
      c = b;
      b = (b + rotl(t, MD5_S[4 + (i & 3)])) | 0;
    }
    for (let i = 32; i < 48; i++) {
      t = (a + (b ^ c ^ d) + MD5_K[i] + x[(3 * i + 5) & 15]) | 0;
      a = d;
      d = c;
      c = b;
      b = (b + rotl(t, MD5_S[8 + (i & 3)])) | 0;
    }
    for (let i = 48; i < 64; i++) {
      t = (a + (c ^ (b | ~d)) + MD5_K[i] + x[(7 * i) & 15]) | 0;
      a = d;
      d = c;
      c = b;
      b = (b + rotl(t, MD5_S[12 + (i & 3)])) | 0;
    }
    h[0] = (h[0] + a) | 0;
    h[1] = (h[1] + b) | 0;
    h[2] = (h[2] + c) | 0;
    h[3] = (h[3] + d) | 0;
  }

  hex() {
    if (!this.done) this.pad(true);
    return hexOfWordsLE(this.h);
  }
}

// SHA-256 round constants (FIPS 180-4).
const SHA256_K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
  0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
  0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
  0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
  0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
  0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
  0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
  0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);

export class Sha256 extends BlockHash {
  constructor() {
    super();
    this.h = new Int32Array([
      0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
      0x5be0cd19,
    ]);
    this.w = new Int32Array(64);
  }

  compress(u8, p) {
    const w = this.w;
    for (let i = 0; i < 16; i++, p += 4) {
      w[i] = (u8[p] << 24) | (u8[p + 1] << 16) | (u8[p + 2] << 8) | u8[p + 3];
    }
    for (let i = 16; i < 64; i++) {
      const w15 = w[i - 15];
      const w2 = w[i - 2];
      const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
      const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    const h = this.h;
    let a = h[0];
    let b = h[1];
    let c = h[2];
    let d = h[3];
    let e = h[4];
    let f = h[5];
    let g = h[6];
    let hh = h[7];
    for (let i = 0; i < 64; i++) {
      const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (hh + s1 + ch + SHA256_K[i] + w[i]) | 0;
      const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (s0 + maj) | 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h[0] = (h[0] + a) | 0;
    h[1] = (h[1] + b) | 0;
    h[2] = (h[2] + c) | 0;
    h[3] = (h[3] + d) | 0;
    h[4] = (h[4] + e) | 0;
    h[5] = (h[5] + f) | 0;
    h[6] = (h[6] + g) | 0;
    h[7] = (h[7] + hh) | 0;
  }

  hex() {
    if (!this.done) this.pad(false);
    return hexOfWordsBE(this.h);
  }
}

function readChunk(blob, start, end) {
  const reading = blob
    .slice(start, end)
    .arrayBuffer()
    .then(
      (buf) => {
        if (buf.byteLength !== end - start) {
          throw new HashError("read-failed", "the file changed while it was read", { offset: start });
        }
        return buf;
      },
      (err) => {
        const why = err && err.message ? err.message : String(err);
        throw new HashError("read-failed", `the file could not be read (${why})`, { offset: start });
      },
    );
  reading.catch(() => {}); // awaited later, or dropped when an earlier step failed
  return reading;
}

// {md5, sha256} of a Blob or File, read in chunks of CHUNK_BYTES (the next chunk is read
// while this one is hashed: two in memory at most). onProgress({done, total}) in bytes after
// each chunk; an aborted signal -> HashError("cancelled"); a file that cannot be read (moved
// or deleted while hashing) -> HashError("read-failed").
export async function digestFile(blob, { onProgress, signal, chunkBytes = CHUNK_BYTES } = {}) {
  const md5 = new Md5();
  const sha256 = new Sha256();
  const total = blob.size;
  let next = total > 0 ? readChunk(blob, 0, Math.min(total, chunkBytes)) : null;
  for (let start = 0; start < total; start += chunkBytes) {
    throwIfCancelled(signal);
    const end = Math.min(total, start + chunkBytes);
    const buf = await next;
    next = end < total ? readChunk(blob, end, Math.min(total, end + chunkBytes)) : null;
    const u8 = new Uint8Array(buf);
    md5.update(u8);
    sha256.update(u8);
    if (onProgress) onProgress({ done: end, total });
  }
  throwIfCancelled(signal);
  return { md5: md5.hex(), sha256: sha256.hex() };
}
