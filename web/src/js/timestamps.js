// Message times: relative ("3 min ago", "yesterday 14:02") with the exact local time on hover and for
// assistive technology, kept current by one timer for the whole page (not one per message).
import { h } from "./dom.js";

const exact = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "medium" });
const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayMonth = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
const fullDate = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", year: "numeric" });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "short" });

const startOfDay = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();

/** The short text for a moment, seen from `now`. */
export function relativeText(date, now = new Date()) {
  const seconds = Math.round((now.getTime() - date.getTime()) / 1000);
  if (seconds < 45) return "just now";
  if (seconds < 3600) return relative.format(-Math.round(seconds / 60), "minute");
  const days = Math.round((startOfDay(now) - startOfDay(date)) / 86_400_000);
  if (days === 0) return relative.format(-Math.round(seconds / 3600), "hour");
  if (days === 1) return `yesterday ${clock.format(date)}`;
  if (date.getFullYear() === now.getFullYear()) return `${dayMonth.format(date)}, ${clock.format(date)}`;
  return fullDate.format(date);
}

/** A <time> element for an ISO timestamp (or a Date); null when there is none. */
export function timeElement(value) {
  if (!value) return null;
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return null;
  const el = h("time", {
    class: "msg-time", datetime: date.toISOString(), title: exact.format(date), dataset: { testid: "message-time" },
  }, relativeText(date));
  return el;
}

/** Refreshes every relative time under `root` once a minute. */
export function keepTimesFresh(root) {
  setInterval(() => {
    const now = new Date();
    for (const el of root.querySelectorAll("time.msg-time")) {
      const text = relativeText(new Date(el.dateTime), now);
      if (el.textContent !== text) el.textContent = text;
    }
  }, 60_000);
}
