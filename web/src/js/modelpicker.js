// The model picker's options: models grouped by upstream (an <optgroup> each when there are several),
// the models of an upstream that does not answer shown disabled with the reason, and an upstream that
// never answered (so no model is known) shown as one disabled line.
import { h } from "./dom.js";

function optionTitle(m, upstream) {
  const parts = [m.upstreamModel && m.upstreamModel !== m.id ? `${m.id} (${m.upstreamModel})` : m.id];
  const caps = m.capabilities ?? {};
  if (caps.reasoning) parts.push("reasons before answering");
  if (caps.contextLength) parts.push(`${caps.contextLength.toLocaleString("en")} tokens of context`);
  if (!m.available) parts.push(`unavailable: ${upstream?.reason ?? "its server does not answer"}`);
  return parts.join(" · ");
}

/** Fills `select` from GET /api/models' `data` and `upstreams`; returns whether any model can be picked. */
export function renderModelOptions(select, models, upstreams = []) {
  const byName = new Map(upstreams.map((u) => [u.name, u]));
  const groups = new Map();
  for (const m of models) {
    if (!groups.has(m.upstream)) groups.set(m.upstream, []);
    groups.get(m.upstream).push(m);
  }
  for (const u of upstreams) if (u.available === false && !groups.has(u.name)) groups.set(u.name, []);
  const option = (m) => {
    const upstream = byName.get(m.upstream);
    const label = m.capabilities?.reasoning ? `${m.id} · thinks` : m.id;
    return h("option", {
      value: m.id,
      title: optionTitle(m, upstream),
      disabled: m.available === false,
      dataset: { upstream: m.upstream ?? "" },
    }, m.available === false ? `${label} (unavailable)` : label);
  };
  const unavailableLine = (u) =>
    h("option", { value: "", disabled: true, title: u.reason ?? "" }, `unavailable: ${u.reason ?? "no answer"}`);
  let children;
  if (groups.size <= 1 && !upstreams.some((u) => u.available === false)) {
    children = models.map(option);
  } else {
    children = [...groups].map(([name, list]) => {
      const upstream = byName.get(name);
      const down = upstream?.available === false;
      const group = h("optgroup", { label: down ? `${name} (unavailable)` : name, dataset: { testid: "model-group" } });
      group.append(...list.map(option));
      if (down && !list.length) group.append(unavailableLine(upstream));
      return group;
    });
  }
  if (!models.length) children.push(h("option", { value: "" }, "Default model"));
  select.replaceChildren(...children);
  return models.some((m) => m.available !== false);
}
