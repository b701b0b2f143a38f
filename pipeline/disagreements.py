"""Disagreements no single field shows: two rows of one owner that the pages each call the
largest. Found over the claims of a release; each must be declared in conflicts.yaml, which
publishes both rows with a resolution."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

SUPERLATIVE = re.compile(r"\b(?:the|its|world’s|world's)?\s*(largest|biggest)\s+((?:[\w’'-]+\s*)"
                         r"{1,6})", re.IGNORECASE)
# Whose rows compete for "largest": the investor of an investment, the developers of a project.
OWNERS = {"investments": "investor", "projects": "organization_ids"}


@dataclass(frozen=True)
class Superlatives:
    table: str
    owner: str
    entity_ids: tuple[str, ...]  # the rows, components left out where their umbrella is in
    phrases: tuple[str, ...]  # what each is called the largest of

    def describe(self) -> str:
        return (f"{self.table} {', '.join(self.entity_ids)} of {self.owner} are each called "
                f"the largest ({'; '.join(self.phrases)})")


def _phrase(quote: str) -> str | None:
    match = SUPERLATIVE.search(quote)
    return " ".join(match.group(0).split()).casefold() if match else None


def competing_superlatives(tables: dict[str, pd.DataFrame]) -> list[Superlatives]:
    """Per owner, the rows whose quotes call them the largest of different things."""
    claims = tables["claims"].dropna(subset=["quote"])
    found = []
    for table, owner_column in OWNERS.items():
        frame = tables[table].set_index(tables[table].columns[0])
        rows = claims[claims["table_name"] == table]
        phrases: dict[str, dict[str, str]] = {}  # owner -> entity -> phrase
        for entity, quote in zip(rows["entity_id"], rows["quote"], strict=True):
            phrase = _phrase(quote)
            if phrase is None or entity not in frame.index:
                continue
            owners = frame.loc[entity, owner_column]
            for owner in owners if isinstance(owners, list) else [owners]:
                phrases.setdefault(owner, {}).setdefault(entity, phrase)
        for owner, by_entity in sorted(phrases.items()):
            parts = frame["part_of"] if "part_of" in frame.columns else None
            top = {e: p for e, p in by_entity.items()
                   if parts is None or parts.get(e) not in by_entity}
            if len(set(top.values())) > 1:
                found.append(Superlatives(table, owner, tuple(sorted(top)),
                                          tuple(top[e] for e in sorted(top))))
    return found


@dataclass(frozen=True)
class ComponentsOverTotal:
    table: str
    umbrella: str
    entity_ids: tuple[str, ...]  # the umbrella first, then its components
    total_usd: float
    components_usd: float

    def describe(self) -> str:
        return (f"{self.table} {self.umbrella}: its components {', '.join(self.entity_ids[1:])} "
                f"add up to {self.components_usd:,.0f} USD, more than its own "
                f"{self.total_usd:,.0f} USD")


def components_over_total(tables: dict[str, pd.DataFrame]) -> list[ComponentsOverTotal]:
    """Umbrella investments whose components (part_of) add up to more than the umbrella: a
    page's total and its parts cannot both be right. Amounts compare in USD, against the top
    of a range; a component without a USD amount is left out of the sum."""
    frame = tables["investments"].set_index("investment_id")
    found = []
    for umbrella, parts in frame[frame["part_of"].notna()].groupby("part_of"):
        if umbrella not in frame.index:
            continue
        top = frame.loc[umbrella, "amount_usd_max"]
        total = frame.loc[umbrella, "amount_usd"] if pd.isna(top) else top
        summed = float(parts["amount_usd"].dropna().sum())
        if pd.notna(total) and summed > float(total) * (1 + 1e-9):
            found.append(ComponentsOverTotal("investments", umbrella,
                                             (umbrella, *sorted(parts.index)), float(total),
                                             summed))
    return found
