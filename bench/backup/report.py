#!/usr/bin/env python3
"""Turns bench/backup/run.sh's raw measurements into the printed Markdown table, JSON and CSV.

usage: report.py RAW.tsv OUT_PREFIX key=value...   (writes OUT_PREFIX.json and OUT_PREFIX.csv;
                                                     key=value pairs end up in "meta")

RAW lines (tab separated):
  run      <profile> <tool> <label> <spec> <run> <full|second> <ok|failed> <wall s>
           <machine ticks> <ticks per second> <client user s> <client sys s> <client peak rss kB>
           <server-side peak rss kB | n/a> <stored bytes> <ticks of the PostgreSQL and daemon trees>
  profile  <profile> <data directory bytes> <databases bytes> <pg_wal bytes>
  missing  <tool> <reason>
  failure  <profile> <label> <last line the client printed>
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from report_lib import MB, args, each_profile, finish, fmt, footer, md, median, wall_ratio as ratio  # noqa: E402

OUR_ZSTD = "pgmoneta zstd:3"
PEER_SERVER_ZSTD = "pg_basebackup server-zstd:3"
PEER_PGBR_ZST2 = "pgBackRest zst:3 p2"
CEILING = "tar | zstd -3 -T2"
CEILING_TARGET = 0.85


def load(raw):
    runs, profiles, missing, failures = [], {}, {}, {}
    with open(raw) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if p[0] == "run":
                hz = int(p[10])
                runs.append({
                    "profile": p[1], "tool": p[2], "label": p[3], "spec": p[4], "run": int(p[5]),
                    "kind": p[6], "status": p[7], "wall_s": float(p[8]),
                    "machine_cpu_s": int(p[9]) / hz, "client_cpu_s": float(p[11]) + float(p[12]),
                    "client_peak_rss_kb": int(p[13]),
                    "server_peak_rss_kb": None if p[14] in ("n/a", "") else int(p[14]),
                    "stored_bytes": int(p[15]),
                    "server_cpu_s": int(p[16]) / hz if len(p) > 16 else 0.0,
                })
                runs[-1]["process_cpu_s"] = runs[-1]["server_cpu_s"] + runs[-1]["client_cpu_s"]
            elif p[0] == "profile":
                profiles[p[1]] = {"data_directory_bytes": int(p[2]), "databases_bytes": int(p[3]),
                                  "pg_wal_bytes": int(p[4])}
            elif p[0] == "missing":
                missing[p[1]] = p[2]
            elif p[0] == "failure":
                failures.setdefault((p[1], p[2]), p[3])
    return runs, profiles, missing, failures


def summarise(runs):
    """One row per (profile, label, kind): medians over the successful runs."""
    groups = {}
    for r in runs:
        groups.setdefault((r["profile"], r["label"], r["kind"]), []).append(r)
    rows = []
    for (prof, label, kind), rs in groups.items():
        ok = [r for r in rs if r["status"] == "ok"]
        rss = []
        for r in ok:
            v = r["server_peak_rss_kb"] if r["tool"] == "pgmoneta" else r["client_peak_rss_kb"]
            if v is not None:
                rss.append(v)
        rows.append({
            "profile": prof, "label": label, "kind": kind, "tool": rs[0]["tool"], "spec": rs[0]["spec"],
            "runs": len(rs), "failed": len(rs) - len(ok),
            "wall_s": median([r["wall_s"] for r in ok]),
            "wall_s_all": [round(r["wall_s"], 2) for r in ok],
            "machine_cpu_s": median([r["machine_cpu_s"] for r in ok]),
            "process_cpu_s": median([r["process_cpu_s"] for r in ok]),
            "client_cpu_s": median([r["client_cpu_s"] for r in ok]),
            "peak_rss_kb": median(rss),
            "stored_bytes": median([r["stored_bytes"] for r in ok]),
        })
    return rows


def main():
    raw, out, meta = args()
    runs, profiles, missing, failures = load(raw)
    rows = summarise(runs)
    result = {"meta": meta, "missing": missing, "profiles": {},
              "failures": [{"profile": k[0], "label": k[1], "message": v} for k, v in failures.items()]}
    lines = []
    # full runs in configuration order, then pgmoneta's "second backup" rows
    for prof, prow, pinfo in each_profile(rows, profiles, key=lambda r: r["kind"] != "full"):
        data = pinfo.get("data_directory_bytes", 0) - pinfo.get("pg_wal_bytes", 0)
        lines.append("")
        lines.append(f"### Profile `{prof}`: data directory {data / MB:,.0f} MB without pg_wal "
                     f"(databases {pinfo.get('databases_bytes', 0) / MB:,.0f} MB), "
                     f"median of {meta.get('runs', '?')} run(s)")
        lines.append("")
        lines.append("| configuration | wall s | machine CPU s (whole machine, PostgreSQL included) "
                     "| process CPU s (PostgreSQL + daemon + client) | client CPU s | peak RSS MB "
                     "| stored MB | data dir / stored |")
        lines.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in prow:
            name = r["label"] + (" (second backup, first kept)" if r["kind"] == "second" else "")
            if r["wall_s"] is None:
                lines.append(f"| {md(name)} | failed ({r['failed']}/{r['runs']}) | | | | | | |")
                continue
            rss = fmt(r["peak_rss_kb"] / 1024 if r["peak_rss_kb"] is not None else None, ".1f")
            if r["tool"] == "pgmoneta":
                rss += " (child)" if r["peak_rss_kb"] is not None else ""
            cc = fmt(r["client_cpu_s"]) + (" (CLI)" if r["tool"] == "pgmoneta" else "")
            comp = fmt(data / r["stored_bytes"] if r["stored_bytes"] else None, ".2f", "-")
            fail = f" ({r['failed']} failed)" if r["failed"] else ""
            lines.append(f"| {md(name)}{fail} | {r['wall_s']:.2f} | {r['machine_cpu_s']:.1f} | {r['process_cpu_s']:.1f} | {cc} | {rss} "
                         f"| {r['stored_bytes'] / MB:,.0f} | {comp} |")
        if "pgmoneta" in missing:
            lines.append(f"| pgmoneta (every configuration) | missing: {md(missing['pgmoneta'])} | | | | | | |")

        failed = [(flabel, msg) for (fprof, flabel), msg in failures.items() if fprof == prof]
        if failed:
            lines.append("")
            lines.append(f"Failed: {', '.join(f for f, _ in failed)}; the first said: `{failed[0][1]}`")

        # Ratios: peer wall / our wall (> 1: we are faster), only against peers that store no
        # more bytes than we do (a peer storing more is not doing the same job).
        ours = [r for r in prow if r["tool"] == "pgmoneta" and r["kind"] == "full" and r["wall_s"]]
        # the ceiling is a reference, not a backup tool: compared with separately below
        peers = [r for r in prow if r["tool"] not in ("pgmoneta", "ceiling") and r["wall_s"]
                 and r["kind"] == "full"]
        by = {r["label"]: r for r in prow if r["kind"] == "full"}
        ratios = []
        lines.append("")
        lines.append("Speed ratio = peer wall / our wall (> 1: pgmoneta is faster), against the peers "
                     "(pg_basebackup, pgBackRest) storing no more bytes than pgmoneta:")
        lines.append("")
        lines.append("| pgmoneta | stored MB | fastest such peer | ratio | every such peer (ratio) |")
        lines.append("| --- | ---: | --- | ---: | --- |")
        for o in ours:
            cands = sorted((p for p in peers if p["stored_bytes"] <= o["stored_bytes"]),
                           key=lambda p: p["wall_s"])
            each = ", ".join(f"{md(p['label'])} {ratio(p, o):.2f}" for p in cands) or "none"
            best = cands[0] if cands else None
            ratios.append({"ours": o["label"], "fastest_peer": best["label"] if best else None,
                           "ratio": ratio(best, o),
                           "peers": {p["label"]: round(ratio(p, o), 3) for p in cands}})
            lines.append(f"| {o['label']} | {o['stored_bytes'] / MB:,.0f} | {md(best['label']) if best else '-'} "
                         f"| {fmt(ratio(best, o))} | {each} |")
        if not ours:
            why = "missing" if "pgmoneta" in missing or not any(
                r["tool"] == "pgmoneta" for r in prow) else "every run failed"
            lines.append(f"| n/a (pgmoneta {why}) | | | | |")
        lines.append("")
        lines.append("| explicit comparison | our wall s | peer wall s | peer / our wall | our stored / peer stored |")
        lines.append("| --- | ---: | ---: | ---: | ---: |")
        explicit = []
        our_zstd = [o for o in ours if o["label"].startswith(OUR_ZSTD + " w")] or [None]
        for o in our_zstd:
            for peer_label, note in ((PEER_SERVER_ZSTD, ""), (PEER_PGBR_ZST2, ""),
                                     (CEILING, f" (target >= {CEILING_TARGET})")):
                p = by.get(peer_label)
                r = ratio(p, o)
                mark = ""
                if peer_label == CEILING and r is not None:
                    mark = " ok" if r >= CEILING_TARGET else " BELOW TARGET"
                oname = o["label"] if o else f"{OUR_ZSTD} (no successful run)"
                sr = (o["stored_bytes"] / p["stored_bytes"]) if o and p and p["stored_bytes"] else None
                explicit.append({"ours": oname, "peer": peer_label, "ratio": r, "stored_ratio": sr})
                lines.append(f"| {md(oname)} vs {md(peer_label)}{note} | {fmt(o['wall_s'] if o else None)} "
                             f"| {fmt(p['wall_s'] if p else None)} | {fmt(r)}{mark} | {fmt(sr)} |")
        result["profiles"][prof] = {**pinfo, "rows": prow, "ratios": ratios, "explicit": explicit}

    lines.append("")
    lines.append(footer(meta))
    finish(out, result, lines, runs)


if __name__ == "__main__":
    main()
