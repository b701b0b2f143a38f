"""Benchmark of the release diff against just reading the two releases.

    uv run python benchmarks/bench_diff.py [--rows 1000000] [--repeat 5] [--keep DIR]

Generates two synthetic releases of N rows each (a models-like table: string key, string, int,
float, date and list<string> columns, some nulls; the second release with ~1% of cells changed,
0.5% of rows removed and 0.5% added), then measures, each in a fresh subprocess so that neither
warms the other's caches or allocator:
  (a) the wall time of pyarrow.parquet.read_table on both files;
  (b) the wall time of pipeline.publishing.diff.diff_release_dirs on the two folders, and its
      peak memory
      (ru_maxrss of that subprocess, which includes the interpreter and its imports).
Targets (issue 5): diff <= 1.5 x read time, peak memory < 1 GiB. Exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import json
import resource
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
    # A tiny pair too: each measurement first runs its own code path on it, so that one-time
    # library start-up (pyarrow.dataset's first use alone takes ~1.5 s here) is not timed.
    tiny_old, tiny_new = old.slice(0, 100), new.slice(0, 100)
    for label, table in (("warmup/old", tiny_old), ("warmup/new", tiny_new),
                         ("2026-01-31", old), ("2026-02-28", new)):
        target = folder / label
        target.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, target / f"{TABLE}.parquet", compression="zstd",
                       store_schema=False)
        dirs.append(target)
    return dirs[2], dirs[3]


# --- measurements (each in its own process) ------------------------------------------------------


def _maxrss_mib() -> float:
    """Peak resident memory of this process. VmHWM, because ru_maxrss survives exec on Linux
    and would report the parent's peak (the generated data) instead of ours."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure(kind: str, old_dir: Path, new_dir: Path) -> dict:
    warmup = [old_dir.parent / "warmup" / side for side in ("old", "new")]
    if kind == "read":
        for d in warmup:
            pq.read_table(d / f"{TABLE}.parquet")
        baseline = _maxrss_mib()
        start = time.perf_counter()
        tables = [pq.read_table(d / f"{TABLE}.parquet") for d in (old_dir, new_dir)]
        seconds = time.perf_counter() - start
        result = {"rows": sum(t.num_rows for t in tables)}
    else:
        sys.path.insert(0, str(ROOT))
        from pipeline.publishing.diff import diff_release_dirs

        diff_release_dirs(*warmup, primary_keys={TABLE: KEY})
        baseline = _maxrss_mib()
        start = time.perf_counter()
        changes = diff_release_dirs(old_dir, new_dir, primary_keys={TABLE: KEY})
        seconds = time.perf_counter() - start
        result = {"rows": len(changes),
                  "by_change": changes["change"].value_counts().sort_index().to_dict()}
    return {**result, "seconds": seconds, "peak_mib": _maxrss_mib(), "baseline_mib": baseline}


def _run_child(kind: str, old_dir: Path, new_dir: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--measure", kind, str(old_dir),
                          str(new_dir)], check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement (median)")
    parser.add_argument("--keep", type=Path, help="generate into (and keep) this folder")
    parser.add_argument("--measure", nargs=3, metavar=("KIND", "OLD", "NEW"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        kind, old, new = args.measure
        print(json.dumps(measure(kind, Path(old), Path(new))))
        return 0

    folder = args.keep or Path(tempfile.mkdtemp(prefix="sovai-bench-diff-"))
    try:
        start = time.perf_counter()
        old_dir, new_dir = generate(folder, args.rows)
        sizes = [(d / f"{TABLE}.parquet").stat().st_size / 2**20 for d in (old_dir, new_dir)]
        print(f"generated {args.rows:,} rows per release in {time.perf_counter() - start:.1f} s"
              f" ({sizes[0]:.1f} MiB + {sizes[1]:.1f} MiB of Parquet) in {folder}")
        runs: dict[str, list[dict]] = {"read": [], "diff": []}
        for _ in range(args.repeat):  # interleaved, so both see the same machine load
            for kind in runs:
                runs[kind].append(_run_child(kind, old_dir, new_dir))
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)

    read = statistics.median(r["seconds"] for r in runs["read"])
    diff = statistics.median(r["seconds"] for r in runs["diff"])
    read_peak = max(r["peak_mib"] for r in runs["read"])
    peak = max(r["peak_mib"] for r in runs["diff"])
    baseline = max(r["baseline_mib"] for r in runs["diff"])
    ratio = diff / read
    time_ok, memory_ok = ratio <= RATIO_TARGET, peak < MEMORY_TARGET_MIB
    changes = runs["diff"][0]

    def seconds(kind: str) -> str:
        return ", ".join(f"{r['seconds']:.3f}" for r in runs[kind])

    print(f"read both files (pyarrow.parquet.read_table): {read:.3f} s "
          f"(runs: {seconds('read')}), "
          f"peak RSS {read_peak:.0f} MiB")
    print(f"diff_release_dirs:                            {diff:.3f} s "
          f"(runs: {seconds('diff')}), "
          f"peak RSS {peak:.0f} MiB (after imports: {baseline:.0f} MiB)")
    print(f"diff rows: {changes['rows']:,} {changes['by_change']}")
    print(f"ratio diff/read: {ratio:.2f} (target <= {RATIO_TARGET})  "
          f"{'PASS' if time_ok else 'FAIL'}")
    print(f"peak memory of the diff: {peak:.0f} MiB (target < {MEMORY_TARGET_MIB} MiB)  "
          f"{'PASS' if memory_ok else 'FAIL'}")
    return 0 if time_ok and memory_ok else 1


if __name__ == "__main__":
    sys.exit(main())
