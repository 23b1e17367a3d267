"""Tables (rich) and the targets, from the results dict that is also written as JSON."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["evaluate_targets", "print_report"]

Row = dict[str, Any]


def _f(value: float | None, fmt: str = ".1f", suffix: str = "") -> str:
    return "-" if value is None else f"{value:{fmt}}{suffix}"


def _get(row: Row, *path: str) -> Any:
    value: Any = row
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _ttfb(row: Row) -> tuple[float | None, float | None]:
    """(TTFB p50, added TTFB p50): the sequential probe at concurrency 1, the run's streams otherwise."""
    if row.get("probe_ttfb_ms"):
        return _get(row, "probe_ttfb_ms", "p50"), _get(row, "added_probe_ttfb_ms", "p50")
    return _get(row, "ttfb_ms", "p50"), _get(row, "added_ttfb_ms", "p50")


# --------------------------------------------------------------------------------------------------
# Targets


def _worst(
    rows: Iterable[Row], value: Callable[[Row], float | None], ok: Callable[[float], bool], fmt: Callable[[float], str]
) -> tuple[str, bool | None]:
    measured = [(row, v) for row in rows if (v := value(row)) is not None]
    if not measured:
        return "not measured", None
    failing = [(row, v) for row, v in measured if not ok(v)]
    shown = failing or measured
    detail = ", ".join(f"{r['kind']}/{r['mode']}@{r['concurrency']}: {fmt(v)}" for r, v in shown)
    return detail, not failing


def _variant(rows: Iterable[Row], variant: str) -> list[Row]:
    return [r for r in rows if r.get("variant", "after") == variant]


def _same(row: Row, others: list[Row]) -> Row | None:
    """The row of the other version measured under the same conditions."""
    return next(
        (
            o
            for o in others
            if (o.get("kind"), o.get("mode"), o.get("run"), o["concurrency"])
            == (row.get("kind"), row.get("mode"), row.get("run"), row["concurrency"])
        ),
        None,
    )


def _floor_note(floors: dict[int, Row], row: Row) -> str:
    """The bare relay's CPU per token at the same concurrency, if measured: what this stack cannot go below."""
    floor = floors.get(row["concurrency"]) if row.get("kind") == "responses" else None
    return f" (bare relay {floor['cpu_us_per_token']:.1f})" if floor else ""


def _targets_of(results: dict[str, Any], variant: str) -> list[tuple[str, str, bool | None]]:
    relay: list[Row] = results.get("relay") or []
    live = [r for r in relay if r["mode"] in ("plain", "sse") and not r.get("skipped")]
    floors = {r["concurrency"]: r for r in relay if r["mode"] == "floor" and r.get("cpu_us_per_token")}
    rill = _variant(live, variant)
    before = _variant(live, "before") if variant == "after" else []
    targets: list[tuple[str, str, bool | None]] = []

    def add(name: str, measured: str, met: bool | None) -> None:
        targets.append((name, measured, met))

    if relay:
        heavy = [r for r in rill if r["concurrency"] >= 100]
        if before:
            ratios = []
            for r in heavy:
                b = _same(r, before)
                if b and r.get("cpu_us_per_token") and b.get("cpu_us_per_token"):
                    ratios.append((r, r["cpu_us_per_token"], b["cpu_us_per_token"]))
            detail = ", ".join(
                f"{r['mode']}@{r['concurrency']}: {a:.1f} vs {b:.1f} µs{_floor_note(floors, r)}" for r, a, b in ratios
            )
            add(
                "CPU per token ≤ half of the baseline's (runs of ≥ 100 streams)",
                detail or "not measured",
                all(a <= 0.5 * b for _, a, b in ratios) if ratios else None,
            )
        else:
            detail, met = _worst(
                heavy, lambda r: r.get("cpu_us_per_token"), lambda v: v <= 35.0, lambda v: f"{v:.1f} µs"
            )
            add("CPU per token ≤ 35 µs, half of the 67-79 µs before issue 13 (runs of ≥ 100 streams)", detail, met)
        at1000 = [r for r in rill if r["concurrency"] == 1000]
        detail, met = _worst(at1000, lambda r: _get(r, "window", "pct"), lambda v: v >= 99.0, lambda v: f"{v:.1f}%")
        add("1000 streams: ≥ 99% of the offered token rate", detail, met)
        detail, met = _worst(
            at1000, lambda r: _get(r, "added_delay_ms", "p99"), lambda v: v <= 25.0, lambda v: f"+{v:.1f} ms"
        )
        add("1000 streams: added per-token delay p99 ≤ 25 ms", detail, met)
        detail, met = _worst(
            [r for r in rill if r["concurrency"] == 500],
            lambda r: _get(r, "added_delay_ms", "p99"),
            lambda v: v <= 5.0,
            lambda v: f"+{v:.1f} ms",
        )
        add("500 streams: added per-token delay p99 ≤ 5 ms", detail, met)
        detail, met = _worst(
            [r for r in rill if r["concurrency"] == 2000],
            lambda r: float(r["failed"]),
            lambda v: v == 0,
            lambda v: f"{v:.0f} failed",
        )
        add("2000 streams: 0 failed streams", detail, met)
        detail, met = _worst(
            [r for r in rill if r["concurrency"] >= 100 and (_get(r, "window", "pct") or 0) >= 95.0],
            lambda r: r.get("kb_per_stream"),
            lambda v: v <= 64.0,
            lambda v: f"{v:.1f} KB",
        )
        add("≤ 64 KB memory per concurrent stream (relay runs of ≥ 100 streams at ≥ 95% of the rate)", detail, met)
        detail, met = _worst(
            [r for r in rill if r["concurrency"] == 1],
            lambda r: _ttfb(r)[1],
            lambda v: v <= 2.0,
            lambda v: f"+{v:.2f} ms",
        )
        add("concurrency 1: added time to first byte ≤ 2 ms (median of the probe)", detail, met)
    soak = [r for r in (results.get("soak") or {}).get("runs", []) if r.get("variant", "after") == variant]
    for run in soak:
        at = f"{run['mode']}@{run['concurrency']}, {run['duration_s']:.0f} s, TTL {run['ttl_s']:.0f} s"
        growth = run.get("rss_growth_mb_per_min")
        add(
            "soak: RSS flat once the event-log TTL has passed (growth ≤ 1 MB/min)",
            f"{at}: {'-' if growth is None else f'{growth:+.1f} MB/min'}",
            None if growth is None else growth <= 1.0,
        )
        settled = run.get("rss_settled_mb") or run["rss_peak_mb"]
        kb = (settled - run["rss_idle_mb"]) * 1024 / run["concurrency"]
        add(
            "soak: ≤ 64 KB per concurrent stream, finished replies still resumable included",
            f"{at}: {kb:.1f} KB",
            kb <= 64.0,
        )
        lag = (run.get("lag") or {}).get("max_ms")
        add("soak: max event-loop lag ≤ 20 ms", f"{at}: {_f(lag, '.1f', ' ms')}", None if lag is None else lag <= 20.0)
    runs = _variant((results.get("replicas") or {}).get("runs", []), variant)
    for streams in sorted({r["concurrency"] for r in runs}):
        mem = next((r for r in runs if r["run"] == "memory" and r["concurrency"] == streams), None)
        red = next((r for r in runs if r["run"] == "redis" and r["concurrency"] == streams), None)
        ab = next((r for r in runs if r["run"] == "redis-ab" and r["concurrency"] == streams), None)
        if mem and red and mem.get("cpu_us_per_token") and red.get("cpu_us_per_token"):
            ratio = red["cpu_us_per_token"] / mem["cpu_us_per_token"]
            add(
                f"Redis log, one replica, {streams} streams: CPU per token ≤ 1.3x the in-memory log",
                f"{ratio:.2f}x",
                ratio <= 1.3,
            )
        each = (ab or {}).get("cpu_us_per_token_each") or []
        if len(each) == 2 and each[0] and each[1]:
            ratio = each[1] / each[0]
            add(
                f"Redis A→B, {streams} streams: the replica serving a reply made elsewhere < half the generating one",
                f"B/A = {each[1]:.1f} / {each[0]:.1f} µs = {ratio:.2f}",
                ratio < 0.5,
            )
    embedded = results.get("embedded")
    if embedded and "error" not in embedded and variant == "after":
        ratio = embedded.get("ratio_pct")
        add(
            "embedded model: rillchat ≥ 95% of direct tokens/s",
            _f(ratio, ".1f", "%"),
            None if ratio is None else ratio >= 95.0,
        )
    browser = results.get("browser")
    if browser and "error" not in browser and variant == "after":
        limits = browser["targets_ms"]
        add(
            f"browser, 500 tokens/s with code blocks: longest main-thread task < {limits['longtask_max']:.0f} ms",
            _f(browser["longtask_max_ms"], ".1f", " ms"),
            browser["longtask_max_ms"] < limits["longtask_max"],
        )
        add(
            f"browser, 500 tokens/s with code blocks: frame time p95 ≤ {limits['frame_p95']:.0f} ms",
            _f(browser["frame_p95_ms"], ".1f", " ms"),
            browser["frame_p95_ms"] <= limits["frame_p95"],
        )
    return targets


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with what was measured and whether it is met, for ``after`` (and ``before`` if measured)."""
    variants = results.get("variants") or ["after"]
    by_variant = {v: _targets_of(results, v) for v in variants}
    out = []
    for name, measured, met in by_variant.get("after", []):
        row: dict[str, Any] = {"target": name, "measured": measured, "met": met}
        if "before" in by_variant:
            # Same target in the baseline's runs (same names; the CPU ratio target exists for "after" only).
            found = next(((m, ok) for n, m, ok in by_variant["before"] if n == name), None)
            row["before"] = {"measured": found[0], "met": found[1]} if found else None
        out.append(row)
    return out


# --------------------------------------------------------------------------------------------------
# Printing


def _mark(met: bool | None) -> str:
    return {True: "[green]met[/]", False: "[red]NOT met[/]", None: "[yellow]n/a[/]"}[met]


def relay_table(rows: list[Row]) -> Table:
    table = Table(title="RELAY: per-token delay = receive time - upstream send time; added = minus the direct row")
    versions = len({r.get("variant") for r in rows if r.get("variant")}) > 1
    for name in (
        "upstream",
        "mode",
        *(["version"] if versions else []),
        "streams",
        "failed",
        "rate %",
        "delay p50",
        "delay p99",
        "added p50",
        "added p99",
        "TTFB p50",
        "added TTFB",
        "µs/token",
        "KB/strm",
        "lag max",
        "lag>10ms",
        "rill cpu",
        "rill wait",
        "core1",
        "fake wait",
        "others",
    ):
        table.add_column(name, justify="left" if name in ("upstream", "mode", "version") else "right", no_wrap=True)
    for row in rows:
        version = [row.get("variant", "")] if versions else []
        if row.get("skipped"):
            table.add_row(
                row["kind"], row["mode"], *version, str(row["concurrency"]), "[yellow]skipped (time budget)[/]"
            )
            continue
        ttfb, added_ttfb = _ttfb(row)
        failed = str(row["failed"])
        if row["failed"]:
            failed = f"[red]{failed}[/] " + ",".join(f"{k}:{v}" for k, v in row["errors"].items())
        lag = row.get("lag") or {}
        table.add_row(
            row["kind"],
            row["mode"],
            *version,
            str(row["concurrency"]),
            failed,
            _f(_get(row, "window", "pct")),
            _f(_get(row, "delay_ms", "p50"), ".2f"),
            _f(_get(row, "delay_ms", "p99"), ".2f"),
            _f(_get(row, "added_delay_ms", "p50"), "+.2f"),
            _f(_get(row, "added_delay_ms", "p99"), "+.2f"),
            _f(ttfb, ".2f") + ("*" if row.get("probe_ttfb_ms") else ""),
            _f(added_ttfb, "+.2f"),
            _f(row.get("cpu_us_per_token")),
            _f(row.get("kb_per_stream")),
            _f(lag.get("max_ms")),
            _f(lag.get("over_10ms_pct"), ".2f", "%"),
            _f(row.get("rillchat_cpu_pct"), ".0f"),
            _f(row.get("rillchat_wait_pct"), ".0f"),
            _f(row.get("core1_load_pct"), ".0f"),
            _f(row.get("fake_wait_pct"), ".0f"),
            _f(row.get("other_cores"), ".2f"),
        )
    return table


def replicas_table(part: dict[str, Any]) -> Table:
    cfg = part["config"]
    table = Table(
        title=f"REPLICAS: SSE streams of {cfg['tokens']} tokens at {cfg['rate']:g}/s, the Redis"
        " event log against the in-memory one; added = minus the in-memory run"
    )
    for name in (
        "run",
        "streams",
        "failed",
        "rate %",
        "delay p50",
        "delay p99",
        "added p50",
        "added p99",
        "TTFB p50",
        "resume head",
        "µs/token",
        "per replica",
        "redis µs",
        "strm/core",
        "+redis",
        "c0 cpu",
        "c0 wait",
        "core1",
        "others",
    ):
        table.add_column(name, justify="left" if name == "run" else "right", no_wrap=True)
    for i, row in enumerate(part["runs"]):
        if i and row["concurrency"] != part["runs"][i - 1]["concurrency"]:
            table.add_section()
        failed = str(row["failed"])
        if row["failed"]:
            failed = f"[red]{failed}[/] " + ",".join(f"{k}:{v}" for k, v in row["errors"].items())
        each = row.get("cpu_us_per_token_each") or []
        table.add_row(
            row["label"],
            str(row["concurrency"]),
            failed,
            _f(_get(row, "window", "pct")),
            _f(_get(row, "delay_ms", "p50"), ".2f"),
            _f(_get(row, "delay_ms", "p99"), ".2f"),
            _f(_get(row, "added_delay_ms", "p50"), "+.2f"),
            _f(_get(row, "added_delay_ms", "p99"), "+.2f"),
            _f(_get(row, "ttfb_ms", "p50"), ".2f"),
            _f(_get(row, "resume_head_ms", "p50"), ".2f"),
            _f(row.get("cpu_us_per_token")),
            " + ".join(_f(v) for v in each) if len(each) > 1 else "",
            _f(row.get("redis_us_per_token")),
            _f(row.get("streams_per_core"), ".0f"),
            _f(row.get("streams_per_core_with_redis"), ".0f"),
            _f(row.get("core0_cpu_pct"), ".0f"),
            _f(row.get("core0_wait_pct"), ".0f"),
            _f(row.get("core1_load_pct"), ".0f"),
            _f(row.get("other_cores"), ".2f"),
        )
    return table


def _print_replicas(part: dict[str, Any], console: Console) -> None:
    if "error" in part:
        console.print(f"[red]replicas failed:[/] {part['error']}")
        return
    if part.get("skipped"):
        console.print(f"[yellow]replicas skipped:[/] {part['skipped']}")
        return
    if part.get("runs"):
        console.print(replicas_table(part))
    catchup = ""
    for ab in (r for r in part.get("runs", []) if r.get("resumed") is not None):
        c, f = ab.get("catchup_ms") or {}, ab.get("delay_first_ms") or {}
        catchup += (
            f"  A→B @{ab['concurrency']}: {ab['resumed']} streams resumed on B; the delay columns are the tokens"
            f" read live through B; the {c.get('n', 0)} sent before the resume request (catch-up) took p50"
            f" {_f(c.get('p50'), '.2f')} / p99 {_f(c.get('p99'), '.2f')} ms, the {f.get('n', 0)} read from A before"
            f" the drop p50 {_f(f.get('p50'), '.2f')} / p99 {_f(f.get('p99'), '.2f')} ms.\n"
        )
    console.print(
        "  times in ms; rate %, TTFB, core1 and others as in RELAY. resume head = GET /api/streams/{id} with"
        " Last-Event-ID on B -> its response head.\n"
        f"{catchup}"
        "  µs/token = CPU of all replicas (per replica: A + B) / tokens delivered; redis µs = redis-server's CPU"
        " / tokens (on core 1).\n"
        "  strm/core = 10^6 / (µs/token x rate): streams one core could carry at this CPU cost per token (an"
        " extrapolation); +redis = counting redis-server's CPU too.\n"
        "  c0 cpu / wait = % of the run the replicas spent on core 0 / runnable but waiting for it (summed over"
        " replicas)."
    )


def _print_soak(part: dict[str, Any], console: Console) -> None:
    if "error" in part:
        console.print(f"[red]soak failed:[/] {part['error']}")
        return
    runs = part.get("runs") or []
    summary = Table(title="SOAK: streams kept open for the whole run (each that ends is replaced at once)")
    for name in (
        "version",
        "mode",
        "streams",
        "seconds",
        "TTL s",
        "replies",
        "failed",
        "rate %",
        "delay p50",
        "delay p99",
        "µs/token",
        "RSS idle",
        "RSS peak",
        "RSS after TTL",
        "growth MB/min",
        "KB/strm",
        "lag max ms",
        "lag>10ms",
    ):
        summary.add_column(name, justify="left" if name in ("version", "mode") else "right", no_wrap=True)
    for run in runs:
        lag = run.get("lag") or {}
        settled = run.get("rss_settled_mb")
        summary.add_row(
            run["variant"],
            run["mode"],
            str(run["concurrency"]),
            _f(run["duration_s"], ".0f"),
            _f(run["ttl_s"], ".0f"),
            str(run["replies"]),
            str(run["failed"]),
            _f(_get(run, "window", "pct")),
            _f(_get(run, "delay_ms", "p50"), ".2f"),
            _f(_get(run, "delay_ms", "p99"), ".2f"),
            _f(run.get("cpu_us_per_token")),
            _f(run["rss_idle_mb"], ".0f"),
            _f(run["rss_peak_mb"], ".0f"),
            _f(settled, ".0f"),
            _f(run.get("rss_growth_mb_per_min"), "+.1f"),
            _f(((settled or run["rss_peak_mb"]) - run["rss_idle_mb"]) * 1024 / run["concurrency"]),
            _f(lag.get("max_ms")),
            _f(lag.get("over_10ms_pct"), ".2f", "%"),
        )
    console.print(summary)
    for run in runs:
        table = Table(title=f"SOAK over time ({run['variant']}): RSS and delay per window")
        for name in (
            "t (s)",
            "RSS MB",
            "replies held",
            "tokens/s",
            "rate %",
            "p50 ms",
            "p99 ms",
            "max ms",
            "lag p99 ≤",
            "lag>10ms",
        ):
            table.add_column(name, justify="right", no_wrap=True)
        for row in run.get("timeline") or []:
            table.add_row(
                _f(row["start_s"], ".0f"),
                _f(row.get("rss_mb"), ".0f"),
                _f(row.get("replies_held"), ".0f"),
                _f(row["tokens_per_s"], ".0f"),
                _f(row["rate_pct"]),
                _f(row["p50_ms"], ".2f"),
                _f(row["p99_ms"], ".2f"),
                _f(row["max_ms"], ".1f"),
                _f(row.get("lag_p99_le_ms"), ".1f", " ms"),
                _f(row.get("lag_over_10ms_pct"), ".2f", "%"),
            )
        console.print(table)
    console.print(
        "  delay = receive time - upstream send time (not minus the direct floor). RSS after TTL = mean RSS once"
        " the first finished replies have expired (from TTL + one stream's length + 10 s, skipping the first"
        " quarter); growth = its second half's mean minus its first half's, per minute. KB/strm = (RSS after TTL"
        " - RSS idle) / streams: each stream's share, finished replies still held included. replies held ="
        " rillchat_live_replies. lag p99 ≤ = the histogram bucket holding the window's 99th percentile."
    )


def browser_table(part: dict[str, Any]) -> Table:
    cfg, limits = part["config"], part["targets_ms"]
    table = Table(
        title=f"BROWSER: {cfg['tokens']} tokens with code blocks at {cfg['rate']:.0f} tokens/s in Chromium,"
        f" worst of {cfg['runs']} runs"
    )
    for name in ("measure", "measured", "target"):
        table.add_column(name, justify="right" if name != "measure" else "left")
    table.add_row("longest main-thread task (ms)", _f(part["longtask_max_ms"]), f"< {limits['longtask_max']:.0f}")
    table.add_row("long tasks per run (most)", _f(part["longtask_count_max"], ".0f"), "")
    table.add_row(
        "frame time p50 / p95 (ms)",
        f"{_f(part['frame_p50_ms'])} / {_f(part['frame_p95_ms'])}",
        f"p95 ≤ {limits['frame_p95']:.0f}",
    )
    table.add_row("frame time max (ms)", _f(part["frame_max_ms"]), "")
    table.add_row("page.evaluate round trip while streaming, max (ms)", _f(part["evaluate_roundtrip_ms_max"]), "")
    table.add_row("tokens/s received (median)", _f(part["tokens_per_s"]), "")
    table.add_row("final text as streamed", "yes" if part["same_text"] else "[red]NO[/]", "yes")
    return table


def print_report(results: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console(width=None if Console().is_terminal else 220)
    relay = results.get("relay")
    if relay:
        console.print(relay_table(relay))
        console.print(
            "  times in ms. rate % = tokens received in the steady window (after the ramp, before the first "
            "stream's end) / (streams x rate x window).\n"
            "  mode floor = bench.floor_relay, the bare relay (uvicorn + aiohttp + orjson, no features) on rillchat's"
            " core: what this stack costs before any of rillchat's work.\n"
            "  TTFB = request sent -> first body byte; * = median of sequential short requests at concurrency 1.\n"
            "  µs/token = rillchat user+sys over the run / tokens relayed (10 ms clock ticks: coarse at 1 stream).\n"
            "  KB/strm = (RSS at peak concurrency - RSS idle) / streams connected (under saturation most of them are"
            " still waiting to start).\n"
            "  lag max = largest event-loop lag since rillchat started (its /metrics; '-' for a version without"
            " it); lag>10ms = share of the 20 ms lag probes during the run that came > 10 ms late.\n"
            "  rill cpu / rill wait = % of the run rillchat spent on core 0 / runnable but waiting for it"
            " (/proc schedstat: contention).\n"
            "  core1 = % of a core used by the fake upstream + load generator + this process on the load core;"
            " fake wait = the fake's run-queue wait.\n"
            "  others = cores used meanwhile by processes outside the benchmark (a shared machine).\n"
            "  Rows marked skipped did not fit the time budget."
        )
    if results.get("relay_error"):
        console.print(f"[red]relay failed:[/] {results['relay_error']}")
    embedded = results.get("embedded")
    if embedded:
        if "error" in embedded:
            console.print(f"[red]embedded failed:[/] {embedded['error']}")
        else:
            runs = embedded["config"]["runs"]
            table = Table(title=f"EMBEDDED MODEL (median of {runs} alternating runs each, SSE, temperature 0)")
            for name in ("side", "tokens/s", "TTFT ms", "headers ms", "output tokens", "tokens/CPU-s", "core wait %"):
                table.add_column(name, justify="right" if name != "side" else "left")
            r, d = embedded["rillchat"], embedded["direct"]
            for label, side, headers in (("rillchat", r, _f(r.get("headers_ms"))), ("llama-cpp direct", d, "-")):
                table.add_row(
                    label,
                    _f(side["tokens_per_s"]),
                    _f(side["ttft_ms"]),
                    headers,
                    _f(side["tokens"], ".0f"),
                    _f(side.get("tokens_per_cpu_s")),
                    _f(side.get("wait_pct"), ".0f"),
                )
            table.add_row(
                "rillchat / direct",
                _f(embedded["ratio_pct"], ".1f", "%"),
                _f((r["ttft_ms"] or 0) - (d["ttft_ms"] or 0), "+.1f") if r["ttft_ms"] and d["ttft_ms"] else "-",
                "",
                "same text" if embedded["same_text"] else "[yellow]texts differ[/]",
                _f(embedded.get("cpu_ratio_pct"), ".1f", "%"),
                "",
            )
            console.print(table)
    browser = results.get("browser")
    if browser:
        if "error" in browser:
            console.print(f"[red]browser failed:[/] {browser['error']}")
        else:
            console.print(browser_table(browser))
    resume = results.get("resume")
    if resume:
        if "error" in resume:
            console.print(f"[red]resume failed:[/] {resume['error']}")
        else:
            h, m = resume["http"], resume["memory"]
            repeats = resume["config"]["repeats"]
            table = Table(title=f"RESUME: GET /api/streams/{{id}}, Last-Event-ID: 0, {h['events']} events, x{repeats}")
            for name in ("measure", "median", "p95", "min", "max"):
                table.add_column(name, justify="right" if name != "measure" else "left")
            for label, key in (("time to first byte (ms)", "ttfb_ms"), ("read all events (ms)", "read_all_ms")):
                s = h[key]
                table.add_row(
                    label, _f(s["median"], ".2f"), _f(s["p95"], ".2f"), _f(s["min"], ".2f"), _f(s["max"], ".2f")
                )
            console.print(table)
            console.print(
                f"  memory held by a finished reply's log (tracemalloc, {m['replies']} logs of {m['events_per_reply']}"
                f" events): {m['kb_per_reply']:.1f} KB per reply, {m['bytes_per_event']:.0f} bytes per event"
            )
            held = resume.get("held")
            if held:
                console.print(
                    f"  a finished reply held by the server ({held['replies']} replies of {held['tokens']} tokens,"
                    f" in-process): {held['bytes_per_reply']:.0f} bytes, {held['beyond_text_bytes']:.0f} of them beyond"
                    f" its text; {held['tracked_objects_per_reply']:.1f} objects tracked by the cyclic collector"
                )
    replicas = results.get("replicas")
    if replicas:
        _print_replicas(replicas, console)
    profile = results.get("profile")
    if profile:
        if "error" in profile:
            console.print(f"[red]profile failed:[/] {profile['error']}")
        else:
            cfg = profile["config"]
            table = Table(
                title=f"PROFILE: py-spy {cfg['duration_s']} s at {cfg['rate_hz']} Hz, {cfg['streams']} SSE streams "
                f"({profile['samples']} busy samples = {profile['busy_pct']:.0f}% of the time)"
            )
            table.add_column("self %", justify="right")
            table.add_column("function (file)")
            for row in profile["top"]:
                table.add_row(f"{row['pct']:.1f}", row["name"])
            console.print(table)
            packages = ", ".join(f"{p['name']} {p['pct']:.0f}%" for p in profile["packages"])
            console.print(f"  self time by package: {packages}")
            inclusive = ", ".join(
                f"{p['name'].split(' (')[0]} {p['pct']:.0f}%" for p in profile["rillchat_inclusive"][:10]
            )
            console.print(f"  inclusive time of rillchat's own functions: {inclusive}")
            console.print(f"  collapsed stacks: {profile['collapsed_stacks']} (speedscope.app opens them)")
    soak = results.get("soak")
    if soak:
        _print_soak(soak, console)
    targets = results.get("targets") or []
    if targets:
        compared = any("before" in t for t in targets)
        table = Table(
            title="TARGETS" + (" (before = the --baseline version, measured alternately)" if compared else "")
        )
        table.add_column("target")
        if compared:
            table.add_column("before")
            table.add_column("")
        table.add_column(
            "after: measured (worst runs, or failing ones)" if compared else "measured (worst runs, or failing ones)"
        )
        table.add_column("")
        for t in targets:
            cells = [t["target"]]
            if compared:
                b = t.get("before") or {}
                cells += [b.get("measured", "-"), _mark(b.get("met")) if b else ""]
            table.add_row(*cells, t["measured"], _mark(t["met"]))
        console.print(table)
    if "wall_s" in results:
        console.print(f"total wall time: {results['wall_s']:.0f} s; JSON: {results.get('json_path', '-')}")
