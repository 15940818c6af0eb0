#!/usr/bin/env python3
"""Turn the raw numbers collected by scripts/bench.sh into the summary table and a JSON file.

Usage: report.py RESULTS_FILE JSON_OUT

RESULTS_FILE holds `key=value` lines. Per-target keys are `<metric>.<target>` with target one of
direct | nginx | floor | sw; everything else is metadata (`meta.<name>`). Missing values print as "-".
"""
import json
import sys

TARGETS = ("direct", "nginx", "floor", "sw")


def load(path):
    raw = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#") or "=" not in line:
                continue
            k, v = line.split("=", 1)
            raw[k] = v
    return raw


def num(raw, key):
    v = raw.get(key)
    if v is None or v == "":
        return None
    try:
        return float(v)
    except ValueError:
        return None


def sub(a, b):
    return None if a is None or b is None else a - b


def div(a, b):
    return None if a is None or b is None or b == 0 else a / b


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: report.py RESULTS_FILE JSON_OUT")
    raw = load(sys.argv[1])
    out_path = sys.argv[2]

    def per(metric):
        return {t: num(raw, f"{metric}.{t}") for t in TARGETS}

    def added(vals):
        """Latency a proxy adds over the direct path."""
        return {"direct": None, "nginx": sub(vals["nginx"], vals["direct"]), "floor": sub(vals["floor"], vals["direct"]),
                "sw": sub(vals["sw"], vals["direct"])}

    def at_most(limit):
        return lambda v, r: None if v is None else v <= limit

    def zero(v, r):
        return None if v is None else v == 0

    rate_p50, rate_p99 = per("rate_p50_ms"), per("rate_p99_ms")
    paced_p50, paced_p99 = per("paced_p50_ms"), per("paced_p99_ms")
    ttfb = per("ttfb_ms")
    rate = raw.get("meta.rate_rps", "1000")
    # (key, label, values per target, number format, target text, check(sw_value, ratio) -> bool | None)
    rows = [
        ("throughput_rps", "throughput (req/s, wrk max)", per("rps"), "{:.0f}",
         "sw >= 50% of nginx", lambda v, r: None if r is None else r >= 0.5),
        ("max_load_p50_ms", "  latency p50 at max load (ms)", per("wrk_p50_ms"), "{:.3f}", "", None),
        ("max_load_p99_ms", "  latency p99 at max load (ms)", per("wrk_p99_ms"), "{:.3f}", "", None),
        ("max_load_errors", "  wrk errors / non-2xx", per("wrk_errors"), "{:.0f}", "0", zero),
        ("cpu_us_per_request", "CPU per request (us, at max load)", per("cpu_us"), "{:.1f}", "sw <= 50 us",
         at_most(50)),
        ("rate_achieved_rps", f"hey at {rate} req/s: achieved (req/s)", per("rate_rps"), "{:.0f}", f"~{rate}", None),
        ("rate_p50_ms", "  latency p50 (ms)", rate_p50, "{:.3f}", "", None),
        ("rate_p99_ms", "  latency p99 (ms)", rate_p99, "{:.3f}", "", None),
        ("rate_added_p50_ms", "  added latency p50 (ms)", added(rate_p50), "{:+.3f}", "(bursts: see docs)", None),
        ("rate_added_p99_ms", "  added latency p99 (ms)", added(rate_p99), "{:+.3f}", "", None),
        ("rate_non200", "  non-200 / errors", per("rate_non200"), "{:.0f}", "0", zero),
        ("paced_achieved_rps", f"wrk paced ~{rate} req/s: achieved", per("paced_rps"), "{:.0f}", f"~{rate}", None),
        ("paced_p50_ms", "  latency p50 (ms)", paced_p50, "{:.3f}", "", None),
        ("paced_p99_ms", "  latency p99 (ms)", paced_p99, "{:.3f}", "", None),
        ("paced_added_p50_ms", "  added latency p50 (ms)", added(paced_p50), "{:+.3f}", "sw <= 0.2 ms", at_most(0.2)),
        ("paced_added_p99_ms", "  added latency p99 (ms)", added(paced_p99), "{:+.3f}", "sw <= 0.6 ms", at_most(0.6)),
        ("half_achieved_rps", "wrk paced at half that rate: achieved", per("half_rps"), "{:.0f}", "", None),
        ("half_added_p50_ms", "  added latency p50 (ms)", added(per("half_p50_ms")), "{:+.3f}", "sw <= 0.2 ms", at_most(0.2)),
        ("half_added_p99_ms", "  added latency p99 (ms)", added(per("half_p99_ms")), "{:+.3f}", "sw <= 0.6 ms", at_most(0.6)),
        ("paced_errors", "  errors / non-2xx", per("paced_errors"), "{:.0f}", "0", zero),
        ("stream_ttfb_ms", "streaming TTFB median (ms)", ttfb, "{:.3f}", "", None),
        ("stream_ttfb_added_ms", "  streaming TTFB added (ms)", added(ttfb), "{:+.3f}", "sw <= 0.3 ms", at_most(0.3)),
        ("rss_idle_mb", "RSS idle after start (MB)", per("rss_idle_mb"), "{:.1f}", "sw <= 50 MB", at_most(50)),
        ("rss_after_load_mb", "RSS after load (MB)", per("rss_loaded_mb"), "{:.1f}", "", None),
        ("rss_peak_mb", "RSS peak, VmHWM (MB)", per("rss_peak_mb"), "{:.1f}", "sw <= 100 MB", at_most(100)),
        ("startup_ms", "start-up to ready (ms)", per("startup_ms"), "{:.1f}", "sw < 500 ms",
         lambda v, r: None if v is None else v < 500),
    ]
    no_ratio = {"max_load_errors", "rate_non200", "paced_errors"}

    # Many open streams (scripts/bench/scale.sh, SCALE=1): direct = straight to the slow mock provider.
    scale_n = num(raw, "meta.scale_streams")
    if scale_n is not None:
        n = int(scale_n)
        only_sw = lambda key: {"direct": None, "nginx": None, "sw": num(raw, key)}
        probes = raw.get("meta.scale_probes", "?")
        scale_p99 = per("scale_probe_ttfb_p99_ms")
        at_10k = n >= 10000  # the memory target is for 10,000 streams: not checked on smaller runs
        rows += [
            ("scale_streams_ok", f"{n} slow streams (1 event/s): served ok", per("scale_streams_ok"), "{:.0f}",
             f"sw = {n}", lambda v, r: None if v is None else v == n),
            ("scale_streams_failed", "  failed", per("scale_streams_failed"), "{:.0f}", "0", zero),
            ("scale_ttfb_p50_ms", "  TTFB while opening them, p50 (ms)", per("scale_ttfb_p50_ms"), "{:.3f}", "", None),
            ("scale_ttfb_p99_ms", "  TTFB while opening them, p99 (ms)", per("scale_ttfb_p99_ms"), "{:.3f}", "", None),
            ("scale_probe_ttfb_p50_ms", f"  TTFB of {probes} more, all open, p50 (ms)", per("scale_probe_ttfb_p50_ms"),
             "{:.3f}", "", None),
            ("scale_probe_ttfb_p99_ms", f"  TTFB of {probes} more, all open, p99 (ms)", scale_p99, "{:.3f}", "", None),
            ("scale_ttfb_added_p99_ms", "  TTFB added p99, all open (ms)", added(scale_p99), "{:+.3f}", "sw <= 5 ms",
             at_most(5.0)),
            # a smaller run can miss the 10,000-stream target (over 400 MB already) but not meet it
            ("scale_rss_peak_mb", "  RSS peak (MB)", per("scale_rss_peak_mb"), "{:.1f}", "sw <= 400 MB at 10,000",
             lambda v, r: None if v is None else (False if v > 400 else (True if at_10k else None))),
            ("scale_cpu_s", "  CPU of the server during the run (s)", per("scale_cpu_s"), "{:.2f}", "", None),
            ("scale_kb_per_stream", "  memory per open stream (kB)", per("scale_kb_per_stream"), "{:.1f}", "", None),
            ("scale_upstream_conns", "  upstream connections, all open", only_sw("scale_upstream_conns.sw"), "{:.0f}",
             "1 per stream", None),
            ("scale_kb_per_idle_conn", "idle keep-alive connection (kB each)", only_sw("scale_kb_per_idle_conn"), "{:.1f}",
             "", None),
        ]
        no_ratio |= {"scale_streams_ok", "scale_streams_failed", "scale_upstream_conns"}

    def fmt(fmt_spec, v):
        return "-" if v is None else fmt_spec.format(v)

    header = ("figure", "direct", "nginx proxy", "SwiftNIO floor", "switchboard", "sw/nginx", "design target", "check")
    table = []
    results = {}
    for key, label, vals, spec, target, check in rows:
        ratio = div(vals["sw"], vals["nginx"])
        if vals["nginx"] is not None and vals["nginx"] <= 0:
            ratio = None  # e.g. nginx added no measurable latency: a ratio would mislead
        if key in no_ratio:
            ratio = None
        verdict = None if check is None else check(vals["sw"], ratio)
        table.append((label, fmt(spec, vals["direct"]), fmt(spec, vals["nginx"]), fmt(spec, vals.get("floor")), fmt(spec, vals["sw"]),
                      "-" if ratio is None else f"{ratio:.2f}x", target,
                      "" if verdict is None else ("ok" if verdict else "MISS")))
        results[key] = {"direct": vals["direct"], "nginx": vals["nginx"], "swiftnio_floor": vals.get("floor"), "switchboard": vals["sw"],
                        "ratio_sw_over_nginx": ratio, "target": target or None, "pass": verdict}

    widths = [max(len(str(r[i])) for r in [header] + table) for i in range(len(header))]

    def line(r):
        cells = []
        for i, c in enumerate(r):
            cells.append(str(c).ljust(widths[i]) if i in (0, 6, 7) else str(c).rjust(widths[i]))
        return " | ".join(cells).rstrip()

    governed = {}
    plain = num(raw, "rps.sw")
    for storage in ("sqlite", "postgres"):
        rps = num(raw, f"gov_rps.{storage}")
        if rps is None:
            continue
        static = num(raw, f"gov_static_rps.{storage}")
        governed[storage] = {"rps": rps, "static_rps": static, "ratio_to_static_key": div(rps, static),
                             "ratio_to_plain_key": div(rps, plain), "p99_ms": num(raw, f"gov_p99_ms.{storage}"),
                             "cpu_us_per_request": num(raw, f"gov_cpu_us.{storage}"), "errors": num(raw, f"gov_errors.{storage}"),
                             "spend_recorded_usd": num(raw, f"gov_spend_usd.{storage}")}

    meta = {k[5:]: v for k, v in raw.items() if k.startswith("meta.")}
    print()
    print("Switchboard benchmark  ({})".format(meta.get("date", "")))
    print("  commit {}  |  nproc {}  |  pinning {}  |  wrk {}s x{} conns, fixed rate {} req/s for {}s".format(
        meta.get("commit", "?"), meta.get("nproc", "?"), meta.get("pin", "?"),
        meta.get("duration_s", "?"), meta.get("connections", "?"), rate, meta.get("rate_duration_s", "?")))
    print("  loadavg start: {}  |  end: {}".format(meta.get("loadavg_start", "?"), meta.get("loadavg_end", "?")))
    print()
    print(line(header))
    print("-+-".join("-" * w for w in widths))
    for r in table:
        print(line(r))
    print()
    print("direct = the instant upstream itself (nginx `return`); nginx proxy = nginx reverse proxy with upstream")
    print("keepalive; CPU/request of 'direct' is the upstream's own CPU. RSS of nginx = master + worker.")
    print("SwiftNIO floor = Sources/floor-proxy: the least a SwiftNIO reverse proxy does (NIO's HTTP/1 codec on both")
    print("connections, upstream keep-alive on the same event loop, nothing else): what the gateway pays before its own work.")
    if governed:
        print()
        print("Governed key (rpm, tpm, max_concurrent and a monthly budget: every request admitted and charged), wrk max:")
        print("  storage   | req/s  | static key, same storage | ratio | p99 ms | CPU us/req | errors | spend recorded (USD)")
        for storage, g in governed.items():
            print("  {:<9} | {:>6} | {:>24} | {:>5} | {:>6} | {:>10} | {:>6} | {}".format(
                storage, fmt("{:.0f}", g["rps"]), fmt("{:.0f}", g["static_rps"]),
                "-" if g["ratio_to_static_key"] is None else f"{g['ratio_to_static_key']:.2f}x",
                fmt("{:.3f}", g["p99_ms"]), fmt("{:.1f}", g["cpu_us_per_request"]), fmt("{:.0f}", g["errors"]),
                fmt("{:.4f}", g["spend_recorded_usd"])))
    if scale_n is not None:
        print()
        print("Many open streams (SCALE=1): {} streams of {} events, one a second, opened at <= {} connections/s;"
              " descriptor limit {}.".format(int(scale_n), meta.get("scale_tokens", "?"), meta.get("scale_rate", "?"),
                                             meta.get("scale_nofile", "?")))
        print("  direct = straight to the slow mock provider. Switchboard: RSS before {} MB, all open {} MB, after {} MB;"
              " {} descriptors".format(raw.get("scale_rss_before_mb.sw", "-"), raw.get("scale_rss_open_mb.sw", "-"),
                                       raw.get("scale_rss_after_mb.sw", "-"), raw.get("scale_fds_open.sw", "-")))
        print("  with {} streams open, probes included ({} upstream connections with {} open). Failures: direct {},"
              " switchboard {}; probes: direct {}, switchboard {}.".format(
                  raw.get("scale_open_at_snapshot.sw", "-"), raw.get("scale_upstream_conns.sw", "-"),
                  raw.get("scale_open_when_counted.sw", "-"), raw.get("scale_streams_failures.direct", "-"),
                  raw.get("scale_streams_failures.sw", "-"), raw.get("scale_probe_failures.direct", "-"),
                  raw.get("scale_probe_failures.sw", "-")))
        print("  Connect p99 (SYN retries show as ~1000 ms): direct {} ms, switchboard {} ms; the client's event-loop lag"
              " p99: {} / {} ms.".format(raw.get("scale_connect_p99_ms.direct", "-"), raw.get("scale_connect_p99_ms.sw", "-"),
                                         raw.get("scale_client_lag_p99_ms.direct", "-"),
                                         raw.get("scale_client_lag_p99_ms.sw", "-")))
        print("  Idle: {} keep-alive connections (one GET /healthz each), RSS {} -> {} MB.".format(
            raw.get("scale_idle_answered", "-"), raw.get("scale_rss_idle_before_mb", "-"), raw.get("scale_rss_idle_mb", "-")))
        if "scale_limit_answered" in raw:
            print("  Past server.max_connections ({}): of {} connections {} answered, {} connected but waiting (no answer"
                  " in 3 s), {} failed; {} of the waiting ones answered once the first were closed.".format(
                      raw.get("scale_limit_max_connections"), raw.get("scale_limit_opened"), raw.get("scale_limit_answered"),
                      raw.get("scale_limit_waiting"), raw.get("scale_limit_failed"),
                      raw.get("scale_limit_answered_after_release")))
    # Every target of DESIGN.md section 6 in one list (the README's table).
    def ratio_of(a, b):
        return div(num(raw, a), num(raw, b))
    # https:// and tracing against their references measured around them (older result files: the main run).
    trace_ref = "trace_ref_cpu_us.sw" if "trace_ref_cpu_us.sw" in raw else "cpu_us.sw"
    tls_ref = "tls_ref_rps.sw" if "tls_ref_rps.sw" in raw else "rps.sw"
    cpu_sw, tls_ratio, trace_ratio = num(raw, "cpu_us.sw"), ratio_of("tls_rps.sw", tls_ref), ratio_of("trace_cpu_us.sw", trace_ref)
    summary = [
        ("throughput, static key, http:// upstream (x nginx)", results["throughput_rps"]["ratio_sw_over_nginx"], ">= 0.5", lambda v: v >= 0.5),
        ("CPU per request (us)", cpu_sw, "<= 50", lambda v: v <= 50),
        ("added latency ~1,000 req/s paced, p50 (ms)", results["paced_added_p50_ms"]["switchboard"], "<= 0.2", lambda v: v <= 0.2),
        ("added latency ~1,000 req/s paced, p99 (ms)", results["paced_added_p99_ms"]["switchboard"], "<= 0.6", lambda v: v <= 0.6),
        ("added latency ~500 req/s paced, p50 (ms)", results["half_added_p50_ms"]["switchboard"], "<= 0.2", lambda v: v <= 0.2),
        ("added latency ~500 req/s paced, p99 (ms)", results["half_added_p99_ms"]["switchboard"], "<= 0.6", lambda v: v <= 0.6),
        ("streaming TTFB added (ms)", results["stream_ttfb_added_ms"]["switchboard"], "<= 0.3", lambda v: v <= 0.3),
        ("https:// upstream throughput (x the http:// figure)", tls_ratio, ">= 0.8", lambda v: v >= 0.8),
        ("governed key on SQLite (x static key)", governed.get("sqlite", {}).get("ratio_to_static_key"), ">= 0.9", lambda v: v >= 0.9),
        ("governed key on PostgreSQL (x static key)", governed.get("postgres", {}).get("ratio_to_static_key"), ">= 0.6",
         lambda v: v >= 0.6),
        ("tracing on, sample_ratio 1 (x CPU per request)", trace_ratio, "<= 1.3", lambda v: v <= 1.3),
    ]
    if scale_n is not None:
        summary += [
            (f"{int(scale_n)} slow streams: failed", results["scale_streams_failed"]["switchboard"], "0", lambda v: v == 0),
            (f"{int(scale_n)} slow streams: RSS peak (MB)", results["scale_rss_peak_mb"]["switchboard"], "<= 400 at 10,000",
             lambda v: v <= 400 * scale_n / 10000),
            (f"{int(scale_n)} slow streams: TTFB added p99 (ms)", results["scale_ttfb_added_p99_ms"]["switchboard"], "<= 5",
             lambda v: v <= 5),
        ]
    print()
    print("Targets (DESIGN.md section 6):")
    targets = []
    for label, value, target, ok in summary:
        verdict = None if value is None else ok(value)
        targets.append({"figure": label, "value": value, "target": target, "pass": verdict})
        print("  {:<52} {:>10}   target {:<16} {}".format(label, "-" if value is None else f"{value:.3f}".rstrip("0").rstrip("."),
                                                         target, "" if verdict is None else ("ok" if verdict else "MISS")))
    # The count is of the list just printed (until 2026-12-07 it counted the checks of the table above instead, where
    # https:// and tracing are compared with the main run's figure rather than with their own references).
    checked = [t for t in targets if t["pass"] is not None]
    missed = [t["figure"] for t in targets if t["pass"] is False]
    if checked:
        print("design-doc targets: {}/{} met{}".format(
            len(checked) - len(missed), len(checked), "" if not missed else "; missed: " + "; ".join(missed)))

    doc = {"meta": meta, "results": results, "governed": governed, "targets": targets}
    if scale_n is not None:
        doc["scale"] = {k: (num(raw, k) if num(raw, k) is not None else raw[k]) for k in raw if k.startswith("scale_")}
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, sort_keys=False)
        f.write("\n")
    print(f"results written to {out_path}")


if __name__ == "__main__":
    main()
