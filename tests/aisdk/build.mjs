// Bundles page.jsx once per AI SDK major (5, 6, 7) into dist/v<N>.js, with an HTML page each: no CDN.
import { mkdirSync, writeFileSync } from "node:fs";
import * as esbuild from "esbuild";

const VERSIONS = ["5", "6", "7"];
mkdirSync("dist", { recursive: true });
await Promise.all(
  VERSIONS.map(async (v) => {
    await esbuild.build({
      entryPoints: ["page.jsx"],
      bundle: true,
      outfile: `dist/v${v}.js`,
      format: "iife",
      jsx: "automatic",
      target: "es2022",
      // The page and every package it pulls in see this version as "ai" and "@ai-sdk/react".
      alias: { ai: `ai${v}`, "@ai-sdk/react": `ai-sdk-react${v}` },
      define: { "process.env.NODE_ENV": '"production"' },
      logLevel: "warning",
    });
    const html = `<!doctype html><meta charset="utf-8"><title>useChat v${v}</title><div id="root"></div><script src="v${v}.js"></script>\n`;
    writeFileSync(`dist/v${v}.html`, html);
  }),
);
