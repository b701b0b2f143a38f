"""The client-side search: every named entity of a release with its aliases, as a JSON index
that find.html embeds and find.js filters (the page lists everything without JavaScript)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.site.homes import KEYS, anchor
from pipeline.site.sections import Context, Link
from pipeline.text import fold_name

FIND_TABLES = ("jurisdictions", "regions", "models", "model_families", "organizations",
               "projects", "investments")


@dataclass(frozen=True)
class Entry:
    row: str  # the id of its row on find.html
    table: str
    entity_id: str
    link: Link
    aliases: tuple[str, ...]
    jurisdiction: Link | None
    keys: tuple[str, ...]  # folded name, aliases and ID, what a query matches


def entries(ctx: Context) -> list[Entry]:
    out = []
    for table in FIND_TABLES:
        key = KEYS[table]
        for row in sorted(ctx.data.rows(table), key=lambda r: (r["name"].casefold(), r[key])):
            aliases = tuple(row.get("aliases") or ())
            jid = row.get("jurisdiction_id")
            keys = tuple(dict.fromkeys(k for k in (fold_name(n) for n in (
                row["name"], *aliases, row[key])) if k))
            out.append(Entry(f"find-{anchor(table, row[key])}", table, row[key],
                             ctx.link(table, row[key]), aliases,
                             ctx.link("jurisdictions", jid) if jid else None, keys))
    return out


def index_json(found: list[Entry]) -> list[dict]:
    """What find.js reads: each row's id and the keys it matches."""
    return [{"row": e.row, "keys": list(e.keys)} for e in found]
