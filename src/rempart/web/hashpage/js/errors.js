// The one error type every hashing module throws, so the worker can tell the page WHY a file
// could not be hashed (a code the page translates, and a message naming the file's problem)
// instead of an opaque crash: nothing she chose is ever lost silently.
//
// Codes:
//   not-media          neither a picture nor a video (checked on the first bytes)
//   undecodable        a picture or video the browser cannot read (damaged, truncated, ...)
//   too-large          over the pixel or size limits rempart.media.decode also applies
//   heic-unsupported   an iPhone HEIC/HEIF photo this browser cannot decode
//   codec-unsupported  a video codec or container this browser cannot decode
//   read-failed        the file could not be read (moved or deleted while hashing)
//   cancelled          she pressed cancel

export const ERROR_CODES = Object.freeze([
  "not-media",
  "undecodable",
  "too-large",
  "heic-unsupported",
  "codec-unsupported",
  "read-failed",
  "cancelled",
]);

export class HashError extends Error {
  constructor(code, message, details = {}) {
    super(message || code);
    this.name = "HashError";
    this.code = ERROR_CODES.includes(code) ? code : "undecodable";
    this.details = details;
  }
}

// Any thrown value -> {code, message}: a HashError keeps its code; an abort is "cancelled";
// anything else (a bug, a browser refusal) is "undecodable" with its message kept.
export function toHashError(err) {
  if (err instanceof HashError) return err;
  if (err && (err.name === "AbortError" || err.code === "cancelled")) {
    return new HashError("cancelled", "cancelled");
  }
  if (err && err.name === "NotReadableError") {
    return new HashError("read-failed", String(err.message || err));
  }
  const message = err && err.message ? err.message : String(err);
  return new HashError("undecodable", message);
}

// Throws HashError("cancelled") when the signal was aborted: called between chunks and frames.
export function throwIfCancelled(signal) {
  if (signal && signal.aborted) throw new HashError("cancelled", "cancelled");
}
