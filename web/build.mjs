// Builds the browser UI into ../src/rillchat/web/static/ (served by rillchat at "/").
//
//   npm ci && npm run build      one-shot production build
//   npm run watch                rebuild on change (development)
//
// Output: index.html, guide.html, app.js, app.css, guide.js (+ .map files). Everything the pages load
// is in that folder: no CDN, no inline <script> or <style>, so a strict Content-Security-Policy works.
import { createHash } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, "src");
const out = resolve(here, "..", "src", "rillchat", "web", "static");
const watch = process.argv.includes("--watch");

const options = {
  // app.js and app.css share the name "app": esbuild tells them apart by extension.
  entryPoints: [
    { in: join(src, "js", "main.js"), out: "app" },
    { in: join(src, "js", "guide.js"), out: "guide" },
    { in: join(src, "css", "app.css"), out: "app" },
  ],
  outdir: out,
  bundle: true,
  format: "esm",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  minify: !watch,
  sourcemap: "linked",
  legalComments: "linked",
  charset: "utf8",
  logLevel: "info",
};

const pages = ["index.html", "guide.html"];
const copies = ["favicon.svg"];

/** Copies the HTML pages, stamping ?v=<content hash> on the assets so a rebuild is never served stale. */
async function writePages() {
  const version = {};
  for (const asset of ["app.js", "app.css", "guide.js"]) {
    const body = await readFile(join(out, asset));
    version[asset] = createHash("sha256").update(body).digest("hex").slice(0, 12);
  }
  for (const page of pages) {
    let html = await readFile(join(src, page), "utf8");
    html = html.replace(/(href|src)="\.\/(app\.js|app\.css|guide\.js)"/g, (_, attr, asset) => `${attr}="./${asset}?v=${version[asset]}"`);
    await writeFile(join(out, page), html);
  }
  for (const file of copies) await writeFile(join(out, file), await readFile(join(src, file)));
}

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });

if (watch) {
  const ctx = await esbuild.context({
    ...options,
    plugins: [{ name: "pages", setup(b) { b.onEnd(async (r) => { if (!r.errors.length) await writePages(); }); } }],
  });
  await ctx.watch();
  console.log(`watching ${src} -> ${out}`);
} else {
  await esbuild.build(options);
  await writePages();
  console.log(`built ${out}`);
}
