"""Disagreements no single field shows: two rows of one owner that the pages each call the
largest, and components that cannot make up their stated total. Found over a release's tables;
each must be declared in conflicts.yaml, which publishes the rows with a resolution."""

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
class ComponentsOffTotal:
    table: str
    umbrella: str
    entity_ids: tuple[str, ...]  # the umbrella first, then its components
    total: float
    components: float
    currency: str

    def describe(self) -> str:
        side = "more" if self.components > self.total else "less"
        return (f"{self.table} {self.umbrella}: its components {', '.join(self.entity_ids[1:])} "
                f"add up to {self.components:,.0f} {self.currency}, {side} than its own "
                f"{self.total:,.0f} {self.currency}")


def _comparable(frame: pd.DataFrame) -> tuple[str, str, str] | None:
    """(low, high, currency) columns in which an umbrella and its parts compare: the stated
    amounts where all share one currency (also when "$" is unresolved), else USD."""
    if frame["currency"].nunique() == 1:
        return "amount", "amount_max", str(frame["currency"].iloc[0])
    if frame["amount_usd"].notna().all():
        return "amount_usd", "amount_usd_max", "USD"
    return None


def components_off_total(tables: dict[str, pd.DataFrame]) -> list[ComponentsOffTotal]:
    """Umbrella investments whose components (part_of) cannot make up the umbrella: they add
    up to more than its top, or, where a page says how many components it has
    (component_count) and all are recorded, less than its lower bound. A page's total and its
    parts cannot both be right. A component stated "up to" counts at that bound."""
    frame = tables["investments"].set_index("investment_id")
    counts = frame["component_count"] if "component_count" in frame.columns else None
    found = []
    for umbrella, parts in frame[frame["part_of"].notna()].groupby("part_of"):
        if umbrella not in frame.index:
            continue
        columns = _comparable(pd.concat([frame.loc[[umbrella]], parts]))
        if columns is None:
            continue
        low, high, currency = columns
        top = frame.loc[umbrella, high]
        total_top = frame.loc[umbrella, low] if pd.isna(top) else top
        summed = float(parts[low].sum())
        summed_top = float(parts[high].fillna(parts[low]).sum())
        count = None if counts is None else counts.get(umbrella)
        complete = count is not None and not pd.isna(count) and int(count) == len(parts)
        if summed > float(total_top) * (1 + 1e-9):
            total = float(total_top)
        elif complete and summed_top < float(frame.loc[umbrella, low]) * (1 - 1e-9):
            total, summed = float(frame.loc[umbrella, low]), summed_top
        else:
            continue
        found.append(ComponentsOffTotal("investments", umbrella,
                                        (umbrella, *sorted(parts.index)), total, summed,
                                        currency))
    return found
