#!/usr/bin/env python3
"""Turns bench/wal/run.sh's raw measurements into the printed table and the JSON file.

usage: report.py RAW.tsv OUT.json key=value...   (key=value pairs end up in "meta")

RAW lines (tab separated):
  stream  <profile> <receiver label> <wal bytes> <stored bytes> <receiver ticks>
          <walsender ticks> <peak rss kB> <ticks per second> <spec>
  window  <profile> <generation seconds> <generation + catch-up seconds>
  sync    <mode> <run> <tps> <clients> <seconds>
"""
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from report_lib import args, postgresql, run_kind, write_json  # noqa: E402

GB = 1e9


def peer_of(label, labels):
    """The pg_receivewal row a pgmoneta row is compared with: same algorithm when
    pg_receivewal has it (none, lz4, gzip), else gzip (the strongest PG15 pg_receivewal has)."""
    if not label.startswith("pgmoneta"):
        return None
    algo = label.split()[1].split(":")[0].split("+")[0]
    want = {"none": "pg_receivewal", "lz4": "pg_receivewal lz4", "gzip": "pg_receivewal gzip"}
    cand = want.get(algo, "pg_receivewal gzip")
    return cand if cand in labels else None


def main():
    raw, out, meta = args()
    streams, windows, syncs, floors, verify = {}, {}, {}, {}, {}
    with open(raw) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if p[0] == "stream":
                prof, label = p[1], p[2]
                wal, stored, rt, wt, rss, hz = (int(x) for x in p[3:9])
                streams.setdefault(prof, []).append({
                    "receiver": label, "spec": p[9], "wal_bytes": wal, "stored_bytes": stored,
                    "cpu_s": rt / hz, "walsender_cpu_s": wt / hz, "peak_rss_mb": round(rss / 1024, 1),
                    "minor_faults": int(p[10]), "disk_write_bytes": int(p[11]),
                })
            elif p[0] == "floor":
                user, sys_ = (float(x) for x in p[4].split())
                floors.setdefault(p[1], []).append({
                    "tool": p[2], "bytes": int(p[3]), "cpu_s": round(user + sys_, 2),
                    "cpu_s_per_gb": round((user + sys_) / (int(p[3]) / GB), 3) if int(p[3]) else None})
            elif p[0] == "verify":
                verify[(p[1], p[2])] = {"identical": int(p[3]), "different": int(p[4]), "segments": int(p[5])}
            elif p[0] == "window":
                windows[p[1]] = {"generate_s": float(p[2]), "generate_and_catch_up_s": float(p[3])}
            elif p[0] == "sync":
                syncs.setdefault(p[1], {"runs": [], "clients": int(p[4]), "seconds": int(p[5]),
                                        "transactions": 0, "receiver_cpu_s": 0.0})
                syncs[p[1]]["runs"].append(float(p[3]))
                if len(p) > 8:
                    syncs[p[1]]["transactions"] += int(p[6])
                    syncs[p[1]]["receiver_cpu_s"] += int(p[7]) / int(p[8])

    lines = []
    result = {"meta": meta, "stream": {}, "sync": {}}
    for prof, rows in streams.items():
        labels = [r["receiver"] for r in rows]
        by = {r["receiver"]: r for r in rows}
        for r in rows:
            gb = r["wal_bytes"] / GB
            r["cpu_s_per_gb"] = round(r["cpu_s"] / gb, 3)
            r["walsender_cpu_s_per_gb"] = round(r["walsender_cpu_s"] / gb, 3)
            r["stored_bytes_per_gb"] = round(r["stored_bytes"] / gb)
            r["stored_ratio"] = round(r["stored_bytes"] / r["wal_bytes"], 4)
            r["minor_faults_per_gb"] = round(r["minor_faults"] / gb)
            r["verified_vs_plain_pg_receivewal"] = verify.get((prof, r["receiver"]))
            r["disk_write_bytes_per_gb"] = round(r["disk_write_bytes"] / gb)
        base = by.get("pg_receivewal")
        for r in rows:
            peer = peer_of(r["receiver"], labels)
            r["peer"] = peer
            r["cpu_ratio_vs_peer"] = (round(r["cpu_s_per_gb"] / by[peer]["cpu_s_per_gb"], 2)
                                      if peer and by[peer]["cpu_s_per_gb"] > 0 else None)
            r["cpu_ratio_vs_plain_pg_receivewal"] = (
                round(r["cpu_s_per_gb"] / base["cpu_s_per_gb"], 2)
                if base and base["cpu_s_per_gb"] > 0 else None)
            r["stored_ratio_vs_peer"] = (round(r["stored_bytes"] / by[peer]["stored_bytes"], 3)
                                         if peer and by[peer]["stored_bytes"] > 0 else None)
        wal = rows[0]["wal_bytes"]
        w = windows.get(prof, {})
        result["stream"][prof] = {"wal_bytes": wal, **w, "receivers": rows,
                                  "library_floor": floors.get(prof, [])}
        lines.append("")
        lines.append(
            f"Part 1 - receiver cost, profile '{prof}': {wal / 1e6:,.0f} MB of WAL "
            f"({wal // int(meta.get('wal_segment_size', 16777216))} segments), generated in "
            f"{w.get('generate_s', 0):.1f} s, stored by every receiver "
            f"{w.get('generate_and_catch_up_s', 0) - w.get('generate_s', 0):.1f} s later")
        hdr = (f"{'receiver':<28} {'CPU-s/GB':>8} {'x plain':>7} {'x peer':>6}  {'peer':<18} "
               f"{'stored MB/GB':>12} {'x peer':>6} {'written MB/GB':>13} {'kfaults/GB':>10} "
               f"{'walsender CPU-s/GB':>18} {'RSS MB':>6}")
        lines.append(hdr)
        lines.append("-" * len(hdr))
        for r in rows:
            def fx(v):
                return f"{v:.2f}" if v is not None else "-"
            lines.append(
                f"{r['receiver']:<28} {r['cpu_s_per_gb']:>8.2f} {fx(r['cpu_ratio_vs_plain_pg_receivewal']):>7} "
                f"{fx(r['cpu_ratio_vs_peer']):>6}  {(r['peer'] or '-'):<18} "
                f"{r['stored_bytes_per_gb'] / 1e6:>12.0f} {fx(r['stored_ratio_vs_peer']):>6} "
                f"{r['disk_write_bytes_per_gb'] / 1e6:>13.0f} {r['minor_faults_per_gb'] / 1e3:>10.1f} "
                f"{r['walsender_cpu_s_per_gb']:>18.2f} {r['peak_rss_mb']:>6.1f}")
        checks = []
        for r in rows:
            v = r["verified_vs_plain_pg_receivewal"]
            if v:
                checks.append(f"{r['receiver']} {v['identical']}/{v['segments']}"
                              + (f" ({v['different']} DIFFERENT)" if v["different"] else ""))
            if r["spec"] in ("pgm:none:0:none", "pgr:none") and r["stored_bytes"] != r["wal_bytes"]:
                checks.append(f"{r['receiver']} stored {r['stored_bytes']} bytes, not {r['wal_bytes']}")
        if checks:
            lines.append("segments identical to pg_receivewal's plain copy after decompression: " + ", ".join(checks))
        for fl in floors.get(prof, []):
            if fl["cpu_s_per_gb"] is None:
                continue
            lines.append(f"{'(library floor: ' + fl['tool'] + ' CLI)':<28} {fl['cpu_s_per_gb']:>8.2f}"
                         f"   same segments, one process per segment, output discarded")

    if syncs:
        # Runs are interleaved (none, pgmoneta, pg_receivewal, none, ...): the ratios are taken
        # within each round, then the median over rounds, which cancels slow drift of the disk.
        def round_ratio(runs, ref):
            if not ref:
                return None
            k = min(len(runs), len(ref["runs"]))
            return round(statistics.median(runs[i] / ref["runs"][i] for i in range(k)), 3) if k else None
        base = syncs.get("none")
        pgr = syncs.get("pg_receivewal --synchronous")
        any_s = next(iter(syncs.values()))
        lines.append("")
        lines.append(
            f"Part 2 - synchronous standby cost: pgbench -c {any_s['clients']} -j 2 -T {any_s['seconds']} "
            f"(scale 10), fsync=on, synchronous_commit=on; {len(any_s['runs'])} interleaved rounds")
        hdr = (f"{'synchronous standby':<30} {'median TPS':>10} {'mean TPS':>8}  {'runs':<24} "
               f"{'x none':>7} {'x pg_receivewal':>15} {'receiver CPU ms/1000 tx':>23}")
        lines.append(hdr)
        lines.append("-" * len(hdr))
        for mode, s in syncs.items():
            s["tps_mean"] = round(statistics.mean(s["runs"]), 1)
            s["tps_median"] = round(statistics.median(s["runs"]), 1)
            s["ratio_vs_none"] = round_ratio(s["runs"], base)
            s["ratio_vs_pg_receivewal_sync"] = round_ratio(s["runs"], pgr)
            result["sync"][mode] = s
            runs = ", ".join(f"{x:.0f}" for x in s["runs"])
            rn = "-" if s["ratio_vs_none"] is None else f"{s['ratio_vs_none']:.2f}"
            rp = "-" if s["ratio_vs_pg_receivewal_sync"] is None else f"{s['ratio_vs_pg_receivewal_sync']:.2f}"
            s["receiver_cpu_ms_per_1000_tx"] = (round(s["receiver_cpu_s"] * 1e6 / s["transactions"], 1)
                                                if s["transactions"] and mode != "none" else None)
            rc = "-" if s["receiver_cpu_ms_per_1000_tx"] is None else f"{s['receiver_cpu_ms_per_1000_tx']:.1f}"
            lines.append(f"{mode:<30} {s['tps_median']:>10.0f} {s['tps_mean']:>8.0f}  {runs:<24} {rn:>7} {rp:>15} {rc:>23}")
        lines.append("(x = median over rounds of the TPS ratio within a round)")

    lines.append("")
    lines.append(f"{meta.get('date', '')}  {meta.get('cpus', '?')} CPUs ({meta.get('cpu_model', '')}), "
                 f"{postgresql(meta)}, pgmoneta {meta.get('pgmoneta_commit', '')} "
                 f"(CMAKE_BUILD_TYPE={meta.get('pgmoneta_build_type') or 'unset, so the project default RelWithDebInfo (-O2 -g)'}), "
                 f"{run_kind(meta)} run, {meta.get('elapsed_s', '?')} s")
    text = "\n".join(lines)
    result["table"] = text
    print(text)
    write_json(out, result)


if __name__ == "__main__":
    main()
