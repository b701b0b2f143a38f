"""resolve: names in extracted table cells become stable IDs through canonical names and aliases.

What does not resolve is reported (never dropped silently, never guessed)."""

from __future__ import annotations

import re

import pandas as pd

from pipeline.curated import Record
from pipeline.text import fold_name

RESOLVED_COLUMNS = ["source_id", "locator", "column_header", "text", "name", "table_name",
                    "entity_id"]
UNRESOLVED_COLUMNS = ["source_id", "locator", "column_header", "text", "name", "tables",
                      "config_file", "config_line"]


def build_alias_index(tables: dict[str, pd.DataFrame], primary_keys: dict[str, str]
                      ) -> dict[str, dict[str, str]]:
    """For each table: folded name or alias -> entity ID."""
    index: dict[str, dict[str, str]] = {}
    for table, frame in tables.items():
        if "name" not in frame.columns:
            continue
        pk = primary_keys[table]
        keys: dict[str, str] = {}
        for row in frame.itertuples(index=False):
            entity_id = getattr(row, pk)
            aliases = getattr(row, "aliases", None)  # a list, or an array when read from Parquet
            names = [row.name, entity_id] + (list(aliases) if aliases is not None else [])
            for name in names:
                if isinstance(name, str) and fold_name(name):
                    keys.setdefault(fold_name(name), entity_id)
        index[table] = keys
    return index


def _candidates(cell: str, split: str | None) -> list[str]:
    parts = [cell] if not split else [p for p in cell.split(split)]
    return [p.strip() for p in parts if p.strip()]


def resolve_name(name: str, tables: list[str], index: dict[str, dict[str, str]]
                 ) -> list[tuple[str, str]]:
    """(table, id) pairs for a name: the whole name first, then its '/'-separated parts
    ("Hunyuan/Hy3" is one entity when an alias says so, else each part is looked up)."""
    key = fold_name(name)
    for table in tables:
        if key in index.get(table, {}):
            return [(table, index[table][key])]
    if "/" in name:
        found = []
        for part in name.split("/"):
            hits = resolve_name(part, tables, index)
            if not hits:
                return []
            found.extend(hits)
        return found
    return []


def resolve_mentions(mentions: pd.DataFrame, config: list[Record],
                     index: dict[str, dict[str, str]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Resolve the cells of the columns declared in curated/mention_columns.yaml."""
    resolved, unresolved = [], []
    for rule in config:
        source, table_no, header = rule.get("source"), rule.get("table"), rule.get("column")
        targets = list(rule.get("resolve_to") or [])
        unknown = [t for t in targets if t not in index]
        if not source or not table_no or not header or not targets or unknown:
            raise rule.error("needs source, table, column and resolve_to (known tables)",
                             column="resolve_to" if unknown else None,
                             value=unknown[0] if unknown else None)
        cells = mentions[(mentions["source_id"] == source) & (mentions["table_index"] == table_no)
                         & (mentions["column_header"] == header)]
        for cell in cells.itertuples(index=False):
            text = re.sub(r"\s+", " ", cell.text)
            for name in _candidates(text, rule.get("split")):
                hits = resolve_name(name, targets, index)
                base = (cell.source_id, cell.locator, cell.column_header, cell.text, name)
                if hits:
                    resolved.extend(base + hit for hit in hits)
                else:
                    unresolved.append(base + (", ".join(targets), rule.file, rule.line))
    return (pd.DataFrame(resolved, columns=RESOLVED_COLUMNS),
            pd.DataFrame(unresolved, columns=UNRESOLVED_COLUMNS))
