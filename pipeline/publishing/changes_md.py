"""CHANGES.md: the diff of a release as release notes a researcher can read.

Counts first, then schema changes, then the notable changes by table in words ("Qwen 3.6 added
(Alibaba, China, Apache-2.0)"), with IDs resolved to names through the release's own tables and
links to the sources that support each change; provenance (claims and sources) comes last, apart
from value changes. Deterministic: the same inputs give the same text (no timestamps).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache, cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.sources.capture import published_capture_path
from pipeline.validation.schemas import TableSchema

# The order researchers read tables in; others follow alphabetically.
TABLE_ORDER = ["jurisdictions", "regions", "organizations", "model_families", "models",
               "projects", "investments", "figures", "assessments", "groupings", "fx_rates",
               "conflicts",
               "sources", "claims"]
TITLES = {"model_families": "Model families", "fx_rates": "FX rates"}
PROVENANCE_TABLES = ("sources", "claims")

# What an "added" sentence says about a new row, in this order; missing values are skipped.
DETAILS = {
    "models": ["organization_ids", "jurisdiction_id", "license"],
    "model_families": ["organization_ids", "jurisdiction_id"],
    "organizations": ["jurisdiction_id", "kind"],
    "projects": ["jurisdiction_id", "layer", "release_status"],
    "investments": ["investor", "jurisdiction_id", "@amount"],
    "jurisdictions": ["region"],
    "figures": ["@figure", "as_of"],
    "assessments": ["value"],
    "groupings": ["scheme", "source_id"],
    "fx_rates": ["usd_per_unit", "as_of"],
    "conflicts": ["resolution"],
    "sources": ["publisher", "published_on"],
}

MAX_ITEMS = 100  # bullets per section; the rest is counted and left to changes.parquet
MAX_TEXT = 120


# --- reading a release folder ----------------------------------------------------------------


def _foreign_keys(resources: list[dict]) -> dict[tuple[str, str], list[str]]:
    """(table, column) -> referenced tables, from Data Package resources (a self-reference
    names the resource "")."""
    out: dict[tuple[str, str], list[str]] = {}
    for resource in resources:
        table = resource.get("name")
        for fk in (resource.get("schema") or {}).get("foreignKeys", []):
            for column in fk["fields"]:
                out.setdefault((table, column), []).append(fk["reference"]["resource"] or table)
    return out


def _is_text(arrow_type: pa.DataType) -> bool:
    return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)


@cache
def _text_missing(arrow_type: pa.DataType) -> object:
    """What pandas gives for a missing cell of this text type (NaN in pandas 3, None before)."""
    return pa.chunked_array([[None]], arrow_type).to_pandas().tolist()[0]


def _text_values(column: pa.ChunkedArray) -> list:
    """A text column's values as pandas gives them, read from Arrow: iterating a pandas
    Arrow-backed column is a Python call per cell, and converting a few taken cells through
    pandas costs more than the cells."""
    missing = _text_missing(column.type)
    return [missing if value is None else value for value in column.to_pylist()]


def _column_values(column: pa.ChunkedArray) -> list:
    """A column's values as iterating its pandas column gives them."""
    return _text_values(column) if _is_text(column.type) else list(column.to_pandas())


def _key_values(column: pa.ChunkedArray) -> list:
    """A primary key column as the strings rows are looked up by."""
    return column.to_pandas().astype(str).tolist()


def _is_text_list(arrow_type: pa.DataType) -> bool:
    return ((pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type))
            and _is_text(arrow_type.value_type))


def _converts_alone(arrow_type: pa.DataType) -> bool:
    """Whether pandas converts a cell of this type the same whatever the other rows are (an
    int column is int64, or float64 if any cell is null, so its cells are not)."""
    return _is_text(arrow_type) or _is_text_list(arrow_type)


def _records(table: pa.Table, positions: list[int], others: pd.DataFrame) -> list[dict]:
    """The rows at these positions as DataFrame.to_dict("records") gives them: text and
    list-of-text columns are taken in Arrow and only the taken cells converted (lists as
    object arrays); other columns (numbers, dates) are taken from `others`, the whole columns
    as pandas converts them, so that each value keeps the type it has today."""
    names = table.column_names  # a new list on each access: read it once
    taken = table.take(positions)
    values = {}
    for name, arrow_type in zip(names, table.schema.types, strict=True):
        if _is_text(arrow_type):
            values[name] = _text_values(taken.column(name))
        elif _is_text_list(arrow_type):
            values[name] = list(taken.column(name).to_pandas())
    if len(others.columns):
        other_rows = others.take(positions).to_dict("records")
        values.update({name: [row[name] for row in other_rows] for name in others.columns})
    # Every list has one value per taken row; strict checks cost a quarter of this loop.
    return [dict(zip(names, row, strict=False))
            for row in zip(*(values[name] for name in names), strict=False)]


class _Release:
    """The tables of one release folder, read lazily (as Arrow tables), with ID -> label
    lookups."""

    def __init__(self, folder: Path | None,
                 foreign_keys: dict[tuple[str, str], list[str]] | None = None):
        self.folder = Path(folder) if folder is not None else None
        self.link_targets: dict[str, str] = {}  # source_id -> URL, for the notes' link list
        if foreign_keys is not None:  # a release being written has no datapackage.json yet
            self.foreign_keys = foreign_keys
        self._tables: dict[str, pa.Table | None] = {}
        self._others: dict[str, pd.DataFrame] = {}  # table -> its non-text columns in pandas
        self._positions: dict[str, dict[str, int]] = {}  # table -> ID -> row number
        self._rows: dict[str, dict[str, dict | None]] = {}  # table -> ID -> row, once read
        self._claims_of: dict[tuple[str, str], list[tuple]] = {}  # (table, ID) -> claims

    def table(self, table: str) -> pa.Table | None:
        if table not in self._tables:
            path = self.folder / f"{table}.parquet" if self.folder is not None else None
            self._tables[table] = (pq.read_table(path)
                                   if path is not None and path.is_file() else None)
        return self._tables[table]

    def key(self, table: str) -> str | None:
        arrow = self.table(table)
        # The primary key is the first column in every published table.
        return arrow.column_names[0] if arrow is not None and arrow.num_columns else None

    def row(self, table: str, entity_id: str) -> dict | None:
        rows = self._rows.setdefault(table, {})  # None: the table has no such row
        if entity_id not in rows:
            self.fetch_rows(table, [entity_id])
        return rows.get(entity_id)

    def fetch_rows(self, table: str, entity_ids: Iterable[str]) -> None:
        """Read the rows of these IDs in one selection, so that a loop over many changed
        claims looks each up in a dict rather than asking pandas once per row (a row is the
        record `to_dict` gives: Python scalars, lists as arrays). An ID the table does not
        have is remembered as None."""
        rows = self._rows.setdefault(table, {})
        wanted = [i for i in dict.fromkeys(entity_ids) if i not in rows]
        if not wanted:  # nothing to read: do not index a table no line needs
            return
        # In file order: a take in order is faster, and the rows go into a dict by ID anyway.
        found = sorted(self._find(table, wanted).items(), key=lambda item: item[1])
        if found:
            taken = _records(self.table(table), [position for _, position in found],
                             self._other_columns(table))
            rows.update(zip((entity_id for entity_id, _ in found), taken, strict=True))
        for entity_id in wanted:
            rows.setdefault(entity_id, None)

    def _find(self, table: str, entity_ids: list[str]) -> dict[str, int]:
        """ID -> row number, for those of these IDs the table has. One ID is looked up in a
        dict of the table's keys, built once; a batch on a table not indexed yet is matched in
        Arrow instead (that dict took 0.7 s for 1M claims). Either way one row per ID: the
        keys are unique and not null (diff_release_dirs, run first, refuses others)."""
        arrow = self.table(table)
        if arrow is None:
            return {}
        keys = arrow.column(self.key(table))
        if table in self._positions or len(entity_ids) == 1 or not _is_text(keys.type):
            positions = self._row_positions(table)
            return {i: positions[i] for i in entity_ids if i in positions}
        texts = [i for i in entity_ids if isinstance(i, str)]  # no other value is a key
        matches = pc.index_in(pa.array(texts, keys.type), value_set=keys.combine_chunks())
        return {i: position for i, position in zip(texts, matches.to_pylist(), strict=True)
                if position is not None}

    def _other_columns(self, table: str) -> pd.DataFrame:
        if table not in self._others:
            arrow = self.table(table)
            names = [name for name, arrow_type in zip(arrow.column_names, arrow.schema.types,
                                                      strict=True)
                     if not _converts_alone(arrow_type)]
            self._others[table] = arrow.select(names).to_pandas()
        return self._others[table]

    def _row_positions(self, table: str) -> dict[str, int]:
        if table not in self._positions:
            arrow = self.table(table)
            self._positions[table] = ({} if arrow is None else
                                      dict(zip(_key_values(arrow.column(self.key(table))),
                                               range(arrow.num_rows), strict=True)))
        return self._positions[table]

    def label(self, table: str, entity_id: str) -> str | None:
        row = self.row(table, entity_id)
        return _row_label(table, row, self) if row is not None else None

    @cached_property
    def any_label(self) -> dict[str, str]:
        labels: dict[str, str] = {}
        if self.folder is None or not self.folder.is_dir():
            return labels
        for path in sorted(self.folder.glob("*.parquet")):
            table = path.stem
            if table in ("changes", "claims", "conflicts"):
                continue
            arrow = self.table(table)
            column = next((c for c in ("name", "title")
                           if arrow is not None and c in arrow.column_names), None)
            if column is None:
                continue
            # Keys are unique within a table; an earlier table's label wins.
            labels = dict(zip(_key_values(arrow.column(self.key(table))),
                              map(str, _column_values(arrow.column(column))),
                              strict=True)) | labels
        return labels

    @cached_property
    def foreign_keys(self) -> dict[tuple[str, str], list[str]]:
        """(table, column) -> the tables it points into, from this release's own
        datapackage.json, so an old release is read with the schema it was published with."""
        path = self.folder / "datapackage.json" if self.folder is not None else None
        if path is None or not path.is_file():
            return {}
        return _foreign_keys(json.loads(path.read_text(encoding="utf-8")).get("resources", []))

    def resolve(self, table: str, column: str, entity_id: str) -> str:
        """An ID in `table`.`column` as a label: the name of the row it points to."""
        for target in self.foreign_keys.get((table, column), []):
            label = self.label(target, entity_id)
            if label is not None:
                return label
        return self.any_label.get(entity_id, entity_id)

    def resolve_all(self, table: str, column: str, entity_ids: list[str]) -> list[str]:
        """resolve for each of these IDs; a column that points into no table (a list of
        13,700 claim IDs in layer_evidence) reads the labels in one pass."""
        if self.foreign_keys.get((table, column)):
            return [self.resolve(table, column, entity_id) for entity_id in entity_ids]
        labels = self.any_label
        return [labels.get(entity_id, entity_id) for entity_id in entity_ids]

    def is_reference(self, table: str, column: str) -> bool:
        return ((table, column) in self.foreign_keys or column.endswith("_id")
                or column.endswith("_ids"))

    def source_link(self, source_id: str | None) -> str | None:
        if source_id is None or _missing(source_id):
            return None
        row = self.row("sources", source_id)
        if row is None:
            return f"`{source_id}`"
        title = _escape_link(str(row.get("title") or source_id))
        url = row.get("url")
        if _missing(url) or not url:
            # A page captured from a file has no URL: link its capture in releases/captures/
            # (publish_captures), beside the release folder here and in the built site alike.
            sha256, media_type = row.get("sha256"), row.get("media_type")
            if _missing(sha256) or _missing(media_type):
                return title
            url = "../" + published_capture_path(source_id, str(sha256), str(media_type))
        # Reference-style links keep the notes readable as text; render_changes_md appends
        # the targets at the end.
        self.link_targets[source_id] = str(url)
        return f"[{title}][{source_id}]"

    def fetch_claims(self, table: str, entity_ids: Iterable[str]) -> None:
        """Find the claims about these entities of `table` in one pass over the claims table:
        only the entities a section shows ask for theirs (grouping every entity's claims took
        1.5 s at 1M claims). Keeps each entity's (source_id, field) pairs."""
        wanted = [i for i in dict.fromkeys(entity_ids) if (table, i) not in self._claims_of]
        if not wanted:
            return
        found: dict[str, list[tuple]] = {i: [] for i in wanted}
        claims = self.table("claims")
        ids = [i for i in wanted if isinstance(i, str)]  # a missing ID has no claims
        if claims is not None and claims.num_rows and ids:
            entities = claims.column("entity_id")
            about = pc.and_(pc.equal(claims.column("table_name"), table),
                            pc.is_in(entities, value_set=pa.array(ids, entities.type)))
            rows = claims.filter(about)  # a null table or entity matches nothing
            for entity_id, source, field in zip(*(_text_values(rows.column(name)) for name in
                                                  ("entity_id", "source_id", "field")),
                                                strict=True):
                found[entity_id].append((source, field))
        self._claims_of.update(((table, i), pairs) for i, pairs in found.items())

    def sources_for(self, table: str, entity_id: str, field: str | None = None) -> list[str]:
        self.fetch_claims(table, [entity_id])
        ids = sorted({source for source, claimed in self._claims_of[(table, entity_id)]
                      if not _missing(source) and (field is None or claimed == field)})
        return [link for link in (self.source_link(s) for s in ids) if link]


# --- formatting --------------------------------------------------------------------------------


def _is_list(value) -> bool:
    return isinstance(value, (list, tuple, np.ndarray))


def _missing(value) -> bool:
    if isinstance(value, str):  # most cells: pd.isna is a slow answer to this one
        return False
    if value is None or _is_list(value):
        return value is None
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _escape_link(text: str) -> str:
    return text.replace("[", "\\[").replace("]", "\\]")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _short(text: str, limit: int = MAX_TEXT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _scalar(value) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _display(release: _Release, table: str, column: str, value) -> str | None:
    """A cell as words: IDs resolved to names, lists comma-separated."""
    if _missing(value):
        return None
    is_ref = release.is_reference(table, column)
    if _is_list(value):
        present = [v for v in list(value) if not _missing(v)]
        items = (release.resolve_all(table, column, [str(v) for v in present]) if is_ref
                 else [_scalar(v) for v in present])
        return ", ".join(items) if items else None
    if is_ref:
        return release.resolve(table, column, str(value))
    return _short(_scalar(value))


def _display_text(release: _Release, table: str, column: str, text) -> str:
    """A value of changes.parquet (text; lists as JSON arrays) in words."""
    if _missing(text):
        return "none"
    if text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            items = None
        if isinstance(items, list):
            shown = _display(release, table, column, items)
            return shown if shown is not None else "none"
    return _display(release, table, column, text) or "none"


def _row_label(table: str, row: dict, release: _Release) -> str:
    for column in ("name", "title"):
        if not _missing(row.get(column)):
            return str(row[column])
    if table == "figures":
        return f"{row.get('metric')} ({row.get('scope')})"
    if table == "assessments":
        subject = release.resolve(table, "subject_id", str(row.get("subject_id")))
        return f"{row.get('dimension')} of {subject}"
    if table == "fx_rates":
        return f"{row.get('currency')} rate of {_scalar(row.get('as_of'))}"
    if table == "conflicts":
        subject = row.get("metric") if _missing(row.get("entity_id")) else row.get("entity_id")
        values = " vs ".join(str(v) for v in row.get("values", [])) if _is_list(
            row.get("values")) else _scalar(row.get("values"))
        return f"conflict on {row.get('table_name')} {subject} {row.get('field')}: {values}"
    if table == "groupings":
        return f"{row.get('label')} ({row.get('scheme')})"
    return str(next(iter(row.values())))


def _details(table: str, row: dict, release: _Release) -> list[str]:
    parts = []
    for column in DETAILS.get(table, ["organization_ids", "jurisdiction_id", "license"]):
        if column == "@amount":
            if not _missing(row.get("amount")):
                parts.append(f"{_scalar(row['amount'])} {row.get('currency') or ''}".strip())
        elif column == "@figure":
            if not _missing(row.get("value")):
                parts.append(f"{_scalar(row['value'])} {row.get('unit') or ''}".strip())
        elif column in row:
            shown = _display(release, table, column, row[column])
            if shown:
                parts.append(shown)
    return parts


def _with_sources(text: str, links: list[str]) -> str:
    return f"{text} — {', '.join(links)}" if links else text


def _bullets(lines: list[str]) -> list[str]:
    out = [f"- {line}" for line in lines[:MAX_ITEMS]]
    if len(lines) > MAX_ITEMS:
        out.append(f"- … and {len(lines) - MAX_ITEMS} more (see changes.parquet)")
    return out


def _ordered(tables) -> list[str]:
    tables = set(tables)
    return [t for t in TABLE_ORDER if t in tables] + sorted(tables - set(TABLE_ORDER))


def _title(table: str) -> str:
    return TITLES.get(table, table.replace("_", " ").capitalize())


# --- sections ----------------------------------------------------------------------------------


def _counts_table(counts: pd.DataFrame) -> list[str]:
    columns = ["previous", "added", "removed", "renamed", "changed", "current"]
    lines = ["| table | " + " | ".join(columns) + " |",
             "|---|" + "---:|" * len(columns)]
    by_table = {r["table_name"]: r for r in counts.to_dict("records")}
    for table in _ordered(by_table):
        row = by_table[table]
        lines.append(f"| {table} | " + " | ".join(str(int(row[c])) for c in columns) + " |")
    return lines


def _schema_section(changes: pd.DataFrame) -> list[str]:
    rows = changes[changes["kind"] == "schema"]
    if rows.empty:
        return []
    lines = []
    for row in rows.to_dict("records"):
        table, column = row["table_name"], row["field"]
        if row["change"] == "column_added":
            lines.append(f"{table}: column `{column}` added ({row['new_value']})")
        elif row["change"] == "column_removed":
            lines.append(f"{table}: column `{column}` removed (was {row['old_value']})")
        else:
            lines.append(f"{table}: column `{column}` changed type from {row['old_value']} "
                         f"to {row['new_value']}")
    return ["## Schema changes", "", *_bullets(lines), ""]


CHANGE_ORDER = {"added": 0, "renamed": 1, "removed": 2, "changed": 3}


def _table_section(table: str, rows: pd.DataFrame, new: _Release, old: _Release) -> list[str]:
    lines: list[str] = []
    order = rows["change"].map(CHANGE_ORDER).fillna(9)
    records = rows.assign(_order=order).sort_values("_order", kind="stable")
    # Only what is shown is put into words; the rest is counted (large diffs stay cheap).
    shown = records.head(MAX_ITEMS).to_dict("records")
    _prefetch(table, shown, new, old)
    for row in shown:
        lines.append(_describe(table, row, new, old))
    if not lines:
        return []
    more = len(records) - len(lines)
    tail = [f"- … and {more} more (see changes.parquet)"] if more > 0 else []
    return [f"### {_title(table)}", "", *[f"- {line}" for line in lines], *tail, ""]


def _prefetch(table: str, rows: list[dict], new: _Release, old: _Release) -> None:
    """Read the rows and claims that these changes' bullets name in one selection each,
    rather than one per bullet."""
    entities = [row["entity_id"] for row in rows]
    new.fetch_rows(table, entities)
    new.fetch_claims(table, entities)
    old.fetch_rows(table, [row["entity_id"] for row in rows if row["change"] == "removed"])


def _describe(table: str, row: dict, new: _Release, old: _Release) -> str:
    entity, change = row["entity_id"], row["change"]
    if change == "added":
        record = new.row(table, entity)
        label = new.label(table, entity) or entity
        details = _details(table, record, new) if record is not None else []
        text = f"{label} added" + (f" ({', '.join(details)})" if details else "")
        return _with_sources(text, new.sources_for(table, entity))
    if change == "removed":
        label = old.label(table, entity) or entity
        if not _missing(row["new_value"]):
            target = new.label(table, row["new_value"]) or row["new_value"]
            return f"{label} merged into {target}"
        return f"{label} removed"
    if change == "renamed":
        before = old.label(table, row["old_value"]) or row["old_value"]
        after = new.label(table, entity) or entity
        return f"{before} (`{row['old_value']}`) renamed to {after} (`{entity}`)"
    label = new.label(table, entity) or entity
    field = row["field"]
    before = _display_text(old if old.folder else new, table, field, row["old_value"])
    after = _display_text(new, table, field, row["new_value"])
    if _missing(row["old_value"]):
        text = f"{field} of {label} set to {after}"
    elif _missing(row["new_value"]):
        text = f"{field} of {label} cleared (was {before})"
    else:
        text = f"{field} of {label} changed from {before} to {after}"
    return _with_sources(text, new.sources_for(table, entity, field))


def _provenance_section(changes: pd.DataFrame, new: _Release, old: _Release) -> list[str]:
    rows = changes[changes["kind"] == "provenance"]
    if rows.empty:
        return []
    out = ["## Provenance", "",
           "Sources and claims (the quotes behind each value), apart from the values above.", ""]
    sources = rows[rows["table_name"] == "sources"]
    if not sources.empty:
        out += ["### Sources", ""]
        out += _bullets(_source_lines(sources, new, old))
        out.append("")
    claims = rows[rows["table_name"] == "claims"]
    if not claims.empty:
        out += ["### Claims", ""]
        out += _claims_lines(claims, changes, new, old)
        out.append("")
    return out


def _source_lines(rows: pd.DataFrame, new: _Release, old: _Release) -> list[str]:
    lines = []
    for row in rows.to_dict("records"):
        entity, change = row["entity_id"], row["change"]
        if change == "added":
            record = new.row("sources", entity) or {}
            details = _details("sources", record, new)
            lines.append(f"{new.source_link(entity)} added"
                         + (f" ({', '.join(details)})" if details else ""))
        elif change == "removed":
            lines.append(f"{old.source_link(entity) if old.folder else f'`{entity}`'} removed")
        elif change == "renamed":
            lines.append(f"`{row['old_value']}` renamed to {new.source_link(entity)}")
        elif change == "changed":
            before = _short(str(row["old_value"])) if not _missing(row["old_value"]) else "none"
            after = _short(str(row["new_value"])) if not _missing(row["new_value"]) else "none"
            lines.append(f"{row['field']} of {new.source_link(entity)} changed from {before} "
                         f"to {after}")
    return lines


def _claims_lines(rows: pd.DataFrame, changes: pd.DataFrame, new: _Release,
                  old: _Release) -> list[str]:
    """Per source: claims added, removed, changed; then claims about entities that stayed,
    which is where a new source or quote for an unchanged value shows."""
    per_source: dict[str, dict[str, int]] = {}
    notable: list[str] = []
    entities = changes[changes["change"].isin(["added", "removed"])]
    # tolist(): iterating a pandas Arrow-backed column is a Python call per cell.
    moved = set(zip(entities["table_name"].tolist(), entities["entity_id"].tolist(),
                    strict=True))
    # One entry per claim and kind of change: the changed fields of a claim are grouped.
    grouped: dict[tuple[str, str], list[str]] = {}
    for claim_id, change, field in zip(rows["entity_id"].tolist(), rows["change"].tolist(),
                                       rows["field"].tolist(), strict=True):
        grouped.setdefault((claim_id, change), []).append(field)
    # Every claim row the loop below reads, in one selection per release.
    if old.folder:
        old.fetch_rows("claims", [c for c, change in grouped if change == "removed"])
    if new.folder:
        new.fetch_rows("claims", [c for c, change in grouped if change != "removed"])
    for (claim_id, change), fields in sorted(grouped.items()):
        release = old if change == "removed" else new
        claim = release.row("claims", claim_id) if release.folder else None
        source = claim.get("source_id") if claim else None
        name = ("unknown (previous release not read)" if claim is None else
                release.source_link(source) or "external reference")
        bucket = per_source.setdefault(name, {"added": 0, "removed": 0, "changed": 0,
                                              "renamed": 0})
        if change in bucket:
            bucket[change] += 1
        if claim is None or (claim["table_name"], claim["entity_id"]) in moved:
            continue
        target = release.label(claim["table_name"], claim["entity_id"]) or claim["entity_id"]
        what = f"{claim['field']} of {target}"
        quote = f": “{_short(str(claim['quote']))}”" if not _missing(claim.get("quote")) else ""
        if change == "added":
            notable.append(f"{what}: new claim from {name}{quote}")
        elif change == "removed":
            notable.append(f"{what}: claim from {name} withdrawn")
        elif change == "changed":
            changed = " and ".join(sorted(f for f in fields if not _missing(f)))
            notable.append(f"{what}: {changed} of the claim from {name} changed"
                           + (quote if "quote" in fields else ""))
    lines = ["| source | claims added | removed | changed |", "|---|---:|---:|---:|"]
    for name in sorted(per_source):
        counts = per_source[name]
        lines.append(f"| {_cell(name)} | {counts['added']} | {counts['removed']} | "
                     f"{counts['changed']} |")
    if notable:
        lines += ["", "For entities that stayed:", "", *_bullets(sorted(set(notable)))]
    return lines


def _stats_lines(stats: dict | None) -> list[str]:
    """How well the release is sourced: the figures the build records in its run metadata."""
    if not stats:
        return []
    share = stats.get("verified_quote_share")
    lines = ["## How the values are sourced", ""]
    for label, key in (("claims (value, source, quote)", "claims"),
                       ("values supported only by an external reference (no page states them)",
                        "external_basis_values"),
                       ("conflicts between pages (see conflicts.parquet)", "conflicts"),
                       ("names in page tables that resolve to no ID", "unresolved_mentions"),
                       ("rows a page of this release mentions but that wait for a source "
                        "stating a required value", "withheld_rows"),
                       ("references to an entity not yet in this release, left out",
                        "dropped_references")):
        if key in stats:
            lines.append(f"- {label}: {stats[key]}")
    if share is not None:
        lines.append(f"- quotes verified against their captured page: {share:.0%}")
    return lines + [""]


def _first_release(new: _Release, new_label: str, counts: pd.DataFrame) -> str:
    total = int(counts["current"].sum())
    tables = int((counts["current"] > 0).sum())
    out = [f"# Sovereign AI Atlas {new_label}", "",
           f"First release: {total} rows in {tables} table{'s' if tables != 1 else ''}.", "",
           "| table | rows |", "|---|---:|"]
    by_table = {r["table_name"]: r for r in counts.to_dict("records")}
    for table in _ordered(by_table):
        out.append(f"| {table} | {int(by_table[table]['current'])} |")
    sources = new.table("sources")
    if sources is not None and sources.num_rows:
        out += ["", "## Sources", ""]
        key = new.key("sources")
        for source_id in sorted(str(s) for s in _column_values(sources.column(key))):
            record = new.row("sources", source_id) or {}
            details = _details("sources", record, new)
            out.append(f"- {new.source_link(source_id)}"
                       + (f" ({', '.join(details)})" if details else ""))
    return "\n".join(out) + "\n"


# --- public API ----------------------------------------------------------------------------------


def render_changes_md(
    changes: pd.DataFrame,
    new_dir: Path,
    *,
    old_label: str | None,
    new_label: str,
    counts: pd.DataFrame,
    old_dir: Path | None = None,
    stats: dict | None = None,
    schemas: dict[str, TableSchema] | None = None,
    curator_notes: tuple[str, ...] = (),
) -> str:
    """Release notes for new_dir. old_label None means the first release. old_dir (optional)
    lets removed entities and withdrawn claims be named from the previous release; without it
    they are shown by ID. schemas give new_dir's references when it has no datapackage.json.
    curator_notes (curated/releases.yaml `notes`) explain corrections in words, first."""
    new = _Release(Path(new_dir), None if schemas is None else _foreign_keys(
        [{"name": name, "schema": schema.frictionless()} for name, schema in schemas.items()]))
    old = _Release(Path(old_dir) if old_dir is not None else None)
    if old_label is None:
        first = _first_release(new, new_label, counts)
        text = first + ("\n" + "\n".join(_stats_lines(stats)).rstrip("\n") + "\n"
                        if stats else "")
        return _with_link_targets(text, new, old)
    out = [f"# Sovereign AI Atlas {new_label}: changes since {old_label}", ""]
    if curator_notes:
        out += ["## What this release corrects", "", *(f"- {note}" for note in curator_notes),
                ""]
    if changes.empty:
        out += [f"No changes since {old_label}.", "", *_counts_table(counts), "",
                *_stats_lines(stats)]
        return _with_link_targets("\n".join(out).rstrip("\n") + "\n", new, old)
    out += ["## Counts", "", *_counts_table(counts), "", *_stats_lines(stats)]
    if not counts.empty and not bool(counts["ok"].all()):
        bad = ", ".join(counts.loc[~counts["ok"].astype(bool), "table_name"])
        out += [f"**Counts do not reconcile for: {bad}.**", ""]
    out += _schema_section(changes)
    values = changes[changes["kind"] == "value"]
    sections: list[str] = []
    for table in _ordered(values["table_name"].unique()):
        sections += _table_section(table, values[values["table_name"] == table], new, old)
    if sections:
        out += ["## Changes by table", "", *sections]
    out += _provenance_section(changes, new, old)
    return _with_link_targets("\n".join(out).rstrip("\n") + "\n", new, old)


def _with_link_targets(text: str, *releases: _Release) -> str:
    targets = {k: v for release in releases for k, v in release.link_targets.items()}
    if not targets:
        return text
    return text + "\n" + "".join(f"[{k}]: {v}\n" for k, v in sorted(targets.items()))
