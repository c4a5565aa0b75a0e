// WebM/Matroska demuxing for her videos (placeholder until the EBML reader lands).
import { HashError } from "./errors.js";

export async function openWebm() {
  throw new HashError("codec-unsupported", "WebM videos are not read by this page yet");
}
