"""resolve: names in extracted table cells become stable IDs through canonical names and aliases.

What does not resolve is reported (never dropped silently, never guessed)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from pipeline.curation.curated import Record, string_list
from pipeline.text import fold_name

RESOLVED_COLUMNS = ["source_id", "locator", "column_header", "text", "name", "table_name",
                    "entity_id"]
UNRESOLVED_COLUMNS = ["source_id", "locator", "column_header", "text", "name", "tables",
                      "config_file", "config_line"]
SET_ASIDE_COLUMNS = ["source_id", "locator", "column_header", "text", "name", "reason",
                     "config_file", "config_line"]


@dataclass
class MentionResolution:
    resolved: pd.DataFrame  # RESOLVED_COLUMNS
    unresolved: pd.DataFrame  # UNRESOLVED_COLUMNS: names no alias knows
    set_aside: pd.DataFrame  # SET_ASIDE_COLUMNS: names a curator declared not to be entities


def build_alias_index(tables: dict[str, pd.DataFrame], primary_keys: dict[str, str]
                      ) -> dict[str, dict[str, str]]:
    """For each table: folded name or alias -> entity ID."""
    index: dict[str, dict[str, str]] = {}
    for table, frame in tables.items():
        if "name" not in frame.columns:
            continue
        pk = primary_keys[table]
        keys: dict[str, str] = {}
        # Columns as Python lists: iterating pandas' Arrow strings costs a call per cell.
        aliases_of = (frame["aliases"].tolist() if "aliases" in frame.columns
                      else [None] * len(frame))  # a list, or an array when read from Parquet
        for entity_id, label, aliases in zip(frame[pk].tolist(), frame["name"].tolist(),
                                             aliases_of, strict=True):
            names = [label, entity_id] + (list(aliases) if aliases is not None else [])
            for name in names:
                key = fold_name(name) if isinstance(name, str) else ""  # once per name
                if key:
                    keys.setdefault(key, entity_id)
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


def _not_entities(rule: Record) -> dict[str, str]:
    """A rule's `not_entities`: names in its column that stand for no single entity
    ("several Nordic models"), each with the reason; they are reported apart, not resolved."""
    declared = rule.get("not_entities") or {}
    if not isinstance(declared, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in declared.items()):
        raise rule.error("not_entities must map each name to the reason it is not an entity",
                         column="not_entities", value=declared)
    return declared


def resolve_mentions(mentions: pd.DataFrame, config: list[Record],
                     index: dict[str, dict[str, str]]) -> MentionResolution:
    """Resolve the cells of the columns declared in curated/mention_columns.yaml."""
    resolved, unresolved, set_aside = [], [], []
    # The cells of each (source, table, column), grouped once, and read as Python tuples
    # once: a mask, or even a pandas selection, per rule costs a pass over every mention, so
    # resolution grew as rules x mentions (issue 14).
    cells_of = (mentions.groupby(["source_id", "table_index", "column_header"], sort=False).indices
                if len(mentions) else {})
    cells = list(zip(*(mentions[c].tolist()
                       for c in ("source_id", "locator", "column_header", "text")), strict=True))
    for rule in config:
        source, table_no, header = rule.get("source"), rule.get("table"), rule.get("column")
        targets = string_list(rule, "resolve_to")
        unknown = [t for t in targets if t not in index]
        if not source or not table_no or not header or not targets or unknown:
            raise rule.error("needs source, table, column and resolve_to (known tables)",
                             column="resolve_to" if unknown else None,
                             value=unknown[0] if unknown else None)
        not_entities = _not_entities(rule)
        seen: set[str] = set()
        for position in cells_of.get((source, table_no, header), ()):
            cell = cells[position]  # source_id, locator, column_header, text
            for name in _candidates(re.sub(r"\s+", " ", cell[3]), rule.get("split")):
                base = (*cell, name)
                if name in not_entities:
                    seen.add(name)
                    set_aside.append(base + (not_entities[name], rule.file, rule.line))
                    continue
                hits = resolve_name(name, targets, index)
                if hits:
                    resolved.extend(base + hit for hit in hits)
                else:
                    unresolved.append(base + (", ".join(targets), rule.file, rule.line))
        for name in sorted(set(not_entities) - seen):
            # A stale declaration would hide nothing today and the wrong thing tomorrow.
            raise rule.error(f"not_entities names a cell that {source} table {table_no} column "
                             f"{header!r} does not hold", column="not_entities", value=name)
    return MentionResolution(pd.DataFrame(resolved, columns=RESOLVED_COLUMNS),
                             pd.DataFrame(unresolved, columns=UNRESOLVED_COLUMNS),
                             pd.DataFrame(set_aside, columns=SET_ASIDE_COLUMNS))
