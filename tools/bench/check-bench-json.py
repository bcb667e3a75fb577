#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Smoke test of `hetmem bench`: the shape of its output, never its speed.

Usage: check-bench-json.py HETMEM [--gpu]

--gpu: the build has the GPU driver, so the GPU's rows of "hmm" must be
there too.

Runs `hetmem bench --quick --json FILE` (and --plot DIR when gnuplot is
installed) and checks that every benchmark built into the tool ran, that
each one produced the rows it must (by their stable ids), that every row
has its fields with sane values (positive figures and references, the
ratio computed from them, a verdict exactly when there is a target), that
the table printed every row, and that the charts have data. Exit 0 when
all holds, 1 with the reasons when not.
"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

EXPECTED = {
    "lookup": [f"{k}.{n}" for n in (1, 1024)
               for k in ("ordinary", "p2p.virt.2m", "p2p.pfn.2m", "p2p.virt.64k")],
    "dma-map": ["system", "p2p.bus_addr", "p2p.thru_host_bridge"],
    "fabric": ["write.p2p.4k", "write.host.4k", "write.p2p.128k", "write.host.128k",
               "read.p2p.128k", "read.host.128k", "write.p2p.1024k", "write.host.1024k"],
    "nvme": [f"randread.qd{q}.t{t}" for t in (1, 2) for q in (1, 8, 32)]
            + [f"seq.p2p.{s}k.vs_{r}" for s in (4, 128, 1024) for r in ("bounce", "memcpy")]
            + ["seq.bounce.128k", "cmb_copy.within.128k", "cmb_copy.128k"],
    "hmm": ["range_fault.large", "device_fault_service", "migrate_to_dev.large",
            "migrate_to_sys.large", "fault_back.seq.large", "fault_back.seq.small",
            "fault_back.random", "fault_latency.median", "fault_latency.p99"],
}

# Rows of the GPU driver in "hmm": all there with --gpu; without it, the
# first present means every other must be.
TOGETHER = {"hmm": ["device_fault_service.gpu", "gpu_fault_kernel", "migrate_to_vram.large",
                    "migrate_to_vram.vs_dmirror", "migrate_from_vram.large",
                    "migrate_from_vram.vs_dmirror", "fault_back.vram.seq.large",
                    "fault_back.vram.seq.vs_dmirror"]}

# Charts every run draws when their benchmark ran, by benchmark.
CHARTS = {"lookup": ["lookup"], "fabric": ["fabric-dma"], "nvme": ["nvme-iops", "nvme-p2p"],
          "hmm": ["hmm-migrate", "hmm-latency"]}

# Benchmarks that may be skipped for a reason of the machine, not of hetmem.
MAY_SKIP = {"hmm": "userfaultfd not available"}

ROW_FIELDS = {"id": str, "benchmark": str, "figure": str, "unit": str, "value": float,
              "spread": float, "samples": int, "reference": float, "reference_unit": str,
              "reference_name": str, "ratio": float, "target": str, "met": str}


def built_modules(hetmem):
    run = subprocess.run([hetmem, "bench", "--list"], capture_output=True, text=True,
                         check=True)
    names = []
    for line in run.stdout.splitlines():
        name, _, rest = line.partition(" ")
        if name and "not built" not in rest:
            names.append(name)
    return names


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_row(row, errors):
    rid = row.get("id", "?")
    for key, kind in ROW_FIELDS.items():
        if key not in row:
            errors.append(f"row {rid}: no {key}")
        elif kind is float and not is_number(row[key]):
            errors.append(f"row {rid}: {key} is not a number: {row[key]!r}")
        elif kind is int and not isinstance(row[key], int):
            errors.append(f"row {rid}: {key} is not an integer: {row[key]!r}")
        elif kind is str and not isinstance(row[key], str):
            errors.append(f"row {rid}: {key} is not a string: {row[key]!r}")
    if any(k not in row for k in ROW_FIELDS):
        return
    for key in ("value", "reference", "ratio"):
        if is_number(row[key]) and row[key] <= 0:
            errors.append(f"row {rid}: {key} {row[key]} is not positive")
    if is_number(row["spread"]) and row["spread"] < 0:
        errors.append(f"row {rid}: negative spread")
    if isinstance(row["samples"], int) and row["samples"] < 1:
        errors.append(f"row {rid}: no samples")
    if not row["unit"] or not row["reference_unit"] or not row["reference_name"]:
        errors.append(f"row {rid}: empty unit or reference name")
    if all(is_number(row[k]) and row[k] > 0 for k in ("value", "reference", "ratio")):
        want = row["value"] / row["reference"]
        if abs(row["ratio"] - want) > 1e-6 * want:
            errors.append(f"row {rid}: ratio {row['ratio']} is not value/reference {want}")
    if row["met"] not in ("yes", "no", "n.a."):
        errors.append(f"row {rid}: met is {row['met']!r}")
    if (row["target"] == "-") != (row["met"] == "n.a."):
        errors.append(f"row {rid}: target {row['target']!r} but met {row['met']!r}")
    if not rid.startswith(row["benchmark"] + "."):
        errors.append(f"row {rid}: id does not start with its benchmark")


def main():
    hetmem = sys.argv[1]
    gpu = "--gpu" in sys.argv[2:]
    errors = []
    modules = built_modules(hetmem)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "bench.json")
        plots = os.path.join(tmp, "plots")
        cmd = [hetmem, "bench", "--quick", "--json", out]
        gnuplot = shutil.which("gnuplot") is not None
        if gnuplot:
            cmd += ["--plot", plots]
        run = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            print(f"{' '.join(cmd)} exited {run.returncode}\n{run.stderr}")
            return 1
        try:
            with open(out, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            print(f"{out}: {e}")
            return 1

        for key in ("tool", "machine", "quick", "references", "modules", "rows", "charts"):
            if key not in doc:
                errors.append(f"no {key}")
        if errors:
            print("\n".join(errors))
            return 1
        if doc["quick"] is not True:
            errors.append("quick is not true")
        for ref in doc["references"]:
            if not ref.get("name") or not is_number(ref.get("value")) or ref["value"] <= 0:
                errors.append(f"reference {ref!r} has no positive value")

        status = {m["name"]: m for m in doc["modules"]}
        rows = {}
        for row in doc["rows"]:
            check_row(row, errors)
            if row.get("id") in rows:
                errors.append(f"row {row['id']} twice")
            rows[row.get("id")] = row
        for name in modules:
            m = status.get(name)
            if not m:
                errors.append(f"benchmark {name} did not run")
                continue
            if m["status"] == "skipped" and name in MAY_SKIP:
                print(f"{name} skipped: {m['note']}")
                continue
            if m["status"] != "ran":
                errors.append(f"benchmark {name} {m['status']}: {m['note']}")
                continue
            for rid in EXPECTED.get(name, []):
                if f"{name}.{rid}" not in rows:
                    errors.append(f"benchmark {name}: no row {name}.{rid}")
            together = TOGETHER.get(name, [])
            if together and (gpu or f"{name}.{together[0]}" in rows):
                for rid in together[1:]:
                    if f"{name}.{rid}" not in rows:
                        errors.append(f"benchmark {name}: no row {name}.{rid}")

        for row in doc["rows"]:
            if row.get("figure") and row["figure"] not in run.stdout:
                errors.append(f"the table lacks row {row.get('id')}")

        chart_ids = {c.get("id") for c in doc["charts"]}
        for name in modules:
            if status.get(name, {}).get("status") != "ran":
                continue
            for cid in CHARTS.get(name, []):
                if cid not in chart_ids:
                    errors.append(f"benchmark {name}: no chart {cid}")
        for chart in doc["charts"]:
            if chart.get("kind") not in ("xy", "cdf") or not chart.get("id"):
                errors.append(f"chart {chart.get('id')!r}: bad kind or id")
                continue
            points = [p for s in chart.get("series", []) for p in s.get("points", [])]
            if not points:
                errors.append(f"chart {chart['id']}: no data")
            elif not all(len(p) == 2 and is_number(p[0]) and is_number(p[1]) for p in points):
                errors.append(f"chart {chart['id']}: a point is not two numbers")
            elif gnuplot and not os.path.isfile(os.path.join(plots, chart["id"] + ".png")):
                errors.append(f"chart {chart['id']}: no PNG written")

    if errors:
        print("\n".join(errors))
        return 1
    print(f"{len(doc['rows'])} rows from {len(modules)} benchmarks, "
          f"{len(doc['charts'])} charts: shape as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
