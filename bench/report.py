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


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    relay: list[Row] = results.get("relay") or []
    rill = [r for r in relay if r["mode"] != "direct" and not r.get("skipped")]
    targets: list[dict[str, Any]] = []

    def add(name: str, measured: str, met: bool | None) -> None:
        targets.append({"target": name, "measured": measured, "met": met})

    if relay:
        detail, met = _worst(
            [r for r in rill if r["concurrency"] >= 100],
            lambda r: r.get("cpu_us_per_token"),
            lambda v: v <= 25.0,
            lambda v: f"{v:.1f} µs",
        )
        add("≤ 25 µs rillchat CPU per relayed token (runs of ≥ 100 streams)", detail, met)
        at1000 = [r for r in rill if r["concurrency"] == 1000]
        detail, met_rate = _worst(
            at1000, lambda r: _get(r, "window", "pct"), lambda v: v >= 99.0, lambda v: f"{v:.1f}%"
        )
        add("1000 streams: ≥ 99% of the offered token rate", detail, met_rate)
        detail, met_p99 = _worst(
            at1000, lambda r: _get(r, "added_delay_ms", "p99"), lambda v: v <= 25.0, lambda v: f"+{v:.1f} ms"
        )
        add("1000 streams: added per-token delay p99 ≤ 25 ms", detail, met_p99)
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
        add(
            "≤ 64 KB rillchat memory per concurrent stream (runs of ≥ 100 streams that kept ≥ 95% of the rate,"
            " i.e. had them all streaming at once)",
            detail,
            met,
        )
        detail, met = _worst(
            [r for r in rill if r["concurrency"] == 1],
            lambda r: _ttfb(r)[1],
            lambda v: v <= 2.0,
            lambda v: f"+{v:.2f} ms",
        )
        add("concurrency 1: added time to first byte ≤ 2 ms (median of the probe)", detail, met)
    embedded = results.get("embedded")
    if embedded and "error" not in embedded:
        ratio = embedded.get("ratio_pct")
        add(
            "embedded model: rillchat ≥ 95% of direct tokens/s",
            _f(ratio, ".1f", "%"),
            None if ratio is None else ratio >= 95.0,
        )
    return targets


# --------------------------------------------------------------------------------------------------
# Printing


def _mark(met: bool | None) -> str:
    return {True: "[green]met[/]", False: "[red]NOT met[/]", None: "[yellow]n/a[/]"}[met]


def relay_table(rows: list[Row]) -> Table:
    table = Table(title="RELAY: per-token delay = receive time - upstream send time; added = minus the direct row")
    for name in (
        "upstream",
        "mode",
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
        "rill cpu",
        "rill wait",
        "core1",
        "fake wait",
        "others",
    ):
        table.add_column(name, justify="left" if name in ("upstream", "mode") else "right", no_wrap=True)
    for row in rows:
        if row.get("skipped"):
            table.add_row(row["kind"], row["mode"], str(row["concurrency"]), "[yellow]skipped (time budget)[/]")
            continue
        ttfb, added_ttfb = _ttfb(row)
        failed = str(row["failed"])
        if row["failed"]:
            failed = f"[red]{failed}[/] " + ",".join(f"{k}:{v}" for k, v in row["errors"].items())
        table.add_row(
            row["kind"],
            row["mode"],
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


def print_report(results: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console(width=None if Console().is_terminal else 220)
    relay = results.get("relay")
    if relay:
        console.print(relay_table(relay))
        console.print(
            "  times in ms. rate % = tokens received in the steady window (after the ramp, before the first "
            "stream's end) / (streams x rate x window).\n"
            "  TTFB = request sent -> first body byte; * = median of sequential short requests at concurrency 1.\n"
            "  µs/token = rillchat user+sys over the run / tokens relayed (10 ms clock ticks: coarse at 1 stream).\n"
            "  KB/strm = (RSS at peak concurrency - RSS idle) / streams connected (under saturation most of them are"
            " still waiting to start).\n"
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
    targets = results.get("targets") or []
    if targets:
        table = Table(title="TARGETS")
        table.add_column("target")
        table.add_column("measured (worst runs, or failing ones)")
        table.add_column("")
        for t in targets:
            table.add_row(t["target"], t["measured"], _mark(t["met"]))
        console.print(table)
    if "wall_s" in results:
        console.print(f"total wall time: {results['wall_s']:.0f} s; JSON: {results.get('json_path', '-')}")
