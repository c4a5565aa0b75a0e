// Build of the hashing page's scripts (run by `make`, through `npm run build`).
//
// Why: the page must be ONE self-contained file that works from file:// with no network, so
// every script and npm package (pinned in package-lock.json) is bundled here, at build time,
// into two classic scripts: the page's (dist/page.js) and the hashing worker's
// (dist/worker.js, started from a blob: URL). `rempart hash-page` (rempart.web.hashpage)
// inlines them, with the style and the catalogues, into the HTML file and its CSP.
import { build } from "esbuild";
import { existsSync, mkdirSync } from "node:fs";
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

// While the hashing modules are being written, a missing one is replaced by a stub whose
// functions fail with a clear error, so the page still builds; the build says so loudly.
const HASHING_MODULES = {
  "exact.js": ["digestFile"],
  "decode.js": ["decodeImage"],
  "photo.js": ["photoSignals"],
  "video.js": ["hashVideo"],
};
const stubbed = [];
const stubMissing = {
  name: "stub-missing-hashing-modules",
  setup(b) {
    b.onResolve({ filter: /^\.\/[a-z_]+\.js$/ }, (args) => {
      const name = args.path.slice(2);
      if (!(name in HASHING_MODULES) || existsSync(join(args.resolveDir, name))) return undefined;
      stubbed.push(name);
      return { path: name, namespace: "missing" };
    });
    b.onLoad({ filter: /.*/, namespace: "missing" }, (args) => ({
      resolveDir: join(here, "js"),
      contents:
        `import { HashError } from "./errors.js";\n` +
        HASHING_MODULES[args.path]
          .map((fn) => `export function ${fn}() { throw new HashError("undecodable", "${args.path} not built yet"); }`)
          .join("\n"),
    }));
  },
};

mkdirSync(join(here, "dist"), { recursive: true });
await build({ ...common, entryPoints: [join(here, "js", "page.js")], outfile: join(here, "dist", "page.js") });
await build({
  ...common,
  entryPoints: [join(here, "js", "worker.js")],
  outfile: join(here, "dist", "worker.js"),
  plugins: [stubMissing],
});
if (stubbed.length) {
  console.warn(`hashing page: NOT COMPLETE, missing modules replaced by stubs: ${[...new Set(stubbed)].join(", ")}`);
}
