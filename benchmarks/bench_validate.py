"""Benchmark of pandera on a 1M-row table against a plain vectorised pandas pass of the same
checks.

    uv run python benchmarks/bench_validate.py [--rows 1000000] [--repeat 3] [--table claims]

Builds a synthetic frame of the shape of the largest published table (claims: every column,
dtype and nullability of schemas/claims.yaml; unique keys; realistic string lengths; some nulls
where the schema allows them; every allowed value used), as the pipeline builds its frames (the
dtypes of pipeline.validation.schemas.TYPES). Then times, alternated `repeat` times in this one
process (median), so that both see the same machine load:
  pandera: pandera_schema(schema).validate(frame, lazy=True), as check_schema runs it;
  plain: plain_checks below, the same rules written as vectorised pandas (columns and their
      order, dtypes, nullability, unique primary key, allowed values, patterns, formats, list
      items, dates), whatever schemas/ declares for the table.
Before timing, both must pass the frame and both must reject a copy with one bad value per
kind of rule the table has, so that the two passes are known to check the same things.
Target (issue 14): pandera within 2 times the plain pass. Exits 1 if missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.validation.schemas import (  # noqa: E402
    FORMATS,
    TYPES,
    ColumnSpec,
    TableSchema,
    load_schemas,
    pandera_schema,
)

RATIO_TARGET = 2.0


# --- the synthetic frame ---------------------------------------------------------------------


def _text(rng: np.random.Generator, prefix: str, distinct: int, n: int) -> np.ndarray:
    return np.char.add(prefix, rng.integers(0, distinct, n).astype(str))


def _column_values(column: ColumnSpec, schema: TableSchema, rng: np.random.Generator,
                   n: int) -> list | np.ndarray:
    """Valid values for one column: keys unique, allowed values all used, nulls where allowed."""
    if column.name == schema.primary_key:
        return np.char.add(f"{schema.name[:3]}-", np.arange(n).astype(str))
    if column.allowed:
        values = np.array(column.allowed, dtype=object)[rng.integers(0, len(column.allowed), n)]
    elif column.type == "int64":
        values = rng.integers(0, 10**6, n).astype(object)
    elif column.type == "float64":
        values = np.round(rng.random(n) * 1000, 2).astype(object)
    elif column.type == "boolean":
        values = (rng.random(n) < 0.5).astype(object)
    elif column.type == "date":
        base = dt.date(2020, 1, 1)
        values = np.array([base + dt.timedelta(days=int(d)) for d in rng.integers(0, 2000, n)],
                          dtype=object)
    elif column.is_list:
        return [[f"item-{i}"] for i in rng.integers(0, 100, n)]
    elif column.name == "quote":  # the long column: a sentence of a captured page
        values = np.char.add("The model was released under an open licence in ",
                             _text(rng, "month ", 12, n)).astype(object)
    else:
        values = _text(rng, f"{column.name}-", max(10, n // 10), n).astype(object)
    if column.pattern or column.format:
        raise SystemExit(f"{schema.name}.{column.name} has a pattern or format: give this "
                         f"benchmark a generator of matching values for it")
    if column.nullable:
        values[rng.random(n) < 0.1] = None
    return values


def synthetic_frame(schema: TableSchema, rows: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c.name: pd.Series(_column_values(c, schema, rng, rows),
                                           dtype=TYPES[c.type][1]) for c in schema.columns})


def broken_copies(schema: TableSchema, frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """One copy per kind of rule the table has, each with one value that breaks it."""
    copies = {}

    def broken(column: str, value: object) -> pd.DataFrame:
        copy = frame.copy()
        copy.loc[len(copy) // 2, column] = value
        return copy

    key = schema.primary_key
    copies["duplicate key"] = broken(key, frame[key].iloc[0])
    for c in schema.columns:
        if not c.nullable and c.name != key:
            copies[f"null {c.name}"] = broken(c.name, None)
        if c.allowed and not c.is_list:
            copies[f"{c.name} not allowed"] = broken(c.name, "not-an-allowed-value")
    copies["column order"] = frame[list(reversed(frame.columns))]
    copies["dtype"] = frame.assign(**{schema.columns[-1].name: np.arange(len(frame))})
    return copies


# --- the same rules as plain vectorised pandas ----------------------------------------------


def _items(series: pd.Series, column: ColumnSpec) -> pd.Series:
    return series.explode().dropna() if column.is_list else series.dropna()


def _passes(values: pd.Series, test) -> bool:
    """test on each distinct value once, then a vectorised membership test."""
    good = [v for v in values.unique() if test(v)]
    return bool(values.isin(good).all())


def plain_checks(schema: TableSchema, frame: pd.DataFrame) -> list[str]:
    """The rules pandera_schema encodes, as vectorised pandas; the names of those that fail."""
    import re

    failures = []
    if list(frame.columns) != schema.column_names:
        return ["columns or their order"]
    for c in schema.columns:
        s = frame[c.name]
        dtype = TYPES[c.type][1]
        if dtype is not object and s.dtype != dtype:
            failures.append(f"{c.name}: dtype {s.dtype}")
            continue
        if not (c.nullable or c.is_list) and s.isna().any():
            failures.append(f"{c.name}: null")
        if c.name == schema.primary_key and s.duplicated().any():
            failures.append(f"{c.name}: duplicate")
        if c.is_list and not s.map(lambda v: isinstance(v, list)).all():
            failures.append(f"{c.name}: not a list")
        if not (c.is_list or c.allowed or c.pattern or c.format or c.type == "date"):
            continue
        items = _items(s, c)
        if c.is_list and not items.map(type).eq(str).all():
            failures.append(f"{c.name}: list item not a string")
        if c.allowed and not items.isin(c.allowed).all():
            failures.append(f"{c.name}: not allowed")
        if c.pattern and not _passes(items, re.compile(c.pattern).fullmatch):
            failures.append(f"{c.name}: pattern")
        if c.format and not _passes(items, FORMATS[c.format][0]):
            failures.append(f"{c.name}: format")
        if c.type == "date" and not items.map(
                lambda v: isinstance(v, dt.date) and not isinstance(v, dt.datetime)).all():
            failures.append(f"{c.name}: not a date")
    return failures


def pandera_failures(schema: TableSchema, frame: pd.DataFrame) -> list[str]:
    import pandera.errors

    try:
        pandera_schema(schema).validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as errors:
        return sorted(set(errors.failure_cases["check"].astype(str)))
    return []


# --- the run ---------------------------------------------------------------------------------


def _load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def _agree(schema: TableSchema, frame: pd.DataFrame) -> None:
    """Both pass the frame and both reject every broken copy, or the benchmark stops."""
    for label, run in (("pandera", pandera_failures), ("plain", plain_checks)):
        if run(schema, frame):
            raise SystemExit(f"{label} rejects the valid frame: {run(schema, frame)}")
    small = frame.head(10_000)
    for rule, copy in broken_copies(schema, small).items():
        found = {label: bool(run(schema, copy)) for label, run in
                 (("pandera", pandera_failures), ("plain", plain_checks))}
        if not all(found.values()):
            raise SystemExit(f"a frame with a broken {rule} passes: {found}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--table", default="claims")
    args = parser.parse_args()

    schema = load_schemas(ROOT / "schemas")[args.table]
    start = time.perf_counter()
    frame = synthetic_frame(schema, args.rows)
    print(f"{args.table}: {args.rows:,} rows, {len(schema.columns)} columns, built in "
          f"{time.perf_counter() - start:.1f} s ({frame.memory_usage(deep=True).sum() / 2**20:.0f}"
          f" MiB in pandas)", flush=True)
    _agree(schema, frame)
    print("pandera and the plain pass both accept the frame and both reject each broken copy",
          flush=True)

    runs: dict[str, list[float]] = {"pandera": [], "plain": []}
    loads = []
    for _ in range(args.repeat):  # alternated, so both see the same load
        for label, run in (("pandera", pandera_failures), ("plain", plain_checks)):
            begin = time.perf_counter()
            run(schema, frame)
            runs[label].append(time.perf_counter() - begin)
        loads.append(_load())
    pandera_s, plain_s = (statistics.median(runs[k]) for k in ("pandera", "plain"))
    for label, seconds in runs.items():
        print(f"{label:<8} {statistics.median(seconds):6.2f} s (runs "
              f"{', '.join(f'{s:.2f}' for s in seconds)})")
    ratio = pandera_s / plain_s
    print(f"load (1-minute) after each round: {', '.join(loads)}")
    print(f"ratio pandera / plain: {ratio:.2f} (target <= {RATIO_TARGET})  "
          f"{'PASS' if ratio <= RATIO_TARGET else 'FAIL'}")
    return 0 if ratio <= RATIO_TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
