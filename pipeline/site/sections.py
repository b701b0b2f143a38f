"""Tables of entity rows as pages show them: a column spec per table, each cell with its
claims, references shown as names linking to the referenced row's home."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.site.cite import Cell, cites_for, show
from pipeline.site.homes import KEYS, anchor, homes
from pipeline.site.release_data import ReleaseData


@dataclass(frozen=True)
class Col:
    """A shown column: its header, the field whose claims back it, optionally the table its
    IDs point at, a text made from the whole row, and more fields whose claims back it."""

    header: str
    field: str
    refs: str | None = None
    text: Callable[[dict], str] | None = None
    also: tuple[str, ...] = ()
    value: Callable[[dict], str | None] | None = None


@dataclass(frozen=True)
class Link:
    text: str
    href: str | None  # from the page set's root; None: shown as text


@dataclass(frozen=True)
class RefCell(Cell):
    links: tuple[Link, ...] = ()


@dataclass(frozen=True)
class Row:
    anchor: str
    header: Cell  # the row's name, a <th scope="row">
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    caption: str
    headers: tuple[str, ...]
    rows: tuple[Row, ...] = field(default_factory=tuple)


class Context:
    """What building cells needs: the release, each row's home and each entity's name."""

    def __init__(self, data: ReleaseData) -> None:
        self.data = data
        self.homes = homes(data)
        self.names = {(table, row[key]): row.get("name") or row[key]
                      for table, key in KEYS.items() for row in data.rows(table)}
        self.names.update({("sources", s): row["title"] for s, row in data.sources.items()})
        self.names.update({("figures", r["figure_id"]): r["metric"].replace("_", " ")
                           for r in data.rows("figures")})
        self.names.update({("assessments", r["assessment_id"]): self.names.get(
            ("jurisdictions", r["subject_id"]), self.names.get(("regions", r["subject_id"]),
                                                           r["subject_id"]))
            + ": " + r["dimension"].replace("_", " ") for r in data.rows("assessments")})

    def link(self, table: str, entity_id: str) -> Link:
        return Link(self.names.get((table, entity_id), entity_id),
                    self.homes.get((table, entity_id)))


def section(ctx: Context, table: str, rows: list[dict], cols: list[Col], *, id: str,
            title: str, caption: str) -> Section:
    """A table of `rows` (of `table`), keeping only the columns this release has."""
    key = KEYS[table]
    shown = [c for c in cols if ctx.data.has(table, c.field)]
    built = tuple(Row(anchor(table, row[key]), _cell(ctx, table, key, row, shown[0]),
                      tuple(_cell(ctx, table, key, row, col) for col in shown[1:]))
                  for row in rows)
    return Section(id, title, caption, tuple(c.header for c in shown), built)


def _cell(ctx: Context, table: str, key: str, row: dict, col: Col) -> Cell:
    cites = sum((cites_for(ctx.data, table, row[key], f) for f in (col.field, *col.also)), ())
    raw = row.get(col.field)
    value = col.value(row) if col.value else None
    if col.refs and raw:
        ids = raw if isinstance(raw, list) else [raw]
        text = col.text(row) if col.text else show(raw)
        return RefCell(text, cites, value, tuple(ctx.link(col.refs, i) for i in ids))
    return Cell(col.text(row) if col.text else show(raw), cites, value)
