"""A source's page: what it is, how it was dated and why, and every value it supports."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.site.cite import Cite, to_cite
from pipeline.site.sections import Context, Link


@dataclass(frozen=True)
class Supported:
    """One value the source supports: the row it belongs to, the field, value and quote."""

    table: str
    entity: Link
    field: str
    value: str
    cite: Cite


def supported_values(ctx: Context, source_id: str) -> list[Supported]:
    """Every claim quoting the source, by table, entity and field."""
    claims = sorted((c for c in ctx.data.rows("claims") if c.get("source_id") == source_id),
                    key=lambda c: (c["table_name"], c["entity_id"] or "", c["field"],
                                   c["claim_id"]))
    return [Supported(c["table_name"], ctx.link(c["table_name"], c["entity_id"]), c["field"],
                      c["value"] if c["value"] is not None else "", to_cite(ctx.data, c))
            for c in claims]


def tables_of(values: list[Supported]) -> list[tuple[str, list[Supported]]]:
    """The supported values grouped by table, in table order."""
    grouped: dict[str, list[Supported]] = {}
    for value in values:
        grouped.setdefault(value.table, []).append(value)
    return list(grouped.items())
