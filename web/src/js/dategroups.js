// Groups conversations by when they were last active, the way chat apps list them: Today, Yesterday,
// Previous 7 days, Older. Calendar days in the browser's time zone, not 24-hour spans: a conversation
// from 23:50 is "Yesterday" at 00:10.

export const GROUPS = [
  { id: "today", label: "Today" },
  { id: "yesterday", label: "Yesterday" },
  { id: "week", label: "Previous 7 days" },
  { id: "older", label: "Older" },
];

function startOfDay(date) {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate());
}

/** Which group a moment (ISO string or Date) belongs to, seen from `now`. Unknown dates count as today. */
export function groupOf(moment, now = new Date()) {
  const when = moment instanceof Date ? moment : new Date(moment);
  if (Number.isNaN(when.getTime())) return "today";
  const today = startOfDay(now);
  const day = startOfDay(when);
  // Whole calendar days between the two (rounded: a DST change makes a day 23 or 25 hours).
  const days = Math.round((today - day) / 86_400_000);
  if (days <= 0) return "today";
  if (days === 1) return "yesterday";
  if (days <= 7) return "week";
  return "older";
}

/**
 * Splits `conversations` (newest first) into the non-empty groups, keeping their order:
 * [{id, label, items: [...]}, ...].
 */
export function groupByDate(conversations, now = new Date()) {
  const byId = new Map(GROUPS.map((g) => [g.id, { ...g, items: [] }]));
  for (const conv of conversations) byId.get(groupOf(conv.updatedAt ?? conv.createdAt, now)).items.push(conv);
  return [...byId.values()].filter((g) => g.items.length);
}
