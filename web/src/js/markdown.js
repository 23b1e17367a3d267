// Markdown -> sanitized DOM. Model output is untrusted: markdown-it runs with raw HTML off (so `<script>`
// or `<img onerror>` in a reply shows as text), and DOMPurify cleans the result anyway (no script/style/
// iframe, no event handlers, no javascript: URLs). Links open in a new tab with rel="noopener noreferrer".
// Images are shown as links, not loaded: a reply must not make the browser fetch arbitrary URLs (that
// is a known way to leak the conversation through a prompt injection).
import DOMPurify from "dompurify";
import MarkdownIt from "markdown-it";
import { h } from "./dom.js";
import { highlight } from "./highlight.js";

const md = new MarkdownIt({ html: false, linkify: true, typographer: false, breaks: false });
const escape = md.utils.escapeHtml;

// Code blocks: a header with the language and a Copy button (clicks are delegated, see messages.js).
md.renderer.rules.fence = (tokens, idx) => {
  const token = tokens[idx];
  const lang = fenceLanguage(token.info);
  const code = token.content;
  const highlighted = highlight(code, lang);
  const body = highlighted ?? escape(code);
  const cls = lang ? ` class="hljs language-${escape(lang)}"` : ` class="hljs"`;
  return (
    `<div class="code-block"><div class="code-head"><span class="code-lang">${escape(lang || "text")}</span>` +
    `<button type="button" class="code-copy" data-testid="copy-code" aria-label="Copy code">Copy</button></div>` +
    `<pre><code${cls}>${body}</code></pre></div>\n`
  );
};

// Images become links (see above).
md.renderer.rules.image = (tokens, idx) => {
  const token = tokens[idx];
  const src = token.attrGet("src") || "";
  const alt = token.content || src;
  return `<a href="${escape(src)}" class="image-link">Image: ${escape(alt)}</a>`;
};

// Table alignment: a class instead of an inline style attribute (so a strict CSP needs no unsafe-inline).
md.core.ruler.push("align_class", (state) => {
  for (const token of state.tokens) {
    if (token.type !== "th_open" && token.type !== "td_open") continue;
    const style = token.attrGet("style");
    if (!style) continue;
    const m = /text-align:\s*(left|right|center)/.exec(style);
    token.attrs = token.attrs.filter(([name]) => name !== "style");
    if (m) token.attrJoin("class", `align-${m[1]}`);
  }
});

// Wide tables scroll inside their own box instead of widening the page.
md.renderer.rules.table_open = () => '<div class="table-wrap"><table>\n';
md.renderer.rules.table_close = () => "</table></div>\n";

// Made on first use, so this module (and the block splitter that imports it) loads without a DOM:
// the unit tests run in Node (web/test/).
let purifier = null;

function sanitize(html) {
  if (!purifier) {
    purifier = DOMPurify(window);
    purifier.addHook("afterSanitizeAttributes", (node) => {
      if (node.tagName === "A") {
        if (node.hasAttribute("href")) {
          node.setAttribute("target", "_blank");
          node.setAttribute("rel", "noopener noreferrer");
        } else {
          node.removeAttribute("target");
        }
      }
    });
  }
  return purifier.sanitize(html, PURIFY);
}

const PURIFY = {
  RETURN_DOM_FRAGMENT: true,
  FORBID_TAGS: [
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "link", "meta", "base", "form",
    "input", "textarea", "select", "option", "img", "picture", "video", "audio", "source", "svg", "math",
  ],
  FORBID_ATTR: ["style", "srcset", "action", "formaction"],
  ALLOW_DATA_ATTR: true,
  ALLOW_UNKNOWN_PROTOCOLS: false,
};

/** Renders markdown source to a sanitized DocumentFragment. */
export function renderMarkdown(source) {
  return sanitize(md.render(source));
}

/** The language word of a fence's info string ("js {title}" -> "js"). */
export function fenceLanguage(info) {
  return (info ? md.utils.unescapeAll(info).trim() : "").split(/\s+/)[0].toLowerCase();
}

/** The same markup as a rendered fenced code block, empty: for a code block still being streamed. */
export function codeBlockShell(lang) {
  const code = h("code", { class: lang ? `hljs language-${lang}` : "hljs" });
  const block = h("div", { class: "code-block" },
    h("div", { class: "code-head" },
      h("span", { class: "code-lang" }, lang || "text"),
      h("button", { type: "button", class: "code-copy", dataset: { testid: "copy-code" }, "aria-label": "Copy code" }, "Copy")),
    h("pre", {}, code));
  return { block, code };
}

/** Highlighted, sanitized code as a fragment (plain text when the language is unknown). */
export function highlightFragment(code, lang) {
  const html = highlight(code, lang);
  if (html === null) return document.createTextNode(code);
  return sanitize(html);
}
