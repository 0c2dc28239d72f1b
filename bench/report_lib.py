"""Shared helpers of the benchmark reports bench/{backup,restore,incremental,wal}/report.py.

Each report.py puts this file's directory (bench/) on sys.path and imports it.
"""
import csv
import json
import statistics
import sys

MB = 1e6


def args():
    """(raw, out, meta) from the command line: RAW.tsv OUT key=value..."""
    return sys.argv[1], sys.argv[2], dict(a.split("=", 1) for a in sys.argv[3:])


def median(xs):
    """The median of the values that are not None; None when there are none."""
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(v, spec=".2f", none="n/a"):
    return none if v is None else format(v, spec)


def md(s):
    """A Markdown table cell: '|' escaped (the ceiling's label is a pipeline)."""
    return str(s).replace("|", "\\|")


def wall_ratio(peer, ours):
    """peer wall / our wall of two summary rows (> 1: ours is faster); None if either is missing."""
    if not peer or not ours or peer["wall_s"] is None or not ours["wall_s"]:
        return None
    return peer["wall_s"] / ours["wall_s"]


def each_profile(rows, profiles, key=None):
    """(profile, its summary rows, its "profile" line) for plain, then realistic, when it has
    either; the rows sorted by key when given (stable: configuration order otherwise)."""
    for prof in ("plain", "realistic"):
        prow = [r for r in rows if r["profile"] == prof]
        if key:
            prow.sort(key=key)
        if not prow and prof not in profiles:
            continue
        yield prof, prow, profiles.get(prof, {})


def postgresql(meta):
    """The PostgreSQL version without the "on <platform>" part."""
    return meta.get("postgresql", "").split(" on ")[0]


def run_kind(meta):
    return "QUICK" if meta.get("quick") == "1" else "full"


def footer(meta):
    """The machine line under the backup and restore tables."""
    return (f"{meta.get('date', '')}, {meta.get('cpus', '?')} CPUs ({meta.get('cpu_model', '')}), "
            f"{postgresql(meta)}, {meta.get('pgbackrest', '')}, "
            f"pgmoneta {meta.get('pgmoneta_commit', '')} "
            f"(CMAKE_BUILD_TYPE={meta.get('pgmoneta_build_type') or 'unset: RelWithDebInfo'}), "
            f"pgbench scale {meta.get('scale', '?')}, {meta.get('runs', '?')} run(s), "
            f"{run_kind(meta)} run, {meta.get('elapsed_s', '?')} s")


def write_json(path, result):
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")


def write_csv(path, rows, fields=None):
    """One line per row; the columns are fields, else the first row's keys (["profile"] without rows)."""
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields or (list(rows[0].keys()) if rows else ["profile"]))
        w.writeheader()
        for r in rows:
            w.writerow(r)


def finish(out, result, lines, rows, key="runs", fields=None, strip=True):
    """Prints the report text (lines joined, leading newlines stripped unless strip=False), stores it
    as result["table"] and the rows as result[key], and writes out.json and out.csv."""
    text = "\n".join(lines)
    if strip:
        text = text.lstrip("\n")
    result["table"] = text
    result[key] = rows
    print(text)
    write_json(out + ".json", result)
    write_csv(out + ".csv", rows, fields)
