// Runs demux_mp4.js / demux_webm.js in Node for test_video_demux.py: reads a JSON list of file
// paths on stdin, writes per file what the demuxer found: {container, codec, width, height,
// duration, rate, colour, sizes: [bytes of each frame in file order], keys: [frame numbers of
// key frames], timestamps: [µs], md5: MD5 of all frame bytes} or {error: {code, message}}.
import { createHash } from "node:crypto";
import { closeSync, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import { openMp4 } from "../../../src/rempart/web/hashpage/js/demux_mp4.js";
import { openWebm } from "../../../src/rempart/web/hashpage/js/demux_webm.js";

const paths = JSON.parse(readFileSync(0, "utf8"));
const out = [];
for (const path of paths) {
  const fd = openSync(path, "r");
  const size = fstatSync(fd).size;
  let reads = 0;
  let largest = 0;
  const read = async (offset, length) => {
    const buf = Buffer.alloc(Math.max(0, Math.min(length, size - offset)));
    readSync(fd, buf, 0, buf.length, offset);
    reads++;
    largest = Math.max(largest, buf.length);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
  };
  try {
    const head = await read(0, 4);
    const webm = head[0] === 0x1a && head[1] === 0x45;
    const d = webm ? await openWebm(read, size) : await openMp4(read, size);
    const sizes = [];
    const keys = [];
    const timestamps = [];
    const md5 = createHash("md5");
    for await (const c of d.chunks()) {
      if (c.key) keys.push(sizes.length);
      sizes.push(c.data.length);
      timestamps.push(c.timestamp);
      md5.update(c.data);
    }
    out.push({ container: d.container, codec: d.codec, width: d.width, height: d.height,
      duration: d.duration, rate: d.rate, colour: d.colour, sizes, keys, timestamps,
      md5: md5.digest("hex"), reads, largest });
  } catch (err) {
    out.push({ error: { code: err.code || "bug", message: String(err.message || err) } });
  } finally {
    closeSync(fd);
  }
}
process.stdout.write(JSON.stringify(out));
