"""validate: the published tables against schemas/ (pandera), their references, and provenance.

Each check returns a list of failure messages naming table, primary key, column and value; an
empty list means the check passed. The Dagster asset checks are thin wrappers around these."""

from __future__ import annotations

import pandas as pd
import pandera.errors

from pipeline.curation.normalize import UNCLAIMED_VALUES, render_value
from pipeline.extraction.quotes import SourceText
from pipeline.validation.schemas import ColumnSpec, TableSchema, is_missing, pandera_schema

MAX_MESSAGES = 50


class ValidationError(ValueError):
    """Raised when a release would be published from invalid data."""


def check_schema(schema: TableSchema, frame: pd.DataFrame) -> list[str]:
    """pandera: columns, dtypes, nullability, allowed values, patterns, unique primary key."""
    try:
        pandera_schema(schema).validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as errors:
        messages = []
        for case in errors.failure_cases.head(MAX_MESSAGES).itertuples(index=False):
            index = case.index
            key = None
            if index is not None and not is_missing(index) and int(index) < len(frame):
                key = frame[schema.primary_key].iloc[int(index)]
            messages.append(
                f"{schema.name}: {schema.primary_key}={key!r}, column {case.column!r}, "
                f"value {case.failure_case!r}: fails {case.check}")
        return messages
    return []


def _items(frame: pd.DataFrame, key: str, column: ColumnSpec) -> pd.Series:
    """A column's values indexed by the row's key, a list's items one per line, in row order,
    missing values left out; each value the scalar the column's own dtype gives (as a loop
    over its rows would), so that messages name it the same way."""
    values = frame[column.name].set_axis(pd.Index(frame[key].to_numpy(), dtype=object))
    if column.is_list:
        values = values.explode()
    return values[~values.isna().to_numpy(dtype=bool)]


def check_foreign_keys(tables: dict[str, pd.DataFrame], schemas: dict[str, TableSchema]
                       ) -> list[str]:
    referenced = {t for s in schemas.values() for c in s.columns for t in c.references}
    keys = {name: set(tables[name][s.primary_key].tolist()) for name, s in schemas.items()
            if name in tables and name in referenced}
    messages = []
    for name, schema in schemas.items():
        frame = tables.get(name)
        if frame is None:
            continue
        for column in schema.columns:
            if not column.references:
                continue
            targets = set().union(*(keys.get(t, set()) for t in column.references))
            items = _items(frame, schema.primary_key, column)
            # As Python objects: pandas' isin on Arrow strings makes a pyarrow scalar of
            # every target (11 s for 1M claims).
            known = pd.Series(items.to_numpy(dtype=object), dtype=object).isin(targets)
            unknown = items[~known.to_numpy(dtype=bool)]
            messages += [f"{name}: {schema.primary_key}={key!r}, column {column.name!r}, "
                         f"value {item!r}: not a key of {' or '.join(column.references)}"
                         for key, item in unknown.head(MAX_MESSAGES).items()]
    return messages[:MAX_MESSAGES]


def _rendered(items: pd.Series) -> pd.Series:
    """Each value as claim text (render_value), which is the value itself for text."""
    if pd.api.types.is_string_dtype(items.dtype) and items.dtype != object:
        return items
    return items.map(render_value)


def check_claim_coverage(tables: dict[str, pd.DataFrame], schemas: dict[str, TableSchema]
                         ) -> list[str]:
    """Every published value (each element of a list) has at least one claim."""
    claims = tables["claims"]
    # A set of plain tuples: pandas' MultiIndex isin factorizes every Arrow string first.
    claimed = set(zip(*(claims[c].tolist() for c in ("table_name", "entity_id", "field",
                                                       "value")), strict=True))
    messages = []
    for name, schema in schemas.items():
        frame = tables.get(name)
        if frame is None:
            continue
        pk = schema.primary_key
        for column in schema.claimed_columns():
            items = _items(frame, pk, column)
            items = items[~items.isin(list(UNCLAIMED_VALUES)).to_numpy(dtype=bool)]
            unsupported = [(name, key, column.name, value) not in claimed for key, value in
                           zip(items.index.tolist(), _rendered(items).tolist(), strict=True)]
            unclaimed = items[unsupported]
            messages += [f"{name}: {pk}={key!r}, column {column.name!r}, value {item!r}: no "
                         f"claim supports it" for key, item in unclaimed.head(MAX_MESSAGES).items()]
    return messages[:MAX_MESSAGES]


def quotes_found(claims: pd.DataFrame, texts: dict[str, SourceText]) -> pd.Series:
    """Whether each claim's quote occurs in its source's capture (False for a claim with no
    quote or no capture). A SourceText remembers what it found, so each (source, quote) is
    searched for once per process, by normalize when it ran in this one; a loop over plain
    lists is then cheaper than pandas' drop_duplicates and merge."""
    found = [isinstance(quote, str) and source in texts  # a missing quote is None or NA
             and texts[source].find(quote) is not None
             for source, quote in zip(claims["source_id"].tolist(), claims["quote"].tolist(),
                                      strict=True)]
    return pd.Series(found, index=claims.index, dtype=bool)


def check_quotes(claims: pd.DataFrame, texts: dict[str, SourceText]) -> list[str]:
    """Every quote occurs in its source's capture (whitespace folded, nothing else)."""
    external = (claims["basis"] == "external").to_numpy(dtype=bool)
    no_reference = external & claims["reference_url"].isna().to_numpy(dtype=bool)
    not_found = ~external
    not_found[~external] = ~quotes_found(claims[~external], texts).to_numpy()
    messages = []
    for row in claims[no_reference | not_found].head(MAX_MESSAGES).itertuples(index=False):
        if row.basis == "external":
            messages.append(f"claims: claim_id={row.claim_id!r}, column 'reference_url': "
                            f"an external claim needs a reference")
        else:
            messages.append(f"claims: claim_id={row.claim_id!r}, column 'quote', value "
                            f"{row.quote!r}: does not occur in the capture of {row.source_id}")
    return messages


def shared_ids(tables: dict[str, pd.DataFrame], schemas: dict[str, TableSchema]
               ) -> dict[str, list[str]]:
    """IDs that are keys of more than one table (a project and its model both `allam`): a
    reference that may point at either cannot say which."""
    where: dict[str, list[str]] = {}
    for name, frame in tables.items():
        if name in schemas and schemas[name].claims:
            for key in frame[schemas[name].primary_key].tolist():
                where.setdefault(key, []).append(name)
    return {key: names for key, names in sorted(where.items()) if len(names) > 1}


def check_release(tables: dict[str, pd.DataFrame], schemas: dict[str, TableSchema],
                  texts: dict[str, SourceText]) -> list[str]:
    """All checks at once; publish refuses to write anything while this returns messages."""
    messages = []
    for name, frame in tables.items():
        messages += check_schema(schemas[name], frame)
    messages += check_foreign_keys(tables, schemas)
    messages += check_claim_coverage(tables, schemas)
    messages += check_quotes(tables["claims"], texts)
    messages += [f"{key!r} is a key of {' and '.join(names)}: one thing, one ID (rename one, "
                 f"with a redirect)" for key, names in shared_ids(tables, schemas).items()]
    return messages
