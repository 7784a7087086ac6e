#!/usr/bin/env python3
"""bench/report.py: turn bench/run's results.tsv into a markdown table on
stdout and a JSON file (figures comparable between commits).

results.tsv lines: SECTION <TAB> TOOL <TAB> ROUND <TAB> key=value ...
Keys: wall (s), cpu (s), rss (KiB), size (bytes), and free-form extras
(lag_bytes, ms_per_call, ...). A line with TOOL "#meta" carries metadata.

Ratios: in each section, every "barrel..." tool's median wall time over
each anchor's median wall time (lower is better).
"""
import json
import statistics
import sys

# (section, barrel tool, anchor tool, max ratio, what) -- the targets
TARGETS = [
    ("backup", "barrel w1", "pg_basebackup client-zstd:3", 0.9, "backup wall <= 0.9x pg_basebackup client-zstd:3"),
    ("backup", "barrel w2", "pg_basebackup client-zstd:3", 0.9, "backup wall (workers 2) <= 0.9x pg_basebackup client-zstd:3"),
    ("backup", "barrel w1", "barman", 0.8, "backup wall <= 0.8x Barman"),
    ("backup", "barrel w2", "pgbackrest p2", 0.7, "backup wall (workers 2) <= 0.7x pgBackRest process-max 2"),
    ("restore", "barrel j2", "zstd -dc | tar -x", 1.2, "restore wall <= 1.2x zstd -dc | tar -x"),
    ("restore", "barrel j2", "@fastest:barman recover,pgbackrest restore p2", 1.0,
     "restore wall <= 1.0x the fastest of Barman and pgBackRest"),
    ("pitr", "@first:barrel --background-wal,barrel", "barman", 0.5, "PITR to a queryable server <= 0.5x Barman"),
    ("archive-wal gzip", "barrel", "barman", 1 / 1.8, "archive-wal gzip >= 1.8x Barman's throughput"),
    ("archive-wal zstd", "barrel", "pgbackrest archive-push", 1 / 1.5, "archive-wal zstd >= 1.5x pgBackRest archive-push"),
    ("get-wal", "barrel", "barman", 1 / 5, "get-wal latency >= 5x lower than Barman"),
    ("verify", "barrel verify-backup", "zstd -dc > /dev/null", 1.2, "verify-backup <= 1.2x zstd -dc"),
    ("list-backups", "barrel", "barman", 1 / 20, "list-backups >= 20x faster than Barman"),
]
RSS_LIMIT_KIB = 64 * 1024


def load(path):
    rows, meta = [], {}
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3:
                continue
            section, tool, rnd = parts[0], parts[1], parts[2]
            kv = {}
            for p in parts[3:]:
                if "=" in p:
                    k, v = p.split("=", 1)
                    try:
                        kv[k] = float(v)
                    except ValueError:
                        kv[k] = v
            if tool == "#meta":
                meta.setdefault(section, {}).update(kv)
                continue
            rows.append((section, tool, rnd, kv))
    return rows, meta


def summarise(rows):
    """{section: {tool: {key: [values]}}}, keeping first-seen order."""
    out = {}
    for section, tool, _rnd, kv in rows:
        t = out.setdefault(section, {}).setdefault(tool, {})
        for k, v in kv.items():
            if isinstance(v, float):
                t.setdefault(k, []).append(v)
            else:
                t.setdefault(k, [v])
    return out


def stats(vals):
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def fmt_val(key, v):
    if key == "wall" or key == "cpu":
        return "%.2f" % v if v >= 1 else "%.3f" % v
    if key == "rss":
        return "%.1f" % (v / 1024)
    if key == "size":
        return "%.0f" % (v / 1e6)
    if key.endswith("bytes"):
        return "%.1f" % (v / 1048576)
    return "%.3g" % v


def fmt_stat(key, s):
    if s["n"] == 1 or s["min"] == s["max"]:
        return fmt_val(key, s["median"])
    return "%s (%s-%s)" % (fmt_val(key, s["median"]), fmt_val(key, s["min"]), fmt_val(key, s["max"]))


UNITS = {"wall": "wall s", "cpu": "cpu s", "rss": "peak RSS MiB", "size": "stored MB",
         "ms_per_call": "ms per call", "sent_lag_bytes": "sent lag MiB", "flush_lag_bytes": "reported flush lag MiB",
         "mb_per_s": "MB/s"}


def main():
    tsv, out_json = sys.argv[1], sys.argv[2]
    rows, meta = load(tsv)
    summ = summarise(rows)
    doc = {"meta": meta, "sections": {}, "targets": []}
    print()
    m = meta.get("run", {})
    print("barrel benchmark: commit %s, pgbench scale %s, %s rounds, %s CPUs, database %s MB"
          % (m.get("commit", "?"), m.get("scale", "?"), m.get("rounds", "?"), m.get("cpus", "?"),
             m.get("db_mb", "?")))
    print("each cell: median (min-max) over the rounds; A B A B order; ratio = barrel median wall / anchor median wall")
    for section, tools in summ.items():
        keys = []
        for t in tools.values():
            for k, v in t.items():
                if k not in keys and isinstance(v[0], float) and not k.startswith("_"):
                    keys.append(k)
        order = [k for k in ("wall", "cpu", "rss", "size") if k in keys] + \
                [k for k in keys if k not in ("wall", "cpu", "rss", "size")]
        sdoc = doc["sections"].setdefault(section, {})
        anchors = [t for t in tools if not t.startswith("barrel")]
        barrels = [t for t in tools if t.startswith("barrel")]
        lm = meta.get(section, {})
        note = lm.get("note", "")
        print("\n### %s%s\n" % (section, (": " + note) if note else ""))
        head = ["tool"] + [UNITS.get(k, k) for k in order]
        if "wall" in order and anchors and barrels:
            head += ["barrel/" + a for a in anchors] if len(barrels) == 1 else ["barrel wall / anchor"]
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for tool, kv in tools.items():
            tdoc = sdoc.setdefault(tool, {})
            cells = [tool]
            for k in order:
                if k in kv and isinstance(kv[k][0], float):
                    s = stats(kv[k])
                    tdoc[k] = s
                    cells.append(fmt_stat(k, s))
                else:
                    cells.append("")
            for k, v in kv.items():
                if not isinstance(v[0], float):
                    tdoc[k] = v[0]
            if "wall" in order and anchors and barrels:
                if len(barrels) == 1:
                    for a in anchors:
                        if tool in barrels and "wall" in tools[a]:
                            r = stats(kv["wall"])["median"] / stats(tools[a]["wall"])["median"]
                            cells.append("%.2fx" % r)
                        else:
                            cells.append("")
                else:
                    if tool in barrels:
                        rs = []
                        for a in anchors:
                            if "wall" in tools[a]:
                                r = stats(kv["wall"])["median"] / stats(tools[a]["wall"])["median"]
                                rs.append("%.2fx %s" % (r, a))
                        cells.append("; ".join(rs))
                    else:
                        cells.append("")
            print("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        extras = ["%s: %s" % (k, v) for k, v in lm.items() if k != "note"]
        if extras:
            print("\n" + "; ".join(extras))
        for k, v in lm.items():
            if k != "note":
                sdoc.setdefault("#meta", {})[k] = v
    # skipped anchors
    skipped = meta.get("skipped", {})
    if skipped:
        print()
        for k, v in skipped.items():
            print("skipped: %s (%s)" % (k, v))
    # targets
    print("\n### targets\n")
    print("| target | barrel | anchor | ratio | limit | verdict |")
    print("|---|---|---|---|---|---|")

    def med(section, tool, key="wall"):
        try:
            return statistics.median(summ[section][tool][key])
        except KeyError:
            return None

    for section, btool, atool, limit, what in TARGETS:
        if btool.startswith("@first:"):
            cands = [t for t in btool[len("@first:"):].split(",") if med(section, t) is not None]
            btool = cands[0] if cands else btool[len("@first:"):].split(",")[-1]
        b = med(section, btool)
        if atool.startswith("@fastest:"):
            cands = [(med(section, a), a) for a in atool[len("@fastest:"):].split(",")]
            cands = [c for c in cands if c[0] is not None]
            a, atool = min(cands) if cands else (None, atool)
        else:
            a = med(section, atool)
        if b is None or a is None:
            verdict, r = "not measured", None
        else:
            r = b / a
            verdict = "met" if r <= limit else "MISSED"
        print("| %s | %s | %s | %s | %s | %s |" % (
            what.replace("|", "\\|"), btool, atool.replace("|", "\\|"), "%.2fx" % r if r is not None else "-", "%.2fx" % limit, verdict))
        doc["targets"].append({"target": what, "barrel": btool, "anchor": atool, "ratio": r,
                               "limit": limit, "verdict": verdict})
    for section in ("backup", "restore", "rss"):
        for tool, kv in summ.get(section, {}).items():
            if tool.startswith("barrel") and "rss" in kv:
                peak = max(kv["rss"])
                verdict = "met" if peak <= RSS_LIMIT_KIB else "MISSED"
                what = "peak RSS <= 64 MiB: %s %s" % (section, tool)
                print("| %s | %.1f MiB | | | 64 MiB | %s |" % (what, peak / 1024, verdict))
                doc["targets"].append({"target": what, "peak_rss_kib": peak, "verdict": verdict})
    with open(out_json, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write("\n")
    print("\nJSON: %s" % out_json)


if __name__ == "__main__":
    main()
