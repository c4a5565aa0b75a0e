// The Web Worker of the browser tests' harness page (test_decode_browser.py): decodes one
// file with decode.js, hashes its pixels with pdq.js and its bytes with exact.js, as the
// hashing page's worker does, and answers with everything the test compares with Python:
// {md5, sha256, width, height, notes, pdq, dihedral, rgbSha256, ms: {digest, decode, pdq}}
// or {error: {code, message}, ms} (ms: the steps done before it failed).
import { decodeImage } from "../../../src/rempart/web/hashpage/js/decode.js";
import { Sha256, digestFile } from "../../../src/rempart/web/hashpage/js/exact.js";
import { pdqDihedralFromRgb, pdqFromRgb } from "../../../src/rempart/web/hashpage/js/pdq.js";

self.onmessage = async (event) => {
  const { id, file, pixels = true } = event.data;
  const ms = {};
  try {
    let t = performance.now();
    const exact = await digestFile(file);
    ms.digest = performance.now() - t;
    t = performance.now();
    const decoded = await decodeImage(file);
    ms.decode = performance.now() - t;
    t = performance.now();
    const pdq = pdqFromRgb(decoded.rgb, decoded.width, decoded.height);
    ms.pdq = performance.now() - t;
    const dihedral = pdqDihedralFromRgb(decoded.rgb, decoded.width, decoded.height);
    const rgbSha256 = pixels ? new Sha256().update(decoded.rgb).hex() : null;
    self.postMessage({
      id, ...exact, width: decoded.width, height: decoded.height, notes: decoded.notes, pdq,
      dihedral, rgbSha256, ms,
    });
  } catch (err) {
    const error = { code: err.code || err.name, message: String(err.message) };
    self.postMessage({ id, error, ms });
  }
};
