"""Benchmark of `sovai diff` on two releases of 1M rows: against pyarrow reading both files,
and against datacompy comparing them (in its own environment, tests/tools/datacompy.txt).

    uv run python benchmarks/bench_diff.py [--rows 1000000] [--repeat 3] [--pair cells|rows]
                                           [--datacompy-repeat 1] [--keep DIR]

The pair (a models-like table: string key, string, int, float, date and list<string> columns,
some nulls):
  cells (default): the second release with ~1 % of the cells of every column changed, 0.5 % of
      rows removed and 0.5 % added, so every column has changes and the diff must read them all;
  rows: benchmarks/synthetic.py's generate_release_pair, exactly 1 % added, 1 % removed and 2 %
      of rows with one changed cell (the shape of a release: few columns change).
Each is a whole fresh process, timed with GNU time (wall, peak RSS, CPU), alternated `repeat`
times (median), so that they see the same machine load:
  read: `python -c` importing pyarrow and reading both files with pyarrow.parquet.read_table;
  sovai diff: `sovai diff OLD NEW` as a user runs it (exit 1: the releases differ);
  datacompy (pandas), datacompy (polars): datacompy.PandasCompare / PolarsCompare on the two
      files (`--datacompy-repeat` runs, 1 by default: pandas takes minutes at 1M rows; 0 skips).
Targets (issue 14): sovai diff <= 1.5 x read, peak < 1 GiB, faster than the faster datacompy.
Exits 1 if one is missed. The 1-minute load average is printed with each run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
TABLE = "models"
KEY = "model_id"
RATIO_TARGET = 1.5
MEMORY_TARGET_MIB = 1024


# --- synthetic releases ------------------------------------------------------------------------


def _strings(rng: np.random.Generator, prefix: str, distinct: int, size: int) -> pa.Array:
    numbers = pa.array(rng.integers(0, distinct, size)).cast(pa.string())
    return pc.binary_join_element_wise(pa.scalar(prefix), numbers, "")


def _lists(rng: np.random.Generator, prefix: str, distinct: int, size: int) -> pa.Array:
    lengths = rng.integers(0, 4, size)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets),
                                    _strings(rng, prefix, distinct, int(offsets[-1])))


def _with_nulls(rng: np.random.Generator, values: pa.Array, share: float) -> pa.Array:
    return pc.if_else(pa.array(rng.random(len(values)) < share), pa.nulls(len(values),
                                                                           values.type), values)


def _columns(rng: np.random.Generator, n: int, tag: str = "") -> dict[str, pa.Array]:
    """Every column but the key; tag makes replacement values differ from the originals."""
    return {
        "name": _strings(rng, f"Model {tag}", 10**7, n),
        "family_id": _strings(rng, f"family-{tag}", 5_000, n),
        "organization_ids": _lists(rng, f"org-{tag}", 2_000, n),
        "jurisdiction_id": _strings(rng, f"J{tag}", 200, n),
        "modality": _strings(rng, f"modality-{tag}", 6, n),
        "license": _with_nulls(rng, _strings(rng, f"License-{tag}", 50, n), 0.2),
        "params_b": _with_nulls(rng, pa.array(np.round(rng.random(n) * 1000, 1)), 0.1),
        "downloads": pa.array(rng.integers(0, 10**7, n)),
        "released_on": pa.array(rng.integers(19_000, 20_600, n).astype(np.int32)).cast(
            pa.date32()),
        "aliases": _lists(rng, f"alias-{tag}", 10**7, n),
        "languages": _lists(rng, f"lang-{tag}", 40, n),
    }


def _ids(prefix: str, n: int) -> pa.Array:
    numbers = pc.utf8_lpad(pa.array(np.arange(n)).cast(pa.string()), 8, "0")
    return pc.binary_join_element_wise(pa.scalar(prefix), numbers, "")


def generate(folder: Path, rows: int, seed: int = 42) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    old = pa.table({KEY: _ids("model-", rows), **_columns(rng, rows)})

    # New release: 0.5% of rows removed, ~1% of the remaining cells changed, 0.5% rows added.
    new = old.filter(pa.array(rng.random(rows) >= 0.005))
    m = new.num_rows
    replacements = _columns(rng, m, tag="x")
    for name, values in replacements.items():
        mask = pa.array(rng.random(m) < 0.01)
        new = new.set_column(new.schema.get_field_index(name), name,
                             pc.if_else(mask, values, new[name].combine_chunks()))
    extra = rows // 200
    added = pa.table({KEY: _ids("model-new-", extra), **_columns(rng, extra, tag="n")})
    new = pa.concat_tables([new, added.cast(new.schema)]).sort_by(KEY)

    dirs = []
    for label, table in (("2026-01-31", old), ("2026-02-28", new)):
        target = folder / label
        target.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, target / f"{TABLE}.parquet", compression="zstd",
                       store_schema=False)
        # Just enough of a datapackage.json for `sovai diff` to find the primary key.
        (target / "datapackage.json").write_text(json.dumps({"resources": [
            {"name": TABLE, "path": f"{TABLE}.parquet", "schema": {"primaryKey": [KEY]}}]}))
        dirs.append(target)
    return dirs[0], dirs[1]


# --- measurements (each a whole process) --------------------------------------------------------

READ = """
import sys, time
import pyarrow.parquet as pq
start = time.perf_counter()
tables = [pq.read_table(path) for path in sys.argv[1:]]
rows = sum(t.num_rows for t in tables)
print(f"in-process read {time.perf_counter() - start:.3f} s, {rows} rows")
"""

# datacompy's own API on the same two files, read by pandas (pyarrow engine) or by polars (its
# faster engine), joined on the key.
DATACOMPY = """
import json, sys, time
import datacompy
engine = sys.argv[4]
if engine == "polars":
    import polars as pl
    old, new = (pl.read_parquet(path) for path in sys.argv[1:3])
    compare_class = datacompy.PolarsCompare
else:
    import pandas as pd
    old, new = (pd.read_parquet(path) for path in sys.argv[1:3])
    compare_class = datacompy.PandasCompare
start = time.perf_counter()
compare = compare_class(old, new, join_columns=sys.argv[3])
print(json.dumps({"compare_seconds": round(time.perf_counter() - start, 3),
                  "only_old": len(compare.df1_unq_rows), "only_new": len(compare.df2_unq_rows),
                  "both": len(compare.intersect_rows)}))
"""
DATACOMPY_ENGINES = ("pandas", "polars")


def _load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def _timed(cmd: list[str], timeout: float) -> dict:
    """Wall time (ours), peak RSS and CPU seconds (GNU time's, of the process alone) of cmd."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        start = time.perf_counter()
        try:
            out = subprocess.run(["/usr/bin/time", "-o", report.name, "-f", "%M %U %S", *cmd],
                                 capture_output=True, text=True, cwd=ROOT, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"problem": f"not finished in {timeout:.0f} s", "load": _load()}
        seconds = time.perf_counter() - start
        peak_kib, user, system = report.read().split()[-3:]
    return {"seconds": seconds, "peak_mib": int(peak_kib) / 1024,
            "cpu_seconds": float(user) + float(system), "rc": out.returncode,
            "tail": (out.stdout.strip().splitlines() or [""])[-1], "err": out.stderr[-300:],
            "load": _load()}


def commands(old_dir: Path, new_dir: Path) -> dict[str, list[str]]:
    files = [str(d / f"{TABLE}.parquet") for d in (old_dir, new_dir)]
    bin_dir = Path(sys.executable).parent
    return {"read": [sys.executable, "-c", READ, *files],
            "sovai diff": [str(bin_dir / "sovai"), "diff", str(old_dir), str(new_dir)]}


def datacompy_commands(old_dir: Path, new_dir: Path) -> dict[str, list[str]]:
    """datacompy in its own environment (tests/tools/datacompy.txt, built on first use)."""
    sys.path.insert(0, str(ROOT))
    from tests.tool_envs import tool_env

    python = str(tool_env("datacompy") / "python")
    files = [str(d / f"{TABLE}.parquet") for d in (old_dir, new_dir)]
    return {f"datacompy ({engine})": [python, "-c", DATACOMPY, *files, KEY, engine]
            for engine in DATACOMPY_ENGINES}


def _line(name: str, runs: list[dict]) -> str:
    done = [r for r in runs if "seconds" in r]
    if not done:
        return f"{name:<18} {runs[0]['problem'] if runs else 'not run'}"
    wall = statistics.median(r["seconds"] for r in done)
    cpu = statistics.median(r["cpu_seconds"] for r in done)
    each = ", ".join(f"{r['seconds']:.2f}" for r in done)
    return (f"{name:<18} {wall:7.2f} s (runs {each}; "
            f"CPU {cpu:.2f} s) peak {max(r['peak_mib'] for r in done):.0f} MiB, "
            f"load {', '.join(r['load'] for r in done)}")


def _median(runs: list[dict], field: str = "seconds") -> float | None:
    done = [r[field] for r in runs if field in r]
    return statistics.median(done) if done else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of read and diff (median)")
    parser.add_argument("--pair", choices=("cells", "rows"), default="cells")
    parser.add_argument("--datacompy-repeat", type=int, default=1,
                        help="runs of datacompy (0: skip it)")
    parser.add_argument("--datacompy-timeout", type=float, default=1800)
    parser.add_argument("--keep", type=Path, help="generate into (and keep) this folder")
    args = parser.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="sovai-bench-diff-"))
    try:
        start = time.perf_counter()
        if args.pair == "cells":
            old_dir, new_dir = generate(folder, args.rows)
        else:
            sys.path.insert(0, str(ROOT / "benchmarks"))
            from synthetic import generate_release_pair

            rows = args.rows
            pair = generate_release_pair(folder, rows, added=rows // 100, removed=rows // 100,
                                         changed=rows // 50, renamed=0)
            old_dir, new_dir = pair.old, pair.new
        sizes = [(d / f"{TABLE}.parquet").stat().st_size / 2**20 for d in (old_dir, new_dir)]
        print(f"generated {args.rows:,} rows per release ({args.pair} pair) in "
              f"{time.perf_counter() - start:.1f} s ({sizes[0]:.1f} MiB + {sizes[1]:.1f} MiB of "
              f"Parquet) in {folder}", flush=True)
        ours = commands(old_dir, new_dir)
        theirs = datacompy_commands(old_dir, new_dir) if args.datacompy_repeat else {}
        runs: dict[str, list[dict]] = {name: [] for name in [*ours, *theirs]}
        for number in range(max(args.repeat, args.datacompy_repeat)):  # alternated
            for name, cmd in ours.items() if number < args.repeat else ():
                runs[name].append(_timed(cmd, 600))
            for name, cmd in theirs.items() if number < args.datacompy_repeat else ():
                runs[name].append(_timed(cmd, args.datacompy_timeout))
            print(f"round {number + 1}: " + "; ".join(
                f"{name} {r[number].get('seconds', float('nan')):.2f} s"
                for name, r in runs.items() if len(r) > number), flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)

    for name, rs in runs.items():
        print(_line(name, rs))
    diff_runs = runs["sovai diff"]
    print(f"  read: {runs['read'][0]['tail']}")
    print(f"  sovai diff (exit {diff_runs[0].get('rc')}): {diff_runs[0].get('tail')}")
    for name in theirs:
        if "tail" in runs[name][0]:
            print(f"  {name}: {runs[name][0]['tail'] or runs[name][0]['err']}")
    read, diff = _median(runs["read"]), _median(diff_runs)
    ratio = diff / read
    peak = max(r["peak_mib"] for r in diff_runs)
    datacompy = min((_median(runs[name]) for name in theirs if _median(runs[name])),
                    default=None)
    checks = {f"ratio sovai diff / read: {ratio:.2f} (target <= {RATIO_TARGET})":
              ratio <= RATIO_TARGET,
              f"peak memory of sovai diff: {peak:.0f} MiB (target < {MEMORY_TARGET_MIB} MiB)":
              peak < MEMORY_TARGET_MIB}
    if datacompy is not None:
        checks[f"faster datacompy / sovai diff: {datacompy / diff:.1f} (target > 1)"] = (
            datacompy > diff)
    for label, ok in checks.items():
        print(f"{label}  {'PASS' if ok else 'FAIL'}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
