#!/usr/bin/env python3
"""Turns bench/incremental/run.sh's raw measurements into the printed Markdown table, JSON and CSV.

usage: report.py RAW.tsv OUT_PREFIX key=value...   (writes OUT_PREFIX.json and OUT_PREFIX.csv;
                                                     key=value pairs end up in "meta")

RAW lines (tab separated):
  m        <profile> <run> <tool> <kind> <ok|failed> <wall s> <tool cpu s> <server cpu s>
           <machine cpu s> <stored bytes> <note>
           kind: full | incr1 | incr10 | chain<N> | restore-chain | restore-full
  change   <profile> <run> <step> <modulus> <rows updated> <heap pages before>
  check    <profile> <run> <tool> <kind> <ok|failed> <sum count, or the problem>
  profile  <profile> <data directory bytes> <databases bytes> <pg_wal bytes> <pgbench_accounts pages>
  missing  <tool> <reason>
  failure  <profile> <tool> <kind> <last line the tool printed>
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from report_lib import MB, args, each_profile, finish, fmt, md, median, postgresql, run_kind  # noqa: E402

OURS = "pgmoneta zstd:3 w2"
TOOL_ORDER = [OURS, "pgBackRest zst:3 p2", "pg_basebackup server-zstd:3 w2"]
KIND_ORDER = ["full", "incr1", "incr10", "chain", "restore-chain", "restore-full"]


def load(raw):
    ms, changes, checks, profiles, missing, failures = [], [], [], {}, {}, []
    with open(raw) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if p[0] == "m":
                ms.append({"profile": p[1], "run": int(p[2]), "tool": p[3], "kind": p[4], "status": p[5],
                           "wall_s": float(p[6]), "tool_cpu_s": float(p[7]), "server_cpu_s": float(p[8]),
                           "machine_cpu_s": float(p[9]), "stored_bytes": int(p[10]),
                           "note": p[11] if len(p) > 11 else ""})
            elif p[0] == "change":
                changes.append({"profile": p[1], "run": int(p[2]), "step": p[3], "modulus": int(p[4]),
                                "rows": int(p[5]), "heap_pages": int(p[6]),
                                "pages_pct": 100.0 * int(p[5]) / int(p[6]) if int(p[6]) else None})
            elif p[0] == "check":
                checks.append({"profile": p[1], "run": int(p[2]), "tool": p[3], "kind": p[4], "status": p[5],
                               "detail": p[6] if len(p) > 6 else ""})
            elif p[0] == "profile":
                profiles[p[1]] = {"data_directory_bytes": int(p[2]), "databases_bytes": int(p[3]),
                                  "pg_wal_bytes": int(p[4]), "accounts_pages": int(p[5])}
            elif p[0] == "missing":
                missing[p[1]] = p[2]
            elif p[0] == "failure":
                failures.append({"profile": p[1], "tool": p[2], "kind": p[3], "message": p[4]})
    return ms, changes, checks, profiles, missing, failures


def row_kind(kind):
    return "chain" if re.fullmatch(r"chain\d+", kind) else kind


def kind_name(kind, tool, pct, links):
    full_again = tool.startswith("pg_basebackup")
    if kind == "full":
        return "full backup"
    if kind == "incr1":
        return f"after {pct.get('incr1', '~1')} % pages changed: " + ("full again" if full_again else "incremental")
    if kind == "incr10":
        return f"after {pct.get('incr10', '~10')} % pages changed: " + ("full again" if full_again else "incremental")
    if kind == "chain":
        return f"chain links 4-{links}, each after ~1 %: incremental (median)"
    if kind == "restore-chain":
        return f"restore of the newest incremental (chain of {links})"
    if kind == "restore-full":
        return "restore of the newest tar (unpack)" if full_again else "restore of the full backup (chain root)"
    return kind


def summarise(ms, checks):
    groups = {}
    for m in ms:
        groups.setdefault((m["profile"], m["tool"], row_kind(m["kind"])), []).append(m)
    rows = []
    for (prof, tool, kind), rs in groups.items():
        ok = [r for r in rs if r["status"] == "ok"]
        chk = [c for c in checks if c["profile"] == prof and c["tool"] == tool and c["kind"] == kind]
        rows.append({
            "profile": prof, "tool": tool, "kind": kind, "n": len(rs), "failed": len(rs) - len(ok),
            "wall_s": median([r["wall_s"] for r in ok]),
            "wall_s_all": [round(r["wall_s"], 2) for r in ok],
            "tool_cpu_s": median([r["tool_cpu_s"] for r in ok]),
            "server_cpu_s": median([r["server_cpu_s"] for r in ok]),
            "machine_cpu_s": median([r["machine_cpu_s"] for r in ok]),
            "stored_bytes": median([r["stored_bytes"] for r in ok]) if not kind.startswith("restore") else None,
            "check": ("ok" if chk and all(c["status"] == "ok" for c in chk)
                      else "FAILED: " + "; ".join(c["detail"] for c in chk if c["status"] != "ok") if chk else None),
        })
    rows.sort(key=lambda r: (TOOL_ORDER.index(r["tool"]) if r["tool"] in TOOL_ORDER else 9,
                             KIND_ORDER.index(r["kind"]) if r["kind"] in KIND_ORDER else 9))
    return rows


def ratio(a, b):
    return a / b if a is not None and b else None


def main():
    raw, out, meta = args()
    ms, changes, checks, profiles, missing, failures = load(raw)
    rows = summarise(ms, checks)
    links = meta.get("chain_links", "7")
    result = {"meta": meta, "missing": missing, "failures": failures, "changes": changes,
              "checks": checks, "profiles": {}}
    lines = []
    for prof, prow, pinfo in each_profile(rows, profiles):
        data = pinfo.get("data_directory_bytes", 0) - pinfo.get("pg_wal_bytes", 0)
        pct = {}
        for step in ("incr1", "incr10"):
            v = median([c["pages_pct"] for c in changes if c["profile"] == prof and c["step"] == step])
            if v is not None:
                pct[step] = f"{v:.1f}"
        lines.append("")
        lines.append(f"### Profile `{prof}`: data directory {data / MB:,.0f} MB without pg_wal, "
                     f"pgbench_accounts {pinfo.get('accounts_pages', 0):,} pages; "
                     f"median of {meta.get('runs', '?')} run(s)")
        lines.append("")
        lines.append("| tool | step | wall s | CPU s (tool) | CPU s (server) | stored MB "
                     "| time vs ours | tool CPU vs ours | stored vs ours | restored copy |")
        lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        ours = {r["kind"]: r for r in prow if r["tool"] == OURS}
        for r in prow:
            name = kind_name(r["kind"], r["tool"], pct, links)
            if r["wall_s"] is None:
                lines.append(f"| {md(r['tool'])} | {name} | failed ({r['failed']}/{r['n']}) | | | | | | | |")
                continue
            o = ours.get(r["kind"])
            if r["tool"] == OURS:
                tr = cr = sr = "1.00"
            else:
                tr = fmt(ratio(r["wall_s"], o["wall_s"] if o else None))
                cr = fmt(ratio(r["tool_cpu_s"], o["tool_cpu_s"] if o else None))
                sr = fmt(ratio(r["stored_bytes"], o["stored_bytes"] if o else None))
            stored = "-" if r["stored_bytes"] is None else f"{r['stored_bytes'] / MB:,.1f}"
            if r["stored_bytes"] is None:
                sr = "-"
            fail = f" ({r['failed']} failed)" if r["failed"] else ""
            cpu_t = fmt(r["tool_cpu_s"]) + (" (daemon+CLI)" if r["tool"] == OURS else "")
            lines.append(f"| {md(r['tool'])} | {name}{fail} | {r['wall_s']:.2f} | {cpu_t} | {fmt(r['server_cpu_s'])} "
                         f"| {stored} | {tr} | {cr} | {sr} | {r['check'] or '-'} |")
        if "pgmoneta" in missing:
            lines.append(f"| {OURS} | every step | missing: {md(missing['pgmoneta'])} | | | | | | | |")
        pf = [f for f in failures if f["profile"] == prof]
        if pf:
            lines.append("")
            lines.append("Failed: " + ", ".join(f"{f['tool']} {f['kind']}" for f in pf)
                         + f"; the first said: `{pf[0]['message']}`")
        # one line per change step: what it actually touched
        cs = [c for c in changes if c["profile"] == prof]
        if cs:
            lines.append("")
            lines.append("Changes (run 1): " + ", ".join(
                f"{c['step']} {c['rows']} rows = {c['pages_pct']:.2f} % of {c['heap_pages']:,} pages"
                for c in cs if c["run"] == 1) + ".")
        # chain restore against full restore, per tool
        cr = []
        for tool in TOOL_ORDER:
            c = next((r for r in prow if r["tool"] == tool and r["kind"] == "restore-chain"), None)
            f = next((r for r in prow if r["tool"] == tool and r["kind"] == "restore-full"), None)
            if c and f and c["wall_s"] and f["wall_s"]:
                cr.append(f"{tool} {c['wall_s'] / f['wall_s']:.2f}x")
        if cr:
            lines.append("")
            lines.append(f"Restore of the chain of {links} / restore of the full backup, same tool: "
                         + ", ".join(cr) + ".")
        # pgmoneta's own breakdown of its incrementals (backup.info), run 1
        br = []
        for m in ms:
            if m["profile"] == prof and m["tool"] == OURS and m["run"] == 1 and m["status"] == "ok":
                kv = dict(x.split("=", 1) for x in m["note"].split() if "=" in x)
                if "ELAPSED" in kv:
                    br.append(f"{m['kind']} {float(kv['ELAPSED']):.2f} s (stream "
                              f"{float(kv.get('BASEBACKUP_ELAPSED', 0)):.2f}, linking "
                              f"{float(kv.get('LINKING_ELAPSED', 0)):.2f})")
        if br:
            lines.append("")
            lines.append("pgmoneta's own timing of each backup (backup.info, run 1): " + ", ".join(br) + ".")
        result["profiles"][prof] = {**pinfo, "rows": prow}

    lines.append("")
    lines.append("Ratios are peer / ours: time vs ours > 1 means pgmoneta was faster, stored vs ours > 1 "
                 "means pgmoneta stored less. pg_basebackup has no incremental on PostgreSQL 15: its "
                 "\"incremental\" rows are full backups; it has no chain restore.")
    lines.append("")
    lines.append(f"{meta.get('date', '')}, {meta.get('cpus', '?')} CPUs ({meta.get('cpu_model', '')}), "
                 f"load {meta.get('load_before', '?')} before / {meta.get('load_after', '?')} after, "
                 f"{postgresql(meta)}, {meta.get('pgbackrest', '')}, "
                 f"pgmoneta {meta.get('pgmoneta_commit', '')}, pgbench scale {meta.get('scale', '?')}, "
                 f"{meta.get('runs', '?')} run(s), {run_kind(meta)} run, "
                 f"{meta.get('cache_note', '')}, {meta.get('elapsed_s', '?')} s")
    finish(out, result, lines, ms, key="measurements",
           fields=["profile", "run", "tool", "kind", "status", "wall_s", "tool_cpu_s", "server_cpu_s",
                   "machine_cpu_s", "stored_bytes", "note"])


if __name__ == "__main__":
    main()
