// Build of the hashing page's scripts (run by `make`, through `npm run build`).
//
// Why: the page must be ONE self-contained file that works from file:// with no network, so
// every script and npm package (pinned in package-lock.json) is bundled here, at build time,
// into two classic scripts: the page's (dist/page.js) and the hashing worker's
// (dist/worker.js, started from a blob: URL). `rempart hash-page` (rempart.web.hashpage)
// inlines them, with the style and the catalogues, into the HTML file and its CSP.
import { build } from "esbuild";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const common = {
  bundle: true,
  format: "iife",
  target: ["es2022"],
  platform: "browser",
  minify: true,
  legalComments: "inline",
  logLevel: "warning",
  charset: "utf8",
};

mkdirSync(join(here, "dist"), { recursive: true });
await build({ ...common, entryPoints: [join(here, "js", "page.js")], outfile: join(here, "dist", "page.js") });
await build({
  ...common,
  entryPoints: [join(here, "js", "worker.js")],
  outfile: join(here, "dist", "worker.js"),
});
