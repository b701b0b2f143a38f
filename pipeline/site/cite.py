"""A value as a page shows it, with the claims (quote, source, capture) that support it."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.site.release_data import ReleaseData

UNSTATED = {"unknown": "unknown: no page states it", None: "not stated",
            "not_applicable": "not applicable"}


@dataclass(frozen=True)
class Cite:
    """One claim behind a value: the quote and where it is, or an external reference."""

    quote: str | None
    source_id: str | None
    source_title: str | None
    capture: str | None  # path from the site root
    line: str | None
    basis: str
    reference_url: str | None

    @property
    def hover(self) -> str:
        """What a title attribute shows: the quote, or the external reference."""
        if self.quote:
            return f"“{self.quote}” ({self.source_title})"
        return f"external reference: {self.reference_url}"


@dataclass(frozen=True)
class Cell:
    """A shown value: its text, an optional machine-readable value, and its cites."""

    text: str
    cites: tuple[Cite, ...] = ()
    value: str | None = None  # for <data value=...>, e.g. an exact amount


def cites_for(data: ReleaseData, table: str, entity_id: str, field: str) -> tuple[Cite, ...]:
    """The claims of a field, in claim_id order (the release's own order)."""
    return tuple(to_cite(data, claim) for claim in data.claims.get((table, entity_id, field), []))


def to_cite(data: ReleaseData, claim: dict) -> Cite:
    source = data.sources.get(claim.get("source_id") or "")
    locator = claim.get("locator") or ""
    return Cite(quote=claim.get("quote"), source_id=source and source["source_id"],
                source_title=source and source["title"], capture=source and source["capture"],
                line=locator.partition("#line=")[2] or None, basis=claim.get("basis") or "",
                reference_url=claim.get("reference_url"))


def cell(data: ReleaseData, table: str, row: dict, key: str, field: str,
         text: str | None = None, value: str | None = None) -> Cell:
    """The cell of `row[field]`: shown as `text` (default: the value, lists joined), with
    the field's claims. A null or `unknown` says so and needs no claim."""
    raw = row.get(field)
    if text is None:
        text = show(raw)
    return Cell(text=text, cites=cites_for(data, table, row[key], field), value=value)


def show(raw: object) -> str:
    if isinstance(raw, list):
        return ", ".join(str(item) for item in raw) if raw else "none"
    if raw in UNSTATED:
        return UNSTATED[raw]
    if isinstance(raw, float) and raw.is_integer():
        return f"{int(raw):,}"
    return str(raw)
