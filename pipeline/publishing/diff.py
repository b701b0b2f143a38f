"""diff: what changed between two release folders, computed by DuckDB over the Parquet files.

One row per added, removed or renamed entity (field null), one per changed cell (field set, old
and new value as text: lists as JSON arrays, dates ISO, integral floats without ".0") and one per
schema change (column added, removed or retyped; entity_id null). Rows of the claims and sources
tables are kind "provenance", so a new source or quote for an unchanged value is reported apart
from value changes.

How it stays fast and small on large tables (see benchmarks/bench_diff.py), per table:
1. pass 1 reads OLD and NEW side by side (one DuckDB cursor each: a release file is usually one
   row group, which DuckDB scans on one thread) into (hash of the key, row number, one hash per
   column), so nothing wide is ever held in memory;
2. one full outer join of those gives the counts that reveal duplicate keys, the short list of
   rows that were added, removed or differ in a column hash, and which columns differ at all;
3. pass 2 fetches just those rows by row number, again side by side, and only the key and the
   columns that differ (a release usually changes few columns), and compares them column by
   column with `IS DISTINCT FROM` (null to null is no change), rendering only changed cells.
Hashes only choose what to look at: a row flagged by its hashes but equal cell by cell gives no
output. Two different keys with the same 64-bit hash show up as a duplicate or as a mismatched
pair, and the table is diffed again on the exact keys; a changed cell is missed only if its
64-bit column hash collides (old and new values hashing alike).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:  # pandas loads only for the pandas API; `sovai diff` works in Arrow throughout
    import pandas as pd

CHANGES_COLUMNS = ["table_name", "entity_id", "change", "field", "old_value", "new_value", "kind"]
CHANGES_SCHEMA = pa.schema([(name, pa.string()) for name in CHANGES_COLUMNS])
# changes.parquet's columns as datapackage.json describes them (all strings).
CHANGES_DESCRIPTIONS = {
    "table_name": "The table.",
    "entity_id": "The primary key of the row (the new ID for a rename); null for a schema "
                 "change.",
    "change": "added, removed, renamed, changed (one row per changed field), or column_added, "
              "column_removed, column_retyped.",
    "field": "The changed column; null for whole-row changes.",
    "old_value": "The value before, as text (lists as JSON); for a rename, the old ID.",
    "new_value": "The value after, as text (lists as JSON); for a rename, the new ID.",
    "kind": "value for data, provenance for claims and sources, schema for schema changes.",
}
CHANGE_VALUES = {"change": ["added", "removed", "renamed", "changed", "column_added",
                            "column_removed", "column_retyped"],
                 "kind": ["value", "provenance", "schema"]}
PROVENANCE_TABLES = frozenset({"claims", "sources"})
NOT_TABLES = frozenset({"changes"})
ROW_NUMBER = "file_row_number"  # DuckDB's virtual column: the row's position in its file
KEY_HASH = "hash({})"  # SQL template for the join key of pass 1 (tests swap in a colliding one)

# Two cores and a hard memory ceiling: DuckDB spills to disk rather than exceed it.
DUCKDB_MEMORY_LIMIT = os.environ.get("SOVAI_DIFF_MEMORY_LIMIT", "512MB")


class DiffError(Exception):
    """Two releases cannot be compared: missing folder, unreadable file or schema, bad key."""


# --- reading the folders -------------------------------------------------------------------


def _table_files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise DiffError(f"release folder not found: {folder}")
    return {p.stem: p for p in sorted(folder.glob("*.parquet")) if p.stem not in NOT_TABLES}


def _datapackage_keys(folder: Path) -> dict[str, str]:
    path = folder / "datapackage.json"
    if not path.is_file():
        return {}
    try:
        package = json.loads(path.read_text(encoding="utf-8"))
        keys = {}
        for resource in package.get("resources", []):
            key = (resource.get("schema") or {}).get("primaryKey")
            if key is None:
                continue
            if isinstance(key, list):
                if len(key) != 1:
                    raise DiffError(f"{path}: composite primary key {key} of "
                                    f"{resource.get('name')} is not supported")
                key = key[0]
            name = resource.get("name") or Path(resource["path"]).stem
            keys[name] = key
        return keys
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise DiffError(f"cannot read the schema in {path}: {err}") from err


def _read_schema(path: Path) -> pa.Schema:
    try:
        return pq.read_schema(path)
    except (OSError, pa.ArrowException) as err:
        raise DiffError(f"cannot read {path}: {err}") from err


def type_name(arrow_type: pa.DataType) -> str:
    """The schemas/ vocabulary for an Arrow type (string, int64, float64, boolean, date,
    list<string>), so that string and large_string are not reported as a retype."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or (
            pa.types.is_string_view(arrow_type)):
        return "string"
    if pa.types.is_floating(arrow_type):
        return f"float{arrow_type.bit_width}"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_date32(arrow_type) or pa.types.is_date64(arrow_type):
        return "date"
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type) or (
            pa.types.is_list_view(arrow_type)):
        return f"list<{type_name(arrow_type.value_type)}>"
    return str(arrow_type)


# --- SQL building blocks ---------------------------------------------------------------------


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _scan(path: Path, *, row_numbers: bool = False) -> str:
    option = ", file_row_number = true" if row_numbers else ""
    return f"read_parquet({_lit(str(path))}{option})"


def _render(expr: str, arrow_type: pa.DataType) -> str:
    """SQL rendering a value as text: lists (and structs) as JSON, dates ISO, booleans
    true/false, integral floats without '.0'."""
    if type_name(arrow_type) == "string":
        return expr
    if pa.types.is_floating(arrow_type):
        return (f"CASE WHEN isfinite({expr}) AND {expr} = trunc({expr}) AND abs({expr}) < 1e15 "
                f"THEN CAST(CAST({expr} AS BIGINT) AS VARCHAR) ELSE CAST({expr} AS VARCHAR) END")
    if pa.types.is_nested(arrow_type):
        return f"CAST(to_json({expr}) AS VARCHAR)"
    if pa.types.is_timestamp(arrow_type):
        return f"strftime({expr}, '%Y-%m-%dT%H:%M:%S.%f')"
    return f"CAST({expr} AS VARCHAR)"


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config={
        "threads": max(1, min(os.cpu_count() or 1, 4)),
        "memory_limit": DUCKDB_MEMORY_LIMIT,
        # Order comes from the final ORDER BY; not preserving it lets scans and joins stream.
        "preserve_insertion_order": False,
        # Spill files go to the system temp dir, never into the working directory.
        "temp_directory": str(Path(tempfile.gettempdir()) / "sovai-duckdb"),
    })
    return con


def _check_keys(con: duckdb.DuckDBPyConnection, table: str, key: str, path: Path,
                folder: Path) -> None:
    rows = con.execute(
        f"SELECT CAST({_q(key)} AS VARCHAR) AS v, count(*) AS c FROM {_scan(path)} GROUP BY v "
        f"HAVING c > 1 OR v IS NULL ORDER BY v NULLS FIRST LIMIT 1").fetchall()
    if rows:
        value, count = rows[0]
        if value is None:
            raise DiffError(f"null primary key {key} in table {table} ({count} rows) in {folder}")
        raise DiffError(f"duplicate primary key in table {table}: {key}={value!r} appears "
                        f"{count} times in {folder}")


def _present(con: duckdb.DuckDBPyConnection, path: Path, key: str, ids: Iterable[str]) -> set:
    ids = sorted(set(ids))
    if not ids:
        return set()
    rows = con.execute(f"SELECT DISTINCT CAST({_q(key)} AS VARCHAR) FROM {_scan(path)} "
                       f"WHERE CAST({_q(key)} AS VARCHAR) IN (SELECT unnest(?))", [ids]).fetchall()
    return {r[0] for r in rows}


def _resolve_redirects(con: duckdb.DuckDBPyConnection, table: str, redirects: list[dict],
                       old_path: Path, new_path: Path, key: str) -> tuple[dict, dict]:
    """(renamed, merged): renamed pairs one old id with one new id; merged maps each other old id
    that was folded into an entity to that entity's id. Chains (a -> b -> c) are followed to the
    first id present in the new release."""
    step = {str(r["old_id"]): str(r["new_id"]) for r in redirects
            if r.get("table") == table and r.get("old_id") and r.get("new_id")}
    if not step:
        return {}, {}
    chain_ids = set(step) | set(step.values())
    in_old = _present(con, old_path, key, chain_ids)
    in_new = _present(con, new_path, key, chain_ids)
    targets: dict[str, str] = {}
    for old_id in sorted(set(step) & in_old - in_new):  # gone from NEW, so it moved somewhere
        seen, current = {old_id}, step[old_id]
        while current not in in_new and current in step and current not in seen:
            seen.add(current)
            current = step[current]
        if current in in_new:
            targets[old_id] = current
    renamed: dict[str, str] = {}
    merged: dict[str, str] = {}
    for old_id, new_id in sorted(targets.items()):
        # One old row pairs with the new row, so counts reconcile: a target that already existed
        # keeps its own row, and further old ids folded into it count as removed (merged).
        if new_id in in_old or new_id in renamed.values():
            merged[old_id] = new_id
        else:
            renamed[old_id] = new_id
    return renamed, merged


# --- the diff of one table -------------------------------------------------------------------


def _schema_rows(table: str, old: pa.Schema | None, new: pa.Schema | None) -> list[tuple]:
    old_cols = {f.name: type_name(f.type) for f in old} if old is not None else {}
    new_cols = {f.name: type_name(f.type) for f in new} if new is not None else {}
    rows = []
    for column in sorted(set(old_cols) | set(new_cols)):
        before, after = old_cols.get(column), new_cols.get(column)
        if before is None:
            rows.append((table, None, "column_added", column, None, after, "schema"))
        elif after is None:
            rows.append((table, None, "column_removed", column, before, None, "schema"))
        elif before != after:
            rows.append((table, None, "column_retyped", column, before, after, "schema"))
    return rows


def _one_sided_rows(con: duckdb.DuckDBPyConnection, table: str, key: str, path: Path,
                    change: str, kind: str) -> None:
    con.execute(f"INSERT INTO changes SELECT {_lit(table)}, CAST({_q(key)} AS VARCHAR), "
                f"{_lit(change)}, NULL, NULL, NULL, {_lit(kind)} FROM {_scan(path)}")


def _parallel(con: duckdb.DuckDBPyConnection, statements: list[str]) -> None:
    """Run statements at once, one cursor each. A release file is usually a single row group,
    which DuckDB scans on one thread, so scanning OLD and NEW side by side is what keeps both
    cores busy."""
    errors: list[BaseException] = []

    def run(sql: str) -> None:
        try:
            with con.cursor() as cursor:
                cursor.execute(sql)
        except BaseException as err:  # re-raised in the calling thread
            errors.append(err)

    threads = [threading.Thread(target=run, args=(sql,)) for sql in statements]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def _null_keys(con: duckdb.DuckDBPyConnection, path: Path, key: str) -> int:
    """Rows with a null key: from the Parquet statistics when every row group has them."""
    try:
        meta = pq.ParquetFile(path).metadata
        leaves = [meta.schema.column(i).path for i in range(meta.num_columns)]
        if key in leaves:
            index = leaves.index(key)
            stats = [meta.row_group(i).column(index).statistics
                     for i in range(meta.num_row_groups)]
            if all(st is not None and st.has_null_count for st in stats):
                return sum(st.null_count for st in stats)
    except (OSError, pa.ArrowException):
        pass
    (count,), = con.execute(f"SELECT count(*) FROM {_scan(path)} WHERE {_q(key)} IS NULL"
                            ).fetchall()
    return count


def _drop(con: duckdb.DuckDBPyConnection, *tables: str) -> None:
    con.execute("; ".join(f"DROP TABLE IF EXISTS {t}" for t in tables))


class _KeyHashCollision(Exception):
    """Two different keys share a 64-bit hash: the table is diffed again on the exact keys."""


@dataclasses.dataclass(frozen=True)
class _TablePair:
    """One table present in both releases: what every step of its diff needs to know."""

    con: duckdb.DuckDBPyConnection
    table: str
    key: str
    old_path: Path
    new_path: Path
    old_types: dict[str, pa.DataType]
    new_types: dict[str, pa.DataType]
    folders: tuple[Path, Path]
    renamed: dict[str, str]  # old id -> new id, one old row paired with one new row
    merged: dict[str, str]  # old id -> the id of the entity it was folded into

    @property
    def kind(self) -> str:
        return "provenance" if self.table in PROVENANCE_TABLES else "value"

    @property
    def columns(self) -> list[str]:
        """The non-key columns of both sides, in NEW's order."""
        return [c for c in self.new_types if c in self.old_types and c != self.key]

    def same_type(self, column: str) -> bool:
        before, after = self.old_types[column], self.new_types[column]
        return before.equals(after) or type_name(before) == type_name(after)

    def value(self, side: str, column: str) -> str:
        """SQL for a cell as compared: retyped columns compare as text, so int 5 -> float 5.0 is
        no change."""
        expr = f"{side}.{_q(column)}"
        if self.same_type(column):
            return expr
        return _render(expr, (self.old_types if side == "o" else self.new_types)[column])

    @property
    def keys_as_text(self) -> bool:
        """Keys compare as text when they need mapping (renames) or their types differ."""
        return bool(self.renamed) or (type_name(self.old_types[self.key])
                                      != type_name(self.new_types[self.key]))

    def join_key(self, side: str, exact: bool) -> str:
        """SQL for the key a row joins on; old keys move to their new id first (renames)."""
        expr = f"{side}.{_q(self.key)}"
        if self.keys_as_text:
            expr = f"CAST({expr} AS VARCHAR)"
        if side == "o" and self.renamed:
            expr = f"COALESCE(rd.new_id, {expr})"
        return expr if exact else KEY_HASH.format(expr)

    def expected_new_key(self, o_key: str) -> str:
        """SQL for the new key an old key pairs with."""
        if not self.keys_as_text:
            return o_key
        mapped = f"CAST({o_key} AS VARCHAR)"
        return f"COALESCE(rd.new_id, {mapped})" if self.renamed else mapped


_WORK_TABLES = ("side_o", "side_n", "j", "cand", "rows_o", "rows_n", "pairs")


def _table_pair(con: duckdb.DuckDBPyConnection, table: str, key: str, paths: tuple[Path, Path],
                schemas: tuple[pa.Schema, pa.Schema], redirects: list[dict],
                folders: tuple[Path, Path]) -> _TablePair:
    """Check what would make the diff meaningless (a reserved column name, null keys), resolve
    the table's redirects and store them in table rd for the joins."""
    old_types = {f.name: f.type for f in schemas[0]}
    new_types = {f.name: f.type for f in schemas[1]}
    if ROW_NUMBER in old_types or ROW_NUMBER in new_types:
        raise DiffError(f"table {table} has a column named {ROW_NUMBER}, which the diff "
                        f"reserves")
    for path, folder in zip(paths, folders, strict=True):
        nulls = _null_keys(con, path, key)
        if nulls:
            raise DiffError(f"null primary key {key} in table {table} ({nulls} rows) in {folder}")
    renamed, merged = _resolve_redirects(con, table, redirects, *paths, key)
    con.execute("CREATE OR REPLACE TABLE rd (old_id VARCHAR, new_id VARCHAR, paired BOOLEAN)")
    if renamed or merged:
        con.executemany("INSERT INTO rd VALUES (?, ?, ?)",
                        [(o, n, True) for o, n in renamed.items()]
                        + [(o, n, False) for o, n in merged.items()])
    return _TablePair(con, table, key, *paths, old_types, new_types, folders, renamed, merged)


def _hash_rows(pair: _TablePair, exact: bool) -> None:
    """Pass 1: each file once, side by side (see _parallel), into side_o / side_n of (join key,
    row number, one 64-bit hash per column). Per-column hashes let pass 2 read only the
    columns that changed."""
    rn = _q(ROW_NUMBER)

    def hashes(side: str) -> str:
        return "".join(f", hash({pair.value(side, c)}) AS h{i}"
                       for i, c in enumerate(pair.columns))

    rename_join = f"LEFT JOIN rd ON rd.paired AND rd.old_id = CAST(o.{_q(pair.key)} AS VARCHAR)"
    _parallel(pair.con, [
        f"CREATE OR REPLACE TABLE side_o AS SELECT {pair.join_key('o', exact)} AS jk, "
        f"o.{rn} AS rn{hashes('o')}" + (", rd.new_id IS NOT NULL AS moved" if pair.renamed else "")
        + f" FROM {_scan(pair.old_path, row_numbers=True)} o {rename_join if pair.renamed else ''}",
        f"CREATE OR REPLACE TABLE side_n AS SELECT {pair.join_key('n', exact)} AS jk, "
        f"n.{rn} AS rn{hashes('n')} FROM {_scan(pair.new_path, row_numbers=True)} n",
    ])


def _join_sides(pair: _TablePair, exact: bool) -> list[str]:
    """One full outer join of side_o and side_n into cand, the (old row, new row) pairs that were
    added, removed, renamed or differ in a column hash; returns the columns that differ in some
    pair. Raises DiffError on a duplicate key, or _KeyHashCollision when the counts say two keys
    only share a hash."""
    con, columns = pair.con, pair.columns
    differs = [f"o.h{i} <> n.h{i}" for i in range(len(columns))]
    changed = " OR ".join(["o.jk IS NULL", "n.jk IS NULL", *differs]
                          + (["o.moved"] if pair.renamed else []))
    # One aggregate over the join gives the counts that reveal duplicate keys (without another
    # pass over the files), which columns changed, and the small list of rows that differ.
    con.execute(f"""
        CREATE OR REPLACE TABLE j AS
        SELECT count(*) FILTER (o.jk IS NOT NULL AND n.jk IS NOT NULL) AS matched,
               count(*) FILTER (n.jk IS NULL) AS only_o,
               count(*) FILTER (o.jk IS NULL) AS only_n,
               {"".join(f"bool_or({d}) AS d{i}, " for i, d in enumerate(differs))}
               list({{'o_rn': o.rn, 'n_rn': n.rn, 'jk': COALESCE(o.jk, n.jk)}})
                   FILTER ({changed}) AS pairs
        FROM side_o o FULL OUTER JOIN side_n n ON o.jk = n.jk
    """)
    (matched, only_o, only_n, *flags), = con.execute(
        "SELECT matched, only_o, only_n" + "".join(f", d{i}" for i in range(len(columns)))
        + " FROM j").fetchall()
    con.execute("CREATE OR REPLACE TABLE cand AS "
                "SELECT unnest(COALESCE(pairs, []), recursive := true) FROM j")
    (rows_o, rows_n), = con.execute(
        "SELECT (SELECT count(*) FROM side_o), (SELECT count(*) FROM side_n)").fetchall()
    _drop(con, "j", "side_o", "side_n")
    (dup_o, dup_n), = con.execute("""
        SELECT count(jk) FILTER (n_rn IS NULL) - count(DISTINCT jk) FILTER (n_rn IS NULL),
               count(jk) FILTER (o_rn IS NULL) - count(DISTINCT jk) FILTER (o_rn IS NULL)
        FROM cand
    """).fetchall()
    # Without duplicates every row joins at most once: rows = matched + unmatched, per side,
    # and no key occurs twice among the unmatched rows.
    if matched + only_o != rows_o or matched + only_n != rows_n or dup_o or dup_n:
        for path, folder in zip((pair.old_path, pair.new_path), pair.folders, strict=True):
            _check_keys(con, pair.table, pair.key, path, folder)  # names the duplicate, exactly
        if not exact:  # no duplicate after all: two keys share a hash
            raise _KeyHashCollision(pair.table)
        raise DiffError(f"table {pair.table}: the keys of {pair.folders[0]} and "
                        f"{pair.folders[1]} do not pair one to one")
    return [column for column, flag in zip(columns, flags, strict=True) if flag]


def _fetch_rows(pair: _TablePair, columns: list[str]) -> None:
    """Pass 2: the key and the given columns of just the rows in cand, by row number, from both
    files at once (rows_o, rows_n), and their pairing with keys (pairs)."""
    rn, qk = _q(ROW_NUMBER), _q(pair.key)
    col_list = "".join(f", x.{_q(c)}" for c in columns)
    _parallel(pair.con, [
        f"CREATE OR REPLACE TABLE rows_{side} AS SELECT x.{rn} AS rn, x.{qk} AS k{col_list} "
        f"FROM {_scan(path, row_numbers=True)} x "
        f"WHERE x.{rn} IN (SELECT {side}_rn FROM cand WHERE {side}_rn IS NOT NULL)"
        for side, path in (("o", pair.old_path), ("n", pair.new_path))
    ])
    pair.con.execute("""
        CREATE OR REPLACE TABLE pairs AS
        SELECT c.o_rn, c.n_rn, o.k AS o_key, n.k AS n_key
        FROM cand c LEFT JOIN rows_o o ON o.rn = c.o_rn LEFT JOIN rows_n n ON n.rn = c.n_rn
    """)


def _check_paired_keys(pair: _TablePair) -> None:
    """Rows paired by key hash must have keys that pair; anything else is a collision."""
    (mismatched,), = pair.con.execute(f"""
        SELECT count(*) FROM pairs
        {"LEFT JOIN rd ON rd.paired AND rd.old_id = CAST(o_key AS VARCHAR)"
         if pair.renamed else ""}
        WHERE o_rn IS NOT NULL AND n_rn IS NOT NULL
          AND {pair.expected_new_key("o_key")} IS DISTINCT FROM
              {"CAST(n_key AS VARCHAR)" if pair.keys_as_text else "n_key"}
    """).fetchall()
    if mismatched:
        raise _KeyHashCollision(pair.table)


def _insert_row_changes(pair: _TablePair) -> None:
    """One row per added, removed or renamed entity; a merged old id is removed, with the id it
    was folded into as its new value."""
    entity = "COALESCE(CAST(n_key AS VARCHAR), CAST(o_key AS VARCHAR))"
    pair.con.execute(f"""
        INSERT INTO changes
        SELECT {_lit(pair.table)}, {entity},
               CASE WHEN o_rn IS NULL THEN 'added' WHEN n_rn IS NULL THEN 'removed'
                    ELSE 'renamed' END,
               NULL,
               CASE WHEN n_rn IS NOT NULL AND o_rn IS NOT NULL THEN CAST(o_key AS VARCHAR) END,
               CASE WHEN o_rn IS NULL THEN NULL
                    WHEN n_rn IS NULL THEN rd.new_id ELSE CAST(n_key AS VARCHAR) END,
               {_lit(pair.kind)}
        FROM pairs LEFT JOIN rd ON NOT rd.paired AND rd.old_id = CAST(pairs.o_key AS VARCHAR)
        WHERE o_rn IS NULL OR n_rn IS NULL
           OR CAST(o_key AS VARCHAR) <> CAST(n_key AS VARCHAR)
    """)


def _insert_cell_changes(pair: _TablePair, columns: list[str]) -> None:
    """One row per changed cell of the paired rows, over the given columns."""
    if not columns:
        return
    # Unpivot while joining the two sides: per pair, one list entry per column that differs
    # (null to null is no change), rendered as text only for those cells.
    cells = []
    for column in columns:
        o_col, n_col = f"o.{_q(column)}", f"n.{_q(column)}"
        o_text = _render(o_col, pair.old_types[column])
        n_text = _render(n_col, pair.new_types[column])
        differs = (f"{o_col} IS DISTINCT FROM {n_col}" if pair.same_type(column)
                   else f"{o_text} IS DISTINCT FROM {n_text}")
        cells.append(f"{{'f': {_lit(column)}, 'd': {differs}, "
                     f"'o': CASE WHEN {differs} THEN {o_text} END, "
                     f"'n': CASE WHEN {differs} THEN {n_text} END}}")
    pair.con.execute(f"""
        INSERT INTO changes
        SELECT {_lit(pair.table)}, entity_id, 'changed', c.f, c.o, c.n, {_lit(pair.kind)}
        FROM (SELECT CAST(n.k AS VARCHAR) AS entity_id,
                     unnest(list_filter([{", ".join(cells)}], lambda z: z.d)) AS c
              FROM cand JOIN rows_o o ON o.rn = cand.o_rn
                        JOIN rows_n n ON n.rn = cand.n_rn)
    """)


def _diff_pair(pair: _TablePair, exact: bool) -> None:
    """The steps of one table's diff, on hashed keys or (`exact`) on the keys themselves."""
    _hash_rows(pair, exact)
    changed_columns = _join_sides(pair, exact)
    (candidates,), = pair.con.execute("SELECT count(*) FROM cand").fetchall()
    if not candidates:  # identical tables: nothing to fetch
        return
    _fetch_rows(pair, changed_columns)
    if not exact:
        _check_paired_keys(pair)
    _insert_row_changes(pair)
    _insert_cell_changes(pair, changed_columns)


def _diff_table(con: duckdb.DuckDBPyConnection, table: str, key: str,
                old_path: Path, new_path: Path, old_schema: pa.Schema, new_schema: pa.Schema,
                redirects: list[dict], folders: tuple[Path, Path]) -> None:
    """Diff one table present in both releases into table changes. Keys join by a 64-bit hash;
    a collision shows up as a duplicate or a mismatched pair, and the table is diffed again on
    the exact keys."""
    pair = _table_pair(con, table, key, (old_path, new_path), (old_schema, new_schema),
                       redirects, folders)
    try:
        try:
            _diff_pair(pair, exact=False)
        except _KeyHashCollision:
            _drop(con, *_WORK_TABLES)
            _diff_pair(pair, exact=True)
    finally:
        _drop(con, *_WORK_TABLES)


# --- public API ------------------------------------------------------------------------------


def empty_changes() -> pd.DataFrame:
    return CHANGES_SCHEMA.empty_table().to_pandas()


def diff_release_dirs(
    old_dir: Path | None,
    new_dir: Path,
    *,
    primary_keys: dict[str, str] | None = None,
    redirects: list[dict] | None = None,
) -> pd.DataFrame:
    """The changes from old_dir to new_dir, sorted by (table_name, entity_id, change, field).

    Tables are the *.parquet files of either folder (except changes.parquet). Primary keys come
    from `primary_keys`, else from each folder's datapackage.json. old_dir None (the first
    release) gives an empty frame, as DESIGN.md says. Raises DiffError on a missing folder, an
    unreadable file or schema, or a duplicate or null primary key.
    """
    return diff_release_dirs_arrow(old_dir, new_dir, primary_keys=primary_keys,
                                   redirects=redirects).to_pandas()


def diff_release_dirs_arrow(
    old_dir: Path | None,
    new_dir: Path,
    *,
    primary_keys: dict[str, str] | None = None,
    redirects: list[dict] | None = None,
) -> pa.Table:
    """diff_release_dirs as an Arrow table of CHANGES_SCHEMA (what `sovai diff` uses: no pandas
    to import or convert to)."""
    new_dir = Path(new_dir)
    new_files = _table_files(new_dir)
    if old_dir is None:
        return CHANGES_SCHEMA.empty_table()
    old_dir = Path(old_dir)
    old_files = _table_files(old_dir)
    keys = {**_datapackage_keys(old_dir), **_datapackage_keys(new_dir), **(primary_keys or {})}
    redirects = [dict(r) for r in (redirects or [])]

    con = _connect()
    try:
        con.execute("CREATE TABLE changes (table_name VARCHAR, entity_id VARCHAR, "
                    "change VARCHAR, field VARCHAR, old_value VARCHAR, new_value VARCHAR, "
                    "kind VARCHAR)")
        schema_rows: list[tuple] = []
        for table in sorted(set(old_files) | set(new_files)):
            schema_rows += _diff_one(con, table, keys.get(table), old_files.get(table),
                                     new_files.get(table), redirects, (old_dir, new_dir))
        if schema_rows:
            con.executemany("INSERT INTO changes VALUES (?, ?, ?, ?, ?, ?, ?)", schema_rows)
        result = con.sql("""
            SELECT * FROM changes
            ORDER BY table_name, entity_id NULLS FIRST, change, field NULLS FIRST
        """).to_arrow_table()
    except duckdb.Error as err:
        raise DiffError(f"cannot compare {old_dir} with {new_dir}: {err}") from err
    finally:
        con.close()
    return result.cast(CHANGES_SCHEMA)


def _diff_one(con: duckdb.DuckDBPyConnection, table: str, key: str | None,
              old_path: Path | None, new_path: Path | None, redirects: list[dict],
              folders: tuple[Path, Path]) -> list[tuple]:
    """Diff one table of either release into table changes; returns its schema change rows."""
    old_schema = _read_schema(old_path) if old_path else None
    new_schema = _read_schema(new_path) if new_path else None
    if key is None:
        raise DiffError(f"no primary key for table {table}: not given and not in "
                        f"datapackage.json of {folders[0]} or {folders[1]}")
    for schema, path in ((old_schema, old_path), (new_schema, new_path)):
        if schema is not None and key not in schema.names:
            raise DiffError(f"primary key column {key} of table {table} is missing "
                            f"from {path}")
    kind = "provenance" if table in PROVENANCE_TABLES else "value"
    if old_path is None:
        _check_keys(con, table, key, new_path, folders[1])
        _one_sided_rows(con, table, key, new_path, "added", kind)
    elif new_path is None:
        _check_keys(con, table, key, old_path, folders[0])
        _one_sided_rows(con, table, key, old_path, "removed", kind)
    else:
        _diff_table(con, table, key, old_path, new_path, old_schema, new_schema, redirects,
                    folders)
    return _schema_rows(table, old_schema, new_schema)


def _row_count(path: Path | None) -> int:
    if path is None:
        return 0
    try:
        return pq.ParquetFile(path).metadata.num_rows
    except (OSError, pa.ArrowException) as err:
        raise DiffError(f"cannot read {path}: {err}") from err


def reconcile_counts(changes: pd.DataFrame, old_dir: Path | None, new_dir: Path) -> pd.DataFrame:
    """Per table: previous, added, removed, renamed, changed (entities with a changed cell),
    current, ok (previous + added - removed == current), changed_cells, schema_changes.

    For the first release (old_dir None) the diff is empty by design, so every current row
    counts as added against an empty previous release.
    """
    new_files = _table_files(Path(new_dir))
    old_files = _table_files(Path(old_dir)) if old_dir is not None else {}
    import pandas as pd

    tables = sorted(set(old_files) | set(new_files) | set(changes["table_name"].dropna()))
    rows = []
    for table in tables:
        mine = changes[changes["table_name"] == table]
        change = mine["change"]
        previous = _row_count(old_files.get(table))
        current = _row_count(new_files.get(table))
        added = int((change == "added").sum()) if old_dir is not None else current
        removed = int((change == "removed").sum())
        rows.append({
            "table_name": table,
            "previous": previous,
            "added": added,
            "removed": removed,
            "renamed": int((change == "renamed").sum()),
            "changed": int(mine.loc[change == "changed", "entity_id"].nunique()),
            "current": current,
            "ok": previous + added - removed == current,
            "changed_cells": int((change == "changed").sum()),
            "schema_changes": int(change.str.startswith("column_").sum()),
        })
    columns = ["table_name", "previous", "added", "removed", "renamed", "changed", "current",
               "ok", "changed_cells", "schema_changes"]
    return pd.DataFrame(rows, columns=columns)


def changes_to_arrow(changes: pd.DataFrame) -> pa.Table:
    """The changes as an all-string Arrow table without pandas metadata (for changes.parquet)."""
    table = pa.Table.from_pandas(changes[CHANGES_COLUMNS], schema=CHANGES_SCHEMA,
                                 preserve_index=False)
    return table.replace_schema_metadata(None)
