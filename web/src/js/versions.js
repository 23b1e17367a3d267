// The "< 2/3 >" switcher on a message that has several versions (regenerated replies, edited messages).
// Versions are branches of the conversation stored by the server; choosing one asks the server to show
// that branch (POST /api/conversations/{id}/select) and the conversation is redrawn from its answer.
import { h } from "./dom.js";

/**
 * The switcher for `message` (null when it has one version). `onSelect(message, versionId)` switches;
 * `busy` disables it (the server refuses to switch while a reply is being written).
 */
export function versionSwitcher(message, { busy, onSelect }) {
  const ids = message.versionIds ?? [];
  if (ids.length < 2) return null;
  const index = Math.max(0, ids.indexOf(message.id));
  const go = (step) => onSelect(message, ids[index + step]);
  const what = message.role === "user" ? "message" : "reply";
  return h("div", { class: "versions", role: "group", "aria-label": `Versions of this ${what}`, dataset: { testid: "versions" } },
    h("button", {
      type: "button", class: "btn btn-ghost btn-small version-step", dataset: { testid: "version-prev" },
      "aria-label": "Previous version", title: "Previous version", disabled: busy || index === 0, onclick: () => go(-1),
    }, "‹"),
    h("span", { class: "version-count", dataset: { testid: "version-count" } }, `${index + 1}/${ids.length}`),
    h("button", {
      type: "button", class: "btn btn-ghost btn-small version-step", dataset: { testid: "version-next" },
      "aria-label": "Next version", title: "Next version", disabled: busy || index === ids.length - 1, onclick: () => go(1),
    }, "›"));
}
