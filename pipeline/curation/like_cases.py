"""Like cases alike: a quote that gives one entity a value (open weights, an origin) and names
another entity of the same table must give it that value too, unless the curator says why the
quote does not state it for the other (`not_stated_for` on the claim)."""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

from pipeline.validation.schemas import TableSchema

_TOKEN = re.compile(r"[a-z0-9]+")  # compiled once: every name and quote is tokenised


def _tokens(text: str) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(text.casefold()))


class NameIndex:
    """Every entity name and alias as a run of tokens; a quote names an entity where one of
    its names is the longest name of any entity starting at that token (so "Codestral 2"
    names codestral-2, not codestral)."""

    def __init__(self, tables: dict[str, pd.DataFrame], schemas: dict[str, TableSchema]):
        self.entities: dict[tuple[str, ...], set[tuple[str, str]]] = {}
        for name, frame in tables.items():
            schema = schemas[name]
            if "name" not in frame.columns:
                continue
            # tolist(): iterating an Arrow-backed column is ten times slower, value for value
            aliases = (frame["aliases"].tolist() if "aliases" in frame.columns
                       else [[]] * len(frame))
            for key, label, more in zip(frame[schema.primary_key].tolist(),
                                        frame["name"].tolist(), aliases, strict=True):
                for text in [label, *more]:
                    run = _tokens(str(text))
                    if run and len("".join(run)) >= 3:
                        self.entities.setdefault(run, set()).add((name, key))
        self.longest = max((len(run) for run in self.entities), default=0)
        # first token -> the lengths of the names it starts, longest first: a quote's token
        # is tried only at the lengths some name has from it, not at every length up to longest.
        sizes: dict[str, set[int]] = {}
        for run in self.entities:
            sizes.setdefault(run[0], set()).add(len(run))
        self._sizes = {token: sorted(found, reverse=True) for token, found in sizes.items()}
        # quote -> what it names: one sentence often supports several fields (licence, open
        # weights, modality), each asking again.
        self._named: dict[str, frozenset[tuple[str, str]]] = {}

    def named(self, quote: str) -> frozenset[tuple[str, str]]:
        if quote not in self._named:
            self._named[quote] = frozenset(self._search(quote))
        return self._named[quote]

    def _search(self, quote: str) -> set[tuple[str, str]]:
        tokens = _tokens(quote)
        found: set[tuple[str, str]] = set()
        entities, sizes = self.entities, self._sizes
        for start, token in enumerate(tokens):
            for size in sizes.get(token, ()):
                run = tokens[start:start + size]
                if len(run) == size and run in entities:
                    found |= entities[run]
                    break
        return found


def unlike_cases(claims: Iterable[tuple], tables: dict[str, pd.DataFrame],
                 schemas: dict[str, TableSchema]) -> list[str]:
    """Problems, each naming the claim's file and line. `claims` yields (table, entity_id,
    field, value, quote, record, not_stated_for) for the quoted claims of the release."""
    index = NameIndex(tables, schemas)
    values = {name: frame.set_index(schemas[name].primary_key) for name, frame in tables.items()
              if name in schemas and schemas[name].claims}
    problems = []
    for table, entity_id, field, value, quote, record, not_stated_for in claims:
        if value == "unknown":
            continue
        for other_table, other in sorted(index.named(quote)):
            if other_table != table or other == entity_id or other in not_stated_for:
                continue
            if values[table].loc[other, field] == "unknown":
                problems.append(
                    f"{record.file}:{record.line}: {table} {entity_id}: the quote gives "
                    f"{field}={value} and also names {other}, whose {field} is unknown; treat "
                    f"like cases alike (support {other}'s {field} with this quote) or say why "
                    f"the quote does not state it for {other} in not_stated_for: "
                    f"{{{other}: reason}}")
    return problems
