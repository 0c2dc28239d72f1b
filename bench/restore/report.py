#!/usr/bin/env python3
"""Turns bench/restore/run.sh's raw measurements into the printed Markdown tables, JSON and CSV.

usage: report.py RAW.tsv OUT_PREFIX key=value...   (writes OUT_PREFIX.json and OUT_PREFIX.csv;
                                                     key=value pairs end up in "meta")

RAW lines (tab separated):
  run      <profile> <tool> <label> <spec> <run> <ok|failed> <wall s> <machine ticks>
           <ticks per second> <client user s> <client sys s> <client peak rss kB>
           <stored bytes> <restored bytes> <ticks of the pgmoneta daemon's tree>
  profile  <profile> <data directory bytes> <databases bytes> <pg_wal bytes> <data dir without pg_wal bytes>
  backup   <profile> <label> <stored bytes>        (the one backup a configuration restores)
  check    <profile> <label> <ok|failed> <restored bytes without pg_wal> <problem or ->
  missing  <tool> <reason>
  failure  <profile> <label> <last line the tool printed>
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from report_lib import MB, args, each_profile, finish, fmt, footer, md, median, wall_ratio as ratio  # noqa: E402

OUR_ZSTD = "pgmoneta zstd:3"
PGBR_ZST2 = "pgBackRest zst:3 p2"
CP = "cp -a + sync"
PGBR_TARGET = 1.3  # pgBackRest zst p2 time / our time
CP_TARGET = 1.0    # cp time / our time


def load(raw):
    runs, profiles, backups, checks, missing, failures = [], {}, {}, {}, {}, {}
    with open(raw) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if p[0] == "run":
                hz = int(p[9])
                r = {
                    "profile": p[1], "tool": p[2], "label": p[3], "spec": p[4], "run": int(p[5]),
                    "status": p[6], "wall_s": float(p[7]), "machine_cpu_s": int(p[8]) / hz,
                    "client_cpu_s": float(p[10]) + float(p[11]), "client_peak_rss_kb": int(p[12]),
                    "stored_bytes": int(p[13] or 0), "restored_bytes": int(p[14] or 0),
                    "daemon_cpu_s": int(p[15]) / hz,
                }
                r["process_cpu_s"] = r["client_cpu_s"] + r["daemon_cpu_s"]
                runs.append(r)
            elif p[0] == "profile":
                profiles[p[1]] = {"data_directory_bytes": int(p[2]), "databases_bytes": int(p[3]),
                                  "pg_wal_bytes": int(p[4]), "source_bytes": int(p[5])}
            elif p[0] == "backup":
                backups[(p[1], p[2])] = int(p[3] or 0)
            elif p[0] == "check":
                checks[(p[1], p[2])] = {"status": p[3], "bytes_without_pg_wal": int(p[4] or 0),
                                        "problem": "" if p[5] == "-" else p[5]}
            elif p[0] == "missing":
                missing[p[1]] = p[2]
            elif p[0] == "failure":
                failures.setdefault((p[1], p[2]), p[3])
    return runs, profiles, backups, checks, missing, failures


def summarise(runs):
    """One row per (profile, label): medians over the successful runs, in configuration order."""
    groups = {}
    for r in runs:
        groups.setdefault((r["profile"], r["label"]), []).append(r)
    rows = []
    for (prof, label), rs in groups.items():
        ok = [r for r in rs if r["status"] == "ok"]
        walls = [r["wall_s"] for r in ok]
        rows.append({
            "profile": prof, "label": label, "tool": rs[0]["tool"], "spec": rs[0]["spec"],
            "runs": len(rs), "failed": len(rs) - len(ok),
            "wall_s": median(walls), "wall_min_s": min(walls) if walls else None,
            "wall_max_s": max(walls) if walls else None,
            "wall_s_all": [round(w, 2) for w in walls],
            "machine_cpu_s": median([r["machine_cpu_s"] for r in ok]),
            "process_cpu_s": median([r["process_cpu_s"] for r in ok]),
            "stored_bytes": median([r["stored_bytes"] for r in ok]),
            "restored_bytes": median([r["restored_bytes"] for r in ok]),
        })
    return rows


def main():
    raw, out, meta = args()
    runs, profiles, backups, checks, missing, failures = load(raw)
    rows = summarise(runs)
    result = {"meta": meta, "missing": missing, "profiles": {},
              "failures": [{"profile": k[0], "label": k[1], "message": v} for k, v in failures.items()]}
    lines = []
    for prof, prow, pinfo in each_profile(rows, profiles):
        lines.append("")
        lines.append(f"### Profile `{prof}`: data directory {pinfo.get('source_bytes', 0) / MB:,.0f} MB "
                     f"without pg_wal (pg_wal {pinfo.get('pg_wal_bytes', 0) / MB:,.0f} MB), "
                     f"median of {meta.get('runs', '?')} restore(s); {meta.get('cache_note', '')}")
        lines.append("")
        lines.append("| configuration | wall s (median) | min s | max s | machine CPU s | process CPU s "
                     "| stored MB (backup) | restored MB | check |")
        lines.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for r in prow:
            c = checks.get((prof, r["label"]))
            check = "not checked" if c is None else ("ok" if c["status"] == "ok" else "FAILED: " + c["problem"])
            r["check"] = c
            if r["wall_s"] is None:
                stored = backups.get((prof, r["label"]))
                lines.append(f"| {md(r['label'])} | failed ({r['failed']}/{r['runs']}) | | | | "
                             f"| {fmt(stored / MB if stored else None, ',.0f')} | | {md(check)} |")
                continue
            pc = fmt(r["process_cpu_s"], ".1f") + (" (CLI + daemon)" if r["tool"] == "pgmoneta" else "")
            fail = f" ({r['failed']} failed)" if r["failed"] else ""
            lines.append(f"| {md(r['label'])}{fail} | {r['wall_s']:.2f} | {r['wall_min_s']:.2f} | {r['wall_max_s']:.2f} "
                         f"| {r['machine_cpu_s']:.1f} | {pc} | {r['stored_bytes'] / MB:,.0f} "
                         f"| {r['restored_bytes'] / MB:,.0f} | {md(check)} |")
        labels = {r["label"] for r in prow}
        for (bprof, blabel), stored in backups.items():
            if bprof == prof and blabel not in labels:
                lines.append(f"| {md(blabel)} | no restore ran | | | | | {stored / MB:,.0f} | | |")
        if "pgmoneta" in missing:
            lines.append(f"| pgmoneta (every configuration) | missing: {md(missing['pgmoneta'])} | | | | | | | |")
        failed = [(flabel, msg) for (fprof, flabel), msg in failures.items() if fprof == prof]
        for flabel, msg in failed:
            lines.append("")
            lines.append(f"Failed: {md(flabel)}: `{msg}`")

        # Ratios: peer time / our time (> 1: our restore is faster).
        ours = [r for r in prow if r["tool"] == "pgmoneta" and r["wall_s"]]
        peers = [r for r in prow if r["tool"] != "pgmoneta" and r["wall_s"]]
        by = {r["label"]: r for r in prow}
        lines.append("")
        lines.append(f"Ratio = peer time / our time (> 1: pgmoneta restores faster). Targets: "
                     f"{PGBR_ZST2} / ours >= {PGBR_TARGET}, {CP} / ours >= {CP_TARGET}.")
        lines.append("")
        lines.append(f"| pgmoneta | our wall s | {md(PGBR_ZST2)} / ours (target >= {PGBR_TARGET}) "
                     f"| {md(CP)} / ours (target >= {CP_TARGET}) | every peer (ratio) |")
        lines.append("| --- | ---: | ---: | ---: | --- |")
        ratios = []
        for o in ours:
            rp, rc = ratio(by.get(PGBR_ZST2), o), ratio(by.get(CP), o)
            mp = "" if rp is None else (" ok" if rp >= PGBR_TARGET else " BELOW TARGET")
            mc = "" if rc is None else (" ok" if rc >= CP_TARGET else " BELOW TARGET")
            each = ", ".join(f"{md(p['label'])} {ratio(p, o):.2f}" for p in peers) or "none"
            ratios.append({"ours": o["label"], "pgbackrest_zst_p2": rp, "cp": rc,
                           "peers": {p["label"]: round(ratio(p, o), 3) for p in peers}})
            lines.append(f"| {md(o['label'])} | {o['wall_s']:.2f} | {fmt(rp)}{mp} | {fmt(rc)}{mc} | {each} |")
        if not ours:
            why = "missing" if "pgmoneta" in missing or not any(
                r["tool"] == "pgmoneta" for r in prow) else "every run failed"
            lines.append(f"| n/a (pgmoneta {why}) | | | | |")
        result["profiles"][prof] = {
            **pinfo, "rows": prow, "ratios": ratios,
            "backups": {k[1]: v for k, v in backups.items() if k[0] == prof},
        }

    lines.append("")
    lines.append(footer(meta))
    finish(out, result, lines, runs)


if __name__ == "__main__":
    main()
