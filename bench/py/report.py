"""Turns bench/out/<date>/results.jsonl into the comparison table and the plot.

Usage:
  python report.py table RESULTS.jsonl [--markdown]
  python report.py plot RESULTS.jsonl OUT.svg
  python report.py machine --python PY --rustc-version TEXT   (prints a JSON line)

Standard library only. Every figure comes from the JSON lines the measuring programs
printed; ratios are computed here so that the same run gives both sides.
"""
import json
import platform
import statistics
import subprocess
import sys
import time

# Targets of plugctl issue 7, per line.
RTT_VS_PEER = 10.0       # ours >= 10x faster than python-kasa
RTT_VS_FLOOR = 1.3       # ours <= 1.3x the floor's time
FLEET_N = 1000           # the fleet size the line-2 targets are judged at
FLEET_VS_PEER = 20.0     # ours >= 20x python-kasa's throughput
FLEET_VS_FLOOR = 0.70    # ours >= 70 % of the floor's throughput
FLAT_GROWTH = 1.25       # "flat": client CPU per request grows <= 25 % from N=100 to 10 000
CLI_VS_PEER = 100.0      # cold CLI >= 100x faster
HUB_RSS_MIB = 300.0      # hub peak RSS < 300 MiB
EMU_DEVICES = 10000      # 10 000 emulated devices ...
EMU_MIB = 500.0          # ... in < 500 MiB


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    pass
    return rows


def kind(r):
    return r.get("bench") or r.get("line")


def pick(rows, bench, impl=None, **kw):
    for r in rows:
        if kind(r) == bench and (impl is None or r.get("impl") == impl) and all(r.get(k) == v for k, v in kw.items()):
            return r
    return None


def num(x, unit=""):
    if x is None:
        return "—"
    if abs(x) >= 100000:
        s = f"{x / 1000:,.0f}k"
    elif abs(x) >= 100:
        s = f"{x:,.0f}"
    elif abs(x) >= 10:
        s = f"{x:.1f}"
    else:
        s = f"{x:.2f}"
    return s + unit


def lat(r, key="median_us", p99="p99_us", unit="µs"):
    if not r or r.get(key) is None:
        return "skipped" if r and r.get("skipped") else "—"
    return f"{num(r[key])} {unit} (p99 {num(r.get(p99))})"


def ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def yes(cond):
    return "—" if cond is None else ("yes" if cond else "**no**")


def both(a, b):
    return None if a is None or b is None else (a and b)


def build(rows):
    """Table rows: (line, what, ours, peer, floor, vs peer, vs floor, target, met)."""
    out, misses = [], []

    # Line 1.
    o, p, f = pick(rows, "rtt", "plugctl"), pick(rows, "rtt", "python-kasa"), pick(rows, "rtt", "floor")
    if o or p or f:
        om = o and o.get("median_us")
        sp = ratio(p and p.get("median_us"), om)
        fl = ratio(om, f and f.get("median_us"))
        m1 = None if sp is None else sp >= RTT_VS_PEER
        m2 = None if fl is None else fl <= RTT_VS_FLOOR
        out.append(("1", "get_sysinfo round trip, kept-open connection", lat(o), lat(p), lat(f),
                    f"{num(sp)}× faster" if sp else "—", f"{num(fl)}× floor time" if fl else "—",
                    f"≥{RTT_VS_PEER:g}× faster, ≤{RTT_VS_FLOOR}× floor", yes(both(m1, m2))))
        if m1 is False:
            why = ""
            fp = ratio(p and p.get("median_us"), f and f.get("median_us"))
            if fp is not None and fp < RTT_VS_PEER:
                why = (f"; the floor itself is only {fp:.1f}× faster than python-kasa: the emulator's own"
                       " reply time is inside every round trip")
            misses.append(f"line 1: {sp:.1f}× faster than python-kasa, target {RTT_VS_PEER:g}× (short by {RTT_VS_PEER / sp:.2f}×){why}")
        if m2 is False:
            misses.append(f"line 1: {fl:.2f}× the floor's time, target ≤ {RTT_VS_FLOOR}× (over by {fl / RTT_VS_FLOOR:.2f}×)")

    # Line 2.
    sizes = sorted({r["devices"] for r in rows if kind(r) == "fleet" and "devices" in r})
    for n in sizes:
        o = pick(rows, "fleet", "plugctl", devices=n)
        p = pick(rows, "fleet", "python-kasa", devices=n)
        f = pick(rows, "fleet", "floor", devices=n)
        orps = o and o.get("rps")
        vp = ratio(orps, p and p.get("rps"))
        vf = ratio(orps, f and f.get("rps"))
        target, met = "", "—"
        if n == FLEET_N:
            m1 = None if vp is None else vp >= FLEET_VS_PEER
            m2 = None if vf is None else vf >= FLEET_VS_FLOOR
            target, met = f"≥{FLEET_VS_PEER:g}× peer, ≥{FLEET_VS_FLOOR:.0%} floor", yes(both(m1, m2))
            if m1 is False:
                why = ""
                fp = ratio(f and f.get("rps"), p and p.get("rps"))
                if fp is not None and fp < FLEET_VS_PEER:
                    why = (f"; the floor itself reaches only {fp:.1f}× python-kasa's throughput: the emulator,"
                           " sharing the cores, caps every client")
                misses.append(f"line 2: N={n}: {vp:.1f}× python-kasa's throughput, target {FLEET_VS_PEER:g}× (short by {FLEET_VS_PEER / vp:.2f}×){why}")
            if m2 is False:
                misses.append(f"line 2: N={n}: {vf:.0%} of the floor's throughput, target {FLEET_VS_FLOOR:.0%}")
        out.append(("2", f"poll N={n:,} plugs at once: req/s (p99 latency)", rps(o), rps(p), rps(f),
                    f"{num(vp)}× throughput" if vp else "—", f"{vf:.0%} of floor" if vf else "—", target, met))
        u = pick(rows, "fleet", "python-kasa-update", devices=n)
        if u:
            vu = ratio(orps, u.get("rps"))
            out.append(("2", f"  N={n:,}, python-kasa as Home Assistant drives it (IotPlug.update())", "", rps(u), "",
                        f"{num(vu)}× throughput" if vu else "—", "", "(for reference)", "—"))
    cost = {n: (pick(rows, "fleet", "plugctl", devices=n) or {}).get("cpu_us_per_req") for n in sizes}
    known = [n for n in sizes if n >= 100 and cost.get(n)]
    if len(known) >= 2:
        lo, hi = known[0], known[-1]
        growth = cost[hi] / cost[lo]
        fc = {n: (pick(rows, "fleet", "floor", devices=n) or {}).get("cpu_us_per_req") for n in known}
        pc = {n: (pick(rows, "fleet", "python-kasa", devices=n) or {}).get("cpu_us_per_req") for n in known}
        fmt = lambda d: " → ".join(num(d.get(n)) for n in known)  # noqa: E731
        met = growth <= FLAT_GROWTH
        out.append(("2", f"client CPU µs per request, N={' → '.join(f'{n:,}' for n in known)}", fmt(cost), fmt(pc), fmt(fc),
                    "", "", f"flat (≤{FLAT_GROWTH}× growth)", f"{yes(met)} ({growth:.2f}×)"))
        if not met:
            misses.append(f"line 2: client CPU per request grows {growth:.2f}× from N={lo:,} to N={hi:,} (target ≤ {FLAT_GROWTH}×)")

    # Line 3.
    o, p = pick(rows, "cold_cli", "plugctl"), pick(rows, "cold_cli", "python-kasa")
    if o or p:
        sp = ratio(p and p.get("median_ms"), o and o.get("median_ms"))
        m = None if sp is None else sp >= CLI_VS_PEER
        out.append(("3", "cold CLI `plugctl state H` vs `kasa --type plug state`, whole process",
                    lat(o, "median_ms", "p99_ms", "ms"), lat(p, "median_ms", "p99_ms", "ms"), "—",
                    f"{num(sp)}× faster" if sp else "—", "", f"≥{CLI_VS_PEER:g}× faster", yes(m)))
        if m is False:
            misses.append(f"line 3: cold CLI {sp:.1f}× faster than kasa, target {CLI_VS_PEER:g}× (short by {CLI_VS_PEER / sp:.2f}×)")

    # Line 4.
    def disc(impl):
        runs = [r for r in rows if kind(r) == "discovery" and r.get("impl") == impl]
        if not runs:
            return None, None, None
        lasts = [r["last_ms"] for r in runs if r.get("last_ms") is not None]
        found = min(r.get("found", 0) for r in runs)
        return (statistics.median(lasts) if len(lasts) == len(runs) else None), runs[0].get("expected"), (found, len(runs))

    o, pl, pk = disc("plugctl"), disc("plugctl-cli"), disc("python-kasa")
    if any(x[0] is not None or x[2] for x in (o, pl, pk)):
        def cell(d):
            if d[2] is None:
                return "—"
            if d[0] is None:
                return f"incomplete ({d[2][0]}/{d[1]} found)"
            return f"{num(d[0])} ms (median of {d[2][1]})"
        exp = o[1] or pk[1] or pl[1]
        sp = ratio(pk[0], o[0])
        out.append(("4", f"discovery of {exp:,} plugs on 127.255.255.255: time to the last one (library)", cell(o), cell(pk), "—",
                    f"{num(sp)}× faster" if sp else "—", "", "report", "—"))
        if pl[2]:
            sp = ratio(pk[0], pl[0])
            out.append(("4", "  same, whole `plugctl discover` process vs python-kasa library", cell(pl), cell(pk), "—",
                        f"{num(sp)}× faster" if sp else "—", "", "report", "—"))

    # Line 5.
    h = pick(rows, "hub")
    if h:
        rss = h.get("peak_rss_mib")
        ok = rss is not None and rss < HUB_RSS_MIB and h.get("dropped") == 0 and h.get("flush_ok", True)
        out.append(("5", f"hub polling {h.get('devices', 0):,} plugs at 1 Hz for {h.get('seconds')} s",
                    f"CPU {num(h.get('cpu_share'))} core, peak RSS {num(rss)} MiB, lag p99 {num(h.get('poll_lag_p99_ms'))} ms, "
                    f"{num(h.get('polls_per_s'))} polls/s of {num(h.get('expected_polls_per_s'))}, "
                    f"{num(h.get('db_rows_per_s'))} rows/s, {num(h.get('db_commits_per_s'))} commits/s, "
                    f"failed {h.get('polls_failed')}, dropped {h.get('dropped')}",
                    "", "", "", "", f"RSS < {HUB_RSS_MIB:g} MiB, nothing dropped", yes(ok)))
        if not ok:
            misses.append(f"line 5: peak RSS {rss} MiB (target < {HUB_RSS_MIB:g}), dropped {h.get('dropped')}")
    elif pick(rows, "hub_skipped"):
        out.append(("5", "hub at scale", pick(rows, "hub_skipped").get("reason", "skipped"), "", "", "", "", "", "—"))

    # Line 6.
    e = pick(rows, "emulator")
    if e:
        d, mib = e.get("devices", 0), e.get("fleet_mib") or e.get("rss_mib")
        ok = None
        if d >= EMU_DEVICES and e.get("rss_mib") is not None:
            ok = e["rss_mib"] < EMU_MIB
            if not ok:
                misses.append(f"line 6: {d:,} devices take {e['rss_mib']} MiB (target < {EMU_MIB:g})")
        out.append(("6", f"emulator: {d:,} devices in one process, {e.get('connections', 0):,} connections",
                    f"RSS {num(e.get('rss_mib'))} MiB (fleet {num(mib)} MiB, {num(e.get('kib_per_device'))} KiB/device), "
                    f"{num(e.get('req_per_s'))} req/s, {num(e.get('emulator_cpu_us_per_req'))} CPU µs/req",
                    "", "", "", "", f"{EMU_DEVICES:,} in < {EMU_MIB:g} MiB", yes(ok) if d >= EMU_DEVICES else f"— (ran {d:,})"))
    elif pick(rows, "emulator_skipped"):
        out.append(("6", "emulator capacity", pick(rows, "emulator_skipped").get("reason", "skipped"), "", "", "", "", "", "—"))
    return out, misses


def rps(r):
    if not r:
        return "—"
    if r.get("skipped"):
        return f"skipped ({r['skipped']})"
    s = f"{num(r.get('rps'))}/s (p99 {num((r.get('p99_us') or 0) / 1000)} ms)"
    if r.get("errors"):
        s += f", {r['errors']} errors"
    return s


HEAD = ("line", "measure", "ours (plugctl)", "peer (python-kasa 0.12.0)", "floor (raw socket)", "ours vs peer", "ours vs floor", "target", "met")


def table(rows, markdown):
    body, misses = build(rows)
    m = pick(rows, "machine")
    lines = []
    if markdown:
        lines.append("| " + " | ".join(HEAD) + " |")
        lines.append("|" + "|".join(["---"] * len(HEAD)) + "|")
        for r in body:
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |")
    else:
        widths = [max(len(HEAD[i]), *(len(r[i]) for r in body)) if body else len(HEAD[i]) for i in range(len(HEAD))]
        widths = [min(w, 60) for w in widths]
        fmt = lambda r: "  ".join(c.replace("**", "").ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
        lines.append(fmt(HEAD))
        lines.append("  ".join("-" * w for w in widths))
        lines.extend(fmt(r) for r in body)
    lines.append("")
    if misses:
        lines.append("Targets not met:" if not markdown else "**Targets not met:**")
        lines.extend(f"- {x}" for x in misses)
    elif body:
        lines.append("All targets with a figure in this run are met.")
    skipped = [r for r in rows if r.get("skipped")]
    for r in skipped:
        lines.append(f"- skipped: {kind(r)} {r.get('impl', '')} N={r.get('devices', '')}: {r['skipped']}")
    if m:
        lines.append("")
        lines.append("Machine: " + ", ".join(f"{k} {v}" for k, v in m.items() if k != "bench"))
    print("\n".join(lines))


COLORS = {"plugctl": "#1f77b4", "floor": "#2ca02c", "python-kasa": "#d62728", "python-kasa-update": "#ff7f0e"}


def plot(rows, path):
    import math

    series = {}
    for r in rows:
        if kind(r) == "fleet" and r.get("rps"):
            series.setdefault(r["impl"], []).append((r["devices"], r["rps"], (r.get("p99_us") or 0) / 1000))
    W, H, M = 460, 320, 60
    panels = [("throughput (requests/s)", 1), ("p99 latency (ms)", 2)]
    xs = sorted({p[0] for s in series.values() for p in s}) or [1, 10]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * W}" height="{H + 40}" font-family="sans-serif" font-size="12">',
             f'<rect width="{2 * W}" height="{H + 40}" fill="white"/>']
    x0, x1 = math.log10(min(xs)), math.log10(max(xs))
    if x1 == x0:
        x1 = x0 + 1
    for pi, (title, idx) in enumerate(panels):
        ox = pi * W
        vals = [p[idx] for s in series.values() for p in s if p[idx] > 0] or [1, 10]
        y0, y1 = math.floor(math.log10(min(vals))), math.ceil(math.log10(max(vals)))
        if y1 == y0:
            y1 += 1
        px = lambda x: ox + M + (math.log10(x) - x0) / (x1 - x0) * (W - 2 * M + 20)  # noqa: E731
        py = lambda y: H - M + 20 - (math.log10(y) - y0) / (y1 - y0) * (H - 2 * M)  # noqa: E731
        parts.append(f'<text x="{ox + W / 2}" y="20" text-anchor="middle" font-weight="bold">{title} vs fleet size (log-log)</text>')
        parts.append(f'<line x1="{ox + M}" y1="{py(10 ** y0)}" x2="{ox + W - M + 20}" y2="{py(10 ** y0)}" stroke="black"/>')
        parts.append(f'<line x1="{ox + M}" y1="{py(10 ** y0)}" x2="{ox + M}" y2="{py(10 ** y1)}" stroke="black"/>')
        for e in range(y0, y1 + 1):
            y = py(10 ** e)
            parts.append(f'<line x1="{ox + M}" y1="{y}" x2="{ox + W - M + 20}" y2="{y}" stroke="#ddd"/>')
            parts.append(f'<text x="{ox + M - 5}" y="{y + 4}" text-anchor="end">{10 ** e:g}</text>')
        for x in xs:
            parts.append(f'<text x="{px(x)}" y="{py(10 ** y0) + 16}" text-anchor="middle">{x:,}</text>')
        parts.append(f'<text x="{ox + W / 2}" y="{H + 10}" text-anchor="middle">emulated plugs polled at once (N)</text>')
        for name, pts in sorted(series.items()):
            pts = sorted(p for p in pts if p[idx] > 0)
            color = COLORS.get(name, "#777")
            dash = ' stroke-dasharray="5,3"' if name.endswith("update") else ""
            d = " ".join(f"{px(p[0]):.1f},{py(p[idx]):.1f}" for p in pts)
            parts.append(f'<polyline points="{d}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
            for p in pts:
                parts.append(f'<circle cx="{px(p[0]):.1f}" cy="{py(p[idx]):.1f}" r="3" fill="{color}"/>')
    for i, name in enumerate(sorted(series)):
        x = 80 + i * 200
        parts.append(f'<rect x="{x}" y="{H + 22}" width="14" height="4" fill="{COLORS.get(name, "#777")}"/>')
        parts.append(f'<text x="{x + 20}" y="{H + 28}">{name}</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


def machine(python, rustc):
    def sh(*cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return "?"

    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kib = int(next(ln.split()[1] for ln in f if ln.startswith("MemTotal")))
            mem = f"{kib / 1048576:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    print(json.dumps({
        "bench": "machine",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "nproc": sh("nproc"),
        "cpu": cpu,
        "kernel": platform.release(),
        "memory": mem,
        "rust": rustc,
        "python": sh(python, "-c", "import platform; print(platform.python_version())"),
        "python-kasa": sh(python, "-c", "from importlib.metadata import version; print(version('python-kasa'))"),
    }))


def main():
    a = sys.argv[1:]
    if a[:1] == ["table"] and len(a) >= 2:
        table(load(a[1]), "--markdown" in a)
    elif a[:1] == ["plot"] and len(a) == 3:
        plot(load(a[1]), a[2])
    elif a[:1] == ["machine"] and len(a) == 5:
        machine(a[2], a[4])
    else:
        sys.exit(__doc__)


main()
