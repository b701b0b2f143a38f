"""normalize: curated records and captures become the published tables of one release.

As-of semantics: a release sees only the sources published on or before its date. A value is
published only when a claim from one of those sources (or an external reference) supports it;
an entity whose name no such claim supports is not in the release.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pandas as pd
import pycountry

from pipeline.curation.curated import (
    DATE_BOUNDS,
    DATE_PRECISIONS,
    Curated,
    CuratedError,
    Record,
    parse_date,
    string_list,
)
from pipeline.curation.like_cases import unlike_cases
from pipeline.curation.money import add_usd
from pipeline.extraction.extract import source_text
from pipeline.extraction.quotes import (
    SourceText,
    basis_problem,
    name_keys,
    quote_names_any,
    states_number,
)
from pipeline.sources.capture import Capture, CaptureError, verify_capture
from pipeline.text import fold_name
from pipeline.validation.schemas import (
    FORMATS,
    ColumnSpec,
    TableSchema,
    frame_from_columns,
    frame_from_records,
    is_missing,
)

# Entity tables in dependency order (a table only references tables before it, or itself).
ENTITY_TABLES = [
    "jurisdictions",
    "regions",
    "organizations",
    "model_families",
    "models",
    "projects",
    "fx_rates",
    "investments",
    "figures",
    "assessments",
    "groupings",
]
BASES = ("stated", "table", "section", "external")
# Values that state an absence of information rather than a fact: they need no claim.
UNCLAIMED_VALUES = ("unknown", "not_applicable")
EU = ("EUU", "European Union")


def render_value(value: Any) -> str:
    """A value as claim text: ISO dates, integral floats without '.0', lowercase booleans."""
    if type(value) is str:  # most values, once per claim row: skip the tests below
        return value
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalars from pandas columns
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


# --- sources -------------------------------------------------------------------------------------


@dataclass
class SourceInfo:
    record: Record
    source_id: str
    published_on: dt.date
    capture: Capture | None
    text: SourceText | None


# What a curator writes in sources.yaml (media type, size, hash and capture time come from
# the capture itself).
SOURCE_KEYS = ("source_id", "title", "title_from_page", "publisher", "url", "citation_note",
               "capture_file", "published_on", "date_precision", "date_bound", "date_evidence",
               "date_note")
SOURCE_TEXT_KEYS = ("title", "publisher", "url", "citation_note", "capture_file",
                    "date_evidence", "date_note")
REDIRECT_KEYS = ("table", "old_id", "new_id", "reason")
MENTION_RULE_KEYS = ("source", "table", "column", "resolve_to", "split", "not_entities")
CONFLICT_KEYS = ("table_name", "metric", "field", "figure_ids", "entity_ids", "resolution")


def read_sources(curated: Curated, captures: dict[str, Capture]) -> dict[str, SourceInfo]:
    """Validate sources.yaml and attach each source's latest capture and its text."""
    sources: dict[str, SourceInfo] = {}
    for record in curated.sources:
        source_id = record.get("source_id")
        if not source_id or not isinstance(source_id, str):
            raise record.error("missing required column", column="source_id", value=source_id)
        if source_id in sources:
            first = sources[source_id].record
            raise record.error(f"duplicate source_id (first at {first.file}:{first.line})",
                               key=source_id, column="source_id", value=source_id)
        for extra in sorted(set(record) - set(SOURCE_KEYS)):
            raise record.error(f"a source has no such key{_did_you_mean(extra, SOURCE_KEYS)}",
                               key=source_id, column=extra, value=record[extra])
        for column in ("title", "published_on", "date_precision", "date_evidence"):
            if record.get(column) in (None, ""):
                raise record.error("missing required column", key=source_id, column=column)
        for column in SOURCE_TEXT_KEYS:
            if record.get(column) is not None and not isinstance(record[column], str):
                raise record.error("must be text", key=source_id, column=column,
                                   value=record[column])
        if not isinstance(record.get("title_from_page", True), bool):
            raise record.error("must be true or false", key=source_id, column="title_from_page",
                               value=record["title_from_page"])
        published_on = parse_date(record, "published_on", key=source_id)
        _check_citation_note(record, source_id)
        if record["date_precision"] not in DATE_PRECISIONS:
            raise record.error(f"must be one of {list(DATE_PRECISIONS)}", key=source_id,
                               column="date_precision", value=record["date_precision"])
        check_precision(record, source_id, "published_on", published_on,
                        record["date_precision"])
        if record.get("date_bound", "within") not in DATE_BOUNDS:
            raise record.error(f"must be one of {list(DATE_BOUNDS)}", key=source_id,
                               column="date_bound", value=record["date_bound"])
        capture = captures.get(source_id)
        if capture is not None:
            _verify(record, source_id, capture)
        text = None if capture is None else source_text(source_id, capture)
        if text is not None and not text.text.strip():
            raise record.error(f"the capture of {source_id} is empty ({capture.bytes} bytes of "
                               f"no text): capture the page again", key=source_id,
                               column="capture_file", value=record.get("capture_file"))
        info = SourceInfo(record, source_id, published_on, capture, text)
        if text is not None and text.find(str(record["date_evidence"])) is None:
            raise record.error("date_evidence does not occur in the source's capture",
                               key=source_id, column="date_evidence",
                               value=record["date_evidence"])
        sources[source_id] = info
    return sources


def _verify(record: Record, source_id: str, capture: Capture) -> None:
    """A capture in raw/ is content-addressed: bytes that no longer hash to their name were
    altered after capture, and no quote may be checked against them."""
    try:
        verify_capture(capture)
    except CaptureError as err:
        raise record.error(f"{err}: the capture was altered; restore it (git checkout raw/) "
                           f"or capture the page again", key=source_id) from None


def _check_citation_note(record: Record, source_id: str) -> None:
    """A citation needs a publisher and a URL; where the page shows neither, the curator says
    why, so a reader knows the null is deliberate."""
    missing = [c for c in ("publisher", "url") if record.get(c) in (None, "")]
    if missing and not str(record.get("citation_note") or "").strip():
        raise record.error(f"{' and '.join(missing)} null: give the value the page shows, or "
                           f"say why it cannot be given in citation_note", key=source_id,
                           column="citation_note")


def check_release_has_sources(curated: Curated, sources: dict[str, SourceInfo],
                              release_date: dt.date) -> None:
    """A release dated before every source would publish nothing."""
    if sources and all(s.published_on > release_date for s in sources.values()):
        first = min(sources.values(), key=lambda s: s.published_on)
        record = next((r for r in curated.releases
                       if str(r.get("date")) == release_date.isoformat()), None)
        message = (f"release {release_date} is dated before every source (the first, "
                   f"{first.source_id}, is published on {first.published_on}): it would "
                   f"publish nothing")
        if record is None:
            raise CuratedError(message)
        raise record.error(message, key=release_date.isoformat(), column="date",
                           value=release_date.isoformat())


_TABLES_CACHE: dict[tuple[str, str], list] = {}


def check_mention_rules(rules: list[Record], sources: dict[str, SourceInfo],
                        included: set[str]) -> None:
    """Each mention_columns rule of a source in this release names a table the capture has,
    and a column of that table: a rule that matches nothing would hide every name."""
    from pipeline.extraction.extract import capture_tables

    for rule in rules:
        source = rule.get("source")
        for column, kind in (("source", str), ("table", int), ("column", str)):
            if not isinstance(rule.get(column), kind) or isinstance(rule.get(column), bool):
                raise rule.error(f"needs {column} ({'a number' if kind is int else 'text'})",
                                 column=column, value=rule.get(column))
        string_list(rule, "resolve_to")
        for extra in sorted(set(rule) - set(MENTION_RULE_KEYS)):
            raise rule.error(f"a mention rule has no such key"
                             f"{_did_you_mean(extra, MENTION_RULE_KEYS)}", column=extra,
                             value=rule[extra])
        if source not in sources:
            raise rule.error("unknown source", column="source", value=source)
        info = sources[source]
        if info.source_id not in included or info.capture is None:
            continue
        key = (info.capture.sha256, info.capture.media_type)
        if key not in _TABLES_CACHE:
            _TABLES_CACHE[key] = capture_tables(info.capture)
        tables, number = _TABLES_CACHE[key], rule.get("table")
        if not isinstance(number, int) or not 1 <= number <= len(tables):
            raise rule.error(f"{info.source_id} has no table {number!r} (its capture has "
                             f"{len(tables)})", key=info.source_id, column="table",
                             value=number)
        header = tables[number - 1].header
        if rule.get("column") not in header:
            raise rule.error(f"{info.source_id} table {number} has no such column (its "
                             f"columns: {header})", key=info.source_id, column="column",
                             value=rule.get("column"))


def sources_frame(schema: TableSchema, sources: list[SourceInfo]) -> pd.DataFrame:
    rows = []
    for info in sources:
        record, capture = info.record, info.capture
        if capture is None:
            raise record.error("source has no capture in raw/ (run the capture step)",
                               key=info.source_id)
        rows.append({
            "source_id": info.source_id,
            "title": record["title"],
            "title_from_page": bool(record.get("title_from_page", True)),
            "publisher": record.get("publisher"),
            "url": record.get("url"),
            "citation_note": record.get("citation_note"),
            "published_on": info.published_on,
            "date_precision": record["date_precision"],
            "date_bound": record.get("date_bound", "within"),
            "date_evidence": record["date_evidence"],
            "date_note": record.get("date_note"),
            "media_type": capture.media_type,
            "bytes": capture.bytes,
            "sha256": capture.sha256,
            "captured_at": capture.captured_at,
        })
    return frame_from_records(schema, rows)


# --- entities and claims -------------------------------------------------------------------------


@dataclass
class ClaimDraft:
    record: Record
    source_id: str | None
    quote: str | None
    basis: str
    reference: str | None
    line: int | None
    all_fields: set[str] = field(default_factory=set)  # supports the entity's own values
    stated: dict[str, Any] = field(default_factory=dict)  # field -> the value the page states
    # Entities the quote names but does not state this value for, with the curator's reason.
    not_stated_for: dict[str, str] = field(default_factory=dict)

    @property
    def external(self) -> bool:
        return self.basis == "external"


@dataclass
class EntityDraft:
    table: str
    record: Record
    entity_id: str
    values: dict[str, Any]
    claims: list[ClaimDraft]


def _coerce(record: Record, key: str, column: ColumnSpec, value: Any) -> Any:
    if value is None:
        return [] if column.is_list else None
    try:
        if column.is_list:
            if not isinstance(value, list):
                raise TypeError
            if not all(isinstance(v, (str, int, float)) for v in value):
                raise TypeError
            return [str(v) for v in value]
        if column.type == "string":
            if isinstance(value, (list, dict)):
                raise TypeError
            return value.isoformat() if isinstance(value, dt.date) else str(value)
        if column.type == "int64":
            if isinstance(value, bool) or float(value) != int(value):
                raise TypeError
            return int(value)
        if column.type == "float64":
            if isinstance(value, bool):
                raise TypeError
            return float(value)
        if column.type == "boolean":
            if not isinstance(value, bool):
                raise TypeError
            return value
        if column.type == "date":
            return parse_date(record, column.name, key=key)
    except (TypeError, ValueError):
        hint = (": write the number in whole units (1.5bn is 1500000000)"
                if column.type in ("int64", "float64") and isinstance(value, str) else "")
        raise record.error(f"not a valid {column.type}{hint}", key=key, column=column.name,
                           value=value) from None
    return value


# Rules a column's values obey beyond schemas/ (which a published datapackage.json describes,
# so they are kept here): (table, column) -> (test, what the value must be).
def _is_currency(code: str) -> bool:
    return pycountry.currencies.get(alpha_3=code) is not None


@cache
def _spdx():  # noqa: ANN202 (license_expression's Licensing)
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


@cache  # a few licences name every model: parse each once, not once per model
def is_spdx_license(value: str) -> bool:
    """An SPDX licence identifier, spelt as SPDX spells it, or a LicenseRef-… for a licence
    the SPDX list does not have."""
    if value.startswith("LicenseRef-"):
        return True
    info = _spdx().validate(value)
    return not info.errors and info.normalized_expression == value


VALUE_RULES = {
    ("investments", "amount"): (lambda v: v >= 0, "a negative amount: amounts are what is "
                                "committed, at least 0"),
    ("investments", "amount_max"): (lambda v: v >= 0, "a negative amount: amounts are what "
                                    "is committed, at least 0"),
    ("fx_rates", "usd_per_unit"): (lambda v: v > 0, "a rate must be more than 0"),
    ("investments", "currency"): (_is_currency, "not an ISO 4217 currency code"),
    ("fx_rates", "currency"): (_is_currency, "not an ISO 4217 currency code"),
    ("models", "license"): (is_spdx_license, "not an SPDX licence identifier (spelt as SPDX "
                            "does, e.g. Apache-2.0), nor LicenseRef-… for one SPDX lacks"),
}


def _check_rules(record: Record, key: str, table: str, values: dict[str, Any]) -> None:
    for (rule_table, column), (test, message) in VALUE_RULES.items():
        value = values.get(column)
        if rule_table == table and value is not None and not test(value):
            raise record.error(message, key=key, column=column, value=value)
    low, high = values.get("amount"), values.get("amount_max")
    if table == "investments" and low is not None and high is not None and high < low:
        raise record.error(f"amount_max is below amount {render_value(low)}", key=key,
                           column="amount_max", value=high)


@cache  # compiled once, not looked up in re's cache for every value
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _check_value(record: Record, key: str, column: ColumnSpec, value: Any) -> None:
    items = value if column.is_list else [value]
    for item in items:
        if item is None:
            continue
        if column.allowed and item not in column.allowed:
            raise record.error(f"must be one of {list(column.allowed)}", key=key,
                               column=column.name, value=item)
        if column.pattern and not _pattern(column.pattern).fullmatch(str(item)):
            raise record.error(f"does not match {column.pattern}", key=key, column=column.name,
                               value=item)
        if column.format:
            test, label = FORMATS[column.format]
            if not test(str(item)):
                raise record.error(f"not {label}", key=key, column=column.name, value=item)


def _not_stated_for(claim: Record, key: str) -> dict[str, str]:
    """Entities a claim's quote names without stating its value for them, with the reason."""
    value = claim.get("not_stated_for")
    if not value:
        return {}  # most claims
    if not (isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str)
                                            and v.strip() for k, v in value.items())):
        raise claim.error("not_stated_for must map entity IDs to the reason", key=key,
                          column="not_stated_for", value=value)
    return dict(value)


CLAIM_KEYS = {"source", "quote", "basis", "fields", "reference", "note", "not_stated_for"}


def _parse_claim(claim: Any, entity: Record, key: str, schema: TableSchema,
                 claimable: dict[str, ColumnSpec], sources: dict[str, SourceInfo]
                 ) -> ClaimDraft:
    """One claim of an entity; `claimable` is the schema's columns but its primary key."""
    if not isinstance(claim, Record):
        raise entity.error("a claim must be a mapping", key=key, column="claims", value=claim)
    if not CLAIM_KEYS.issuperset(claim):  # a set difference only for the claim that errs
        extra = min(set(claim) - CLAIM_KEYS)
        raise claim.error(f"unknown claim key{_did_you_mean(extra, CLAIM_KEYS)}", key=key,
                          column=extra)
    basis = claim.get("basis", "stated")
    if basis not in BASES:
        raise claim.error(f"basis must be one of {list(BASES)}", key=key, column="basis",
                          value=basis)
    draft = ClaimDraft(record=claim, source_id=claim.get("source"), quote=claim.get("quote"),
                       basis=basis, reference=claim.get("reference"), line=None,
                       not_stated_for=_not_stated_for(claim, key))
    fields = claim.get("fields")
    if isinstance(fields, list):
        names = fields
    elif isinstance(fields, dict):
        names = list(fields)
    else:
        raise claim.error("fields must be a list of columns or a mapping column: value",
                          key=key, column="fields", value=fields)
    for name in names:
        if not isinstance(name, str) or name not in claimable:
            raise claim.error(f"{schema.name} has no such column", key=key, column="fields",
                              value=name)
    if isinstance(fields, list):
        draft.all_fields = set(fields)
    else:
        draft.stated = {name: _coerce(claim, key, claimable[name], value)
                        for name, value in fields.items()}
    if basis == "external":
        if not draft.reference or not str(draft.reference).startswith(("http://", "https://")):
            raise claim.error("an external claim needs a reference URL", key=key,
                              column="reference", value=draft.reference)
        return draft
    _locate_quote(draft, key, sources)
    return draft


def _locate_quote(draft: ClaimDraft, key: str, sources: dict[str, SourceInfo]) -> None:
    """A quoted claim's source is known and captured, and its quote is in the capture, where
    its basis says (draft.line is the line it starts on)."""
    claim = draft.record
    if not draft.source_id:
        raise claim.error("missing required column", key=key, column="source")
    if not isinstance(draft.source_id, str) or draft.source_id not in sources:
        raise claim.error("unknown source", key=key, column="source", value=draft.source_id)
    if draft.quote is None:
        raise claim.error("missing required column", key=key, column="quote")
    if not isinstance(draft.quote, str) or not draft.quote.strip():
        raise claim.error("an empty quote supports nothing: copy the words from the page",
                          key=key, column="quote", value=draft.quote)
    text = sources[draft.source_id].text
    if text is None:
        raise claim.error("the source has no capture to verify the quote against", key=key,
                          column="source", value=draft.source_id)
    draft.line = text.find(draft.quote)
    if draft.line is None:
        raise claim.error(f"quote does not occur in the capture of {draft.source_id}",
                          key=key, column="quote", value=draft.quote)
    problem = basis_problem(text, draft.quote, draft.basis,
                            str(sources[draft.source_id].record.get("title") or ""))
    if problem:
        raise claim.error(problem, key=key, column="quote", value=draft.quote)


def read_entities(table: str, records: list[Record], schema: TableSchema,
                  sources: dict[str, SourceInfo]) -> list[EntityDraft]:
    """Validate one entity file: columns, types, allowed values, duplicate IDs, claims."""
    pk = schema.primary_key
    writable = {c.name: c for c in schema.columns if not c.derived}
    claimable = {c.name: c for c in schema.columns if c.name != pk}
    known = {*writable, "claims", "resolutions"}  # once, not per record
    # Columns _check_value has a rule for, those naming a source, those with a precision:
    # found once per table, not tested for every column of every record.
    checked = {c.name for c in writable.values() if c.allowed or c.pattern or c.format}
    # Whether a column refuses a null (jurisdictions get name and kind from ISO 3166).
    required = {name: not (c.nullable or c.is_list or (table == "jurisdictions"
                                                       and name in ("name", "kind")))
                for name, c in writable.items()}
    citing = [c for c in writable.values() if "sources" in c.references]
    dated = [c for c in writable.values() if c.precision]
    drafts: dict[str, EntityDraft] = {}
    for record in records:
        key = record.get(pk)
        if key in (None, ""):
            raise record.error("missing required column", column=pk)
        key = str(key)
        for extra in sorted(set(record) - known):
            raise record.error(f"{schema.name} has no such column{_did_you_mean(extra, writable)}",
                               key=key, column=extra, value=record[extra])
        _check_containers(record, key)
        if key in drafts:
            first = drafts[key].record
            raise record.error(f"duplicate {pk} (first at {first.file}:{first.line})",
                               key=key, column=pk, value=key)
        values: dict[str, Any] = {}
        for name, column in writable.items():
            given = record.get(name)
            if given is None:  # _coerce's and _check_value's answer, without the calls
                if required[name]:
                    raise record.error("missing required column" if name not in record else
                                       "required: may not be null", key=key, column=name)
                values[name] = [] if column.is_list else None
                continue
            value = _coerce(record, key, column, given)
            if name in checked:
                _check_value(record, key, column, value)
            values[name] = value
        _check_rules(record, key, table, values)
        for column in citing:
            value = values[column.name]
            if isinstance(value, str) and value not in sources:
                raise record.error("unknown source", key=key, column=column.name, value=value)
        for column in dated:
            check_precision(record, key, column.name, values[column.name],
                            values.get(column.precision))
        claims = [_parse_claim(c, record, key, schema, claimable, sources)
                  for c in record.get("claims") or []]
        drafts[key] = EntityDraft(table, record, key, values, claims)
    return list(drafts.values())


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(str(name), list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_containers(record: Record, key: str) -> None:
    """`claims` is a list of mappings, `resolutions` a mapping of field to reason."""
    claims, resolutions = record.get("claims"), record.get("resolutions")
    if claims is not None and not isinstance(claims, list):
        raise record.error("claims must be a list (each claim `- source: …`)", key=key,
                           column="claims", value=claims)
    if resolutions is not None and not (
            isinstance(resolutions, dict)
            and all(isinstance(v, str) and v.strip() for v in resolutions.values())):
        raise record.error("resolutions must map each field to the reason its value was chosen",
                           key=key, column="resolutions", value=resolutions)


def check_precision(record: Record, key: str, column: str, value: dt.date | None,
                    precision: str | None) -> None:
    """A date known to the month is that month's first day, to the year the year's: a date
    that says more than its precision would claim a day no page gives."""
    if value is None:
        return
    if precision is None:
        raise record.error("a date needs its precision (day, month or year)", key=key,
                           column=column, value=value.isoformat())
    if (precision == "month" and value.day != 1) or (
            precision == "year" and (value.month, value.day) != (1, 1)):
        raise record.error(f"a {precision}-precision date must be the {precision}'s first day",
                           key=key, column=column, value=value.isoformat())


def _alias_keys(draft: EntityDraft) -> list[str]:
    names = [draft.values.get("name")] + list(draft.values.get("aliases") or [])
    return [fold_name(n) for n in names if n]


def check_alias_collisions(drafts: list[EntityDraft]) -> None:
    """An alias (after folding) may name only one entity of a table."""
    seen: dict[str, EntityDraft] = {}
    for draft in drafts:
        for alias in set(_alias_keys(draft)):
            other = seen.get(alias)
            if other is not None and other.entity_id != draft.entity_id:
                raise draft.record.error(
                    f"alias also names {other.entity_id} ({other.record.file}:"
                    f"{other.record.line})", key=draft.entity_id, column="aliases", value=alias)
            seen[alias] = draft


# --- redirects -----------------------------------------------------------------------------------


def check_redirects(records: list[Record], curated_ids: dict[str, dict[str, EntityDraft]]
                    ) -> dict[tuple[str, str], str]:
    """curated/redirects.yaml: each line retires `old_id` of `table` in favour of `new_id`.
    A retired ID is no longer curated, a chain of redirects ends at a curated entity and never
    comes back on itself. Returns (table, retired ID) -> the ID it now is."""
    step: dict[tuple[str, str], tuple[str, Record]] = {}
    for record in records:
        table, old, new = (record.get(k) for k in ("table", "old_id", "new_id"))
        if table not in curated_ids:
            raise record.error(f"unknown table (one of {', '.join(curated_ids)})",
                               column="table", value=table)
        for extra in sorted(set(record) - set(REDIRECT_KEYS)):
            raise record.error(f"a redirect has no such key{_did_you_mean(extra, REDIRECT_KEYS)}",
                               column=extra, value=record[extra])
        for column, value in (("old_id", old), ("new_id", new), ("reason", record.get("reason"))):
            if not isinstance(value, str) or not value.strip():
                raise record.error("missing required column", column=column, value=value)
        if (table, old) in step:
            first = step[(table, old)][1]
            raise record.error(f"{old} is already redirected (at line {first.line})",
                               key=old, column="old_id", value=old)
        if old in curated_ids[table]:
            raise record.error(f"{table} {old} is retired by this redirect but still curated; "
                               f"rename it to {new} in its file", key=old, column="old_id",
                               value=old)
        step[(table, old)] = (new, record)
    final: dict[tuple[str, str], str] = {}
    for (table, old), (new, record) in step.items():
        chain = [old, new]
        while (table, chain[-1]) in step:
            chain.append(step[(table, chain[-1])][0])
            if chain[-1] in chain[:-1]:
                raise record.error(f"redirect cycle: {' -> '.join(chain)}", key=old,
                                   column="new_id", value=new)
        if chain[-1] not in curated_ids[table]:
            raise record.error(f"redirects to {chain[-1]}, which is not a curated {table} ID",
                               key=old, column="new_id", value=new)
        final[(table, old)] = chain[-1]
    return final


# --- jurisdictions from ISO 3166 -----------------------------------------------------------------


def iso_name(code: str) -> str | None:
    if code == EU[0]:
        return EU[1]
    country = pycountry.countries.get(alpha_3=code)
    if country is None:
        return None
    return getattr(country, "common_name", None) or country.name


def complete_jurisdictions(drafts: list[EntityDraft]) -> None:
    """Names and kinds come from ISO 3166 (pycountry); an unknown code is an error."""
    for draft in drafts:
        name = iso_name(draft.entity_id)
        if name is None:
            raise draft.record.error("unknown jurisdiction: not an ISO 3166-1 alpha-3 code",
                                     key=draft.entity_id, column="jurisdiction_id",
                                     value=draft.entity_id)
        draft.values["name"] = draft.values.get("name") or name
        draft.values["kind"] = "supranational" if draft.entity_id == EU[0] else "country"
        draft.claims.append(ClaimDraft(
            record=draft.record, source_id=None, quote=None, basis="external",
            reference="https://www.iso.org/iso-3166-country-codes.html", line=None,
            all_fields={"name", "kind"}))


# --- the release ---------------------------------------------------------------------------------


@dataclass
class Conflict:
    table_name: str
    entity_id: str | None
    metric: str | None
    field: str
    values: list[str]
    source_ids: list[str]
    resolution: str
    entity_ids: list[str] = field(default_factory=list)  # the rows, aligned with values


@dataclass
class ReleaseTables:
    tables: dict[str, pd.DataFrame]
    external_values: int
    dropped_references: list[str]  # "table.id.column=target": target not in this release
    withheld: list[str]  # rows named in this release but left out, with file:line and why
    # Every curated entity as read: the same for each release of one curated/, so that
    # `sovai check` reads them once for all releases (None for tables read back).
    entities: CuratedEntities | None = None


def _supports(claim: ClaimDraft, name: str, value: Any, is_list: bool) -> Any:
    """What part of `value` this claim supports: the value, a subset of a list, or None."""
    if name in claim.all_fields:
        return value
    if name in claim.stated:
        stated = claim.stated[name]
        if is_list:
            return [v for v in value if v in stated]
        return value if stated == value else None
    return None


def _conflicting(claim: ClaimDraft, name: str, value: Any, is_list: bool) -> Any:
    if name not in claim.stated:
        return None
    stated = claim.stated[name]
    if is_list:
        extra = [v for v in stated if v not in value]
        return extra or None
    return stated if stated != value else None


def _claim_id(*parts: Any) -> str:
    return _sha256_16("\x1f".join(_id_part(p) for p in parts))


def _id_part(part: Any) -> str:
    """One part of the text a claim or conflict ID hashes (None is empty)."""
    return "" if part is None else str(part)


def _sha256_16(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass
class ReleaseScope:
    """What a release sees: the sources published on or before its date."""

    release_date: dt.date
    included: set[str]

    def active(self, claim: ClaimDraft) -> bool:
        return claim.external or claim.source_id in self.included


def release_scope(curated: Curated, sources: dict[str, SourceInfo], release_date: dt.date
                  ) -> ReleaseScope:
    included = {s for s, info in sources.items() if info.published_on <= release_date}
    check_mention_rules(curated.mention_columns, sources, included)
    return ReleaseScope(release_date, included)


@dataclass
class CuratedEntities:
    """Every curated entity, read and checked, whatever the release."""

    drafts: dict[str, dict[str, EntityDraft]]  # table -> entity ID -> draft
    retired: dict[tuple[str, str], str]  # (table, old ID) -> its ID now


def read_curated_entities(curated: Curated, schemas: dict[str, TableSchema],
                          sources: dict[str, SourceInfo]) -> CuratedEntities:
    drafts: dict[str, dict[str, EntityDraft]] = {}
    for table in ENTITY_TABLES:
        read = read_entities(table, curated.entities.get(table, []), schemas[table], sources)
        if table == "jurisdictions":
            complete_jurisdictions(read)
        check_alias_collisions(read)
        drafts[table] = {d.entity_id: d for d in read}
    return CuratedEntities(drafts, check_redirects(curated.redirects, drafts))


_WITHHELD = object()  # a required value no source of the release supports: the row waits
# Values published as they are, with no claim (a constant: not a tuple built per column).
_UNPUBLISHED = (None, [], *UNCLAIMED_VALUES)


@dataclass
class _TableColumns:
    """A table's columns as RowResolver walks them for every entity, worked out once."""

    walked: list[tuple[ColumnSpec, bool]]  # the non-key, non-derived columns; claimed?
    citing: list[str]  # columns that reference sources


class RowResolver:
    """The published row of each entity in one release, and the claims, conflicts and
    withheld rows that come with it."""

    def __init__(self, scope: ReleaseScope) -> None:
        self.scope = scope
        # The claims table as one list per column (CLAIM_COLUMNS), each claim ID once (the
        # first row with it): 1M dicts of ten keys cost more to build, dedupe and read back.
        self.claim_columns: dict[str, list[str | None]] = {name: [] for name in CLAIM_COLUMNS}
        self._claim_ids: set[str] = set()
        self.conflicts: list[Conflict] = []
        self.conflict_keys: set[tuple] = set()
        self.withheld: list[str] = []
        self.external_values = 0
        # table -> its columns as resolve_entity walks them, once (see _TableColumns)
        self._columns: dict[str, _TableColumns] = {}

    def _table_columns(self, schema: TableSchema) -> _TableColumns:
        if schema.name not in self._columns:
            claimed = {c.name for c in schema.claimed_columns()}
            self._columns[schema.name] = _TableColumns(
                [(c, c.name in claimed) for c in schema.columns
                 if c.name != schema.primary_key and not c.derived],
                [c.name for c in schema.columns if "sources" in c.references])
        return self._columns[schema.name]

    def resolve_entity(self, draft: EntityDraft, schema: TableSchema) -> dict | None:
        """The published row of an entity in this release, or None when it is not in it."""
        columns = self._table_columns(schema)
        row: dict[str, Any] = {schema.primary_key: draft.entity_id}
        supporting: list[tuple[ClaimDraft, str, Any]] = []
        resolutions = draft.record.get("resolutions") or {}
        values = draft.values
        # Columns some claim states a value for: only those can conflict (few do).
        stated = {name for claim in draft.claims for name in claim.stated}
        for column, is_claimed in columns.walked:
            value = values.get(column.name)
            if not is_claimed or value in _UNPUBLISHED:
                row[column.name] = value
                continue
            if column.name in stated:
                self._record_conflicts(draft, column, value, resolutions)
            published = self._supported_value(draft, column, value, supporting)
            if published is _WITHHELD:
                self._withhold(draft, schema, column.name, value)
                return None
            row[column.name] = published
        # Rows that cite a source directly (figures, assessments) need that source included.
        included = self.scope.included
        if any(row.get(name) not in included for name in columns.citing):
            return None
        for claim, name, part in supporting:
            self._add_claims(schema.name, draft.entity_id, name, part, claim)
        return row

    def _record_conflicts(self, draft: EntityDraft, column: ColumnSpec, value: Any,
                          resolutions: dict) -> None:
        """A page stating another value: an error unless the entity says which it chose."""
        name = column.name
        for claim in draft.claims:
            other = _conflicting(claim, name, value, column.is_list)
            if other is None:
                continue
            if name not in resolutions:
                raise claim.record.error(
                    f"conflicts with the published value {value!r}; add resolutions: "
                    f"{{{name}: why}} to the entity", key=draft.entity_id, column=name,
                    value=other)
            if self.scope.active(claim):
                self._record_conflict(draft, name, value, other, resolutions[name])

    def _supported_value(self, draft: EntityDraft, column: ColumnSpec, value: Any,
                         supporting: list[tuple[ClaimDraft, str, Any]]) -> Any:
        """What of `value` this release's claims support (a list keeps the supported items;
        an unsupported value is null, unknown, or _WITHHELD); adds those claims to
        `supporting`. Some claim, of any release, must support it."""
        name = column.name
        supported_any = False
        active_parts: list[Any] = []
        for claim in draft.claims:
            # _supports, its common answers first: most claims support a few columns
            if name in claim.all_fields:
                part = value
            elif name not in claim.stated:
                continue
            else:
                part = _supports(claim, name, value, column.is_list)
                if part in (None, []):
                    continue
            supported_any = True
            if self.scope.active(claim):
                supporting.append((claim, name, part))
                active_parts.append(part)
        if not supported_any:
            raise draft.record.error("no claim supports this value", key=draft.entity_id,
                                     column=name, value=value)
        if column.is_list:
            return [v for v in value if any(v in p for p in active_parts)]
        if active_parts:
            return value
        if column.nullable:
            return None
        if column.allowed and "unknown" in column.allowed:
            return "unknown"
        return _WITHHELD

    def _withhold(self, draft: EntityDraft, schema: TableSchema, name: str, value: Any
                  ) -> None:
        """Silent for a row no included source mentions at all (it comes with a later page),
        reported for a row that this release's sources do mention."""
        if any(self.scope.active(c) and not c.external for c in draft.claims):
            self.withheld.append(
                f"{draft.record.file}:{draft.record.line}: {schema.name} "
                f"{draft.entity_id}: no claim from this release's sources supports "
                f"{name}={render_value(value)}")

    def _record_conflict(self, draft: EntityDraft, name: str, value: Any, other: Any,
                         resolution: str) -> None:
        active = [c for c in draft.claims if self.scope.active(c)]
        supporters = sorted({c.source_id or c.reference or "" for c in active
                             if _supports(c, name, value, False) is not None})
        values = [render_value(value), render_value(other)]
        key = (draft.table, draft.entity_id, name, tuple(values))
        if key in self.conflict_keys:
            return  # several claims stating the same other value are one disagreement, one row
        self.conflict_keys.add(key)
        opposing = sorted({c.source_id or c.reference or "" for c in active
                           if _conflicting(c, name, value, isinstance(value, list)) == other})
        self.conflicts.append(Conflict(
            table_name=draft.table, entity_id=draft.entity_id, metric=None, field=name,
            values=values, source_ids=["; ".join(supporters), "; ".join(opposing)],
            resolution=str(resolution)))

    def _add_claims(self, table: str, entity_id: str, name: str, part: Any,
                    claim: ClaimDraft) -> None:
        locator = f"{claim.source_id}#line={claim.line}" if claim.line else None
        external = claim.external
        # The text _claim_id(table, entity_id, name, value, source, quote, reference) hashes,
        # built around each value without joining seven parts for every row.
        head = f"{table}\x1f{entity_id}\x1f{name}\x1f"
        tail = (f"\x1f{_id_part(claim.source_id)}\x1f{_id_part(claim.quote)}"
                f"\x1f{_id_part(claim.reference)}")
        (ids, table_names, entities, fields, values, sources, quotes, locators, bases,
         references) = self.claim_columns.values()
        for item in part if isinstance(part, list) else [part]:
            value = render_value(item)
            if external:
                self.external_values += 1
            claim_id = _sha256_16(head + value + tail)
            if claim_id in self._claim_ids:  # a row already there: the first one is kept
                continue
            self._claim_ids.add(claim_id)
            ids.append(claim_id)
            table_names.append(table)
            entities.append(entity_id)
            fields.append(name)
            values.append(value)
            sources.append(claim.source_id)
            quotes.append(claim.quote)
            locators.append(locator)
            bases.append(claim.basis)
            references.append(claim.reference)


# The columns of the claims table, in the order RowResolver.claim_columns holds them.
CLAIM_COLUMNS = ("claim_id", "table_name", "entity_id", "field", "value", "source_id", "quote",
                 "locator", "basis", "reference_url")


_NONE: frozenset[str] = frozenset()  # a table with no IDs (yet)


class ReferenceChecker:
    """References between the rows of one release: unknown IDs are errors; IDs not (yet)
    in this release are dropped and reported."""

    def __init__(self, schemas: dict[str, TableSchema], entities: CuratedEntities) -> None:
        self.schemas = schemas
        self.entities = entities
        self.published_ids: dict[str, set[str]] = {}
        self.dropped: list[str] = []

    def publish(self, table: str, rows: list[dict]) -> None:
        """Check the rows' references, then record their IDs as published."""
        self.check_references(table, rows)
        self.published_ids[table] = {r[self.schemas[table].primary_key] for r in rows}

    def check_references(self, table: str, rows: list[dict]) -> None:
        schema = self.schemas[table]
        drafts = self.entities.drafts[table]
        own_ids = {r[schema.primary_key] for r in rows}  # once: self-references look here
        referencing = [(column, targets) for column in schema.columns if not column.derived
                       for targets in [[t for t in column.references if t != "sources"]]
                       if targets]
        for row in rows:
            draft = drafts[row[schema.primary_key]]
            for column, targets in referencing:
                values = row.get(column.name)
                kept = [item for item in (values if column.is_list else [values])
                        if item is not None and self._kept(table, draft, column, targets,
                                                           item, own_ids)]
                if column.is_list:
                    row[column.name] = kept
                elif values is not None and not kept:
                    row[column.name] = None

    def _kept(self, table: str, draft: EntityDraft, column: ColumnSpec, targets: list[str],
              item: str, own_ids: set[str]) -> bool:
        """Whether a reference stays: its target is published in this release."""
        # Loops, not any() over generators: this runs for every reference of every row.
        drafts = self.entities.drafts
        for target in targets:
            if item in drafts.get(target, _NONE):
                break
        else:
            raise draft.record.error(self._unknown(targets, item), key=draft.entity_id,
                                     column=column.name, value=item)
        for target in targets:
            if item in self.published_ids.get(target, _NONE) or (target == table
                                                                 and item in own_ids):
                return True
        self.dropped.append(f"{table}.{draft.entity_id}.{column.name}={item}")
        return False

    def _unknown(self, targets: list[str], item: str) -> str:
        """Why a reference is refused: an ID retired by a redirect, or one nobody curated."""
        for target in targets:
            if (target, item) in self.entities.retired:
                return (f"retired {target} ID: redirects.yaml renames it to "
                        f"{self.entities.retired[(target, item)]}; use that")
        return f"unknown {'jurisdiction' if targets == ['jurisdictions'] else ' or '.join(targets)}"


# --- checks of the quoted claims of a release ----------------------------------------------------


def _active_quoted(draft: EntityDraft, scope: ReleaseScope) -> Iterable[ClaimDraft]:
    return (c for c in draft.claims if not c.external and scope.active(c))


def unnamed_rows(entities: CuratedEntities, schemas: dict[str, TableSchema],
                 scope: ReleaseScope) -> list[str]:
    """Table-basis claims whose row names neither the entity nor (for a model) its
    family, and whose `note` does not say how the row bears on it."""
    problems = []
    families = entities.drafts.get("model_families", {})
    for table, drafts in entities.drafts.items():
        if "name" not in schemas[table].column_names:
            continue
        for draft in drafts.values():
            keys: list[str] | None = None  # the names' keys, folded once per entity
            for claim in draft.claims:
                if not (claim.basis == "table" and scope.active(claim)
                        and not claim.record.get("note")):
                    continue
                if keys is None:
                    keys = name_keys(_row_names(draft, families))
                if not quote_names_any(claim.quote or "", keys):
                    problems.append(
                        f"{claim.record.file}:{claim.record.line}: {table} "
                        f"{draft.entity_id}: the table row quoted names neither "
                        f"{draft.values.get('name')!r} nor its family; say in `note` how "
                        f"the row bears on it, or quote the row that names it")
    return problems


def _row_names(draft: EntityDraft, families: dict[str, EntityDraft]) -> list[str]:
    """The names a table row may give for an entity: its own, or (a model's) its family's."""
    names = [draft.values.get("name") or "", *(draft.values.get("aliases") or [])]
    family = families.get(draft.values.get("family_id") or "")
    if family is not None:
        names += [family.values.get("name") or "", *(family.values.get("aliases") or [])]
    return names


def unstated_numbers(entities: CuratedEntities, scope: ReleaseScope) -> list[str]:
    """Quoted claims of an amount or a figure's value whose quote does not write that
    number (in any scale or as a word), and whose `note` does not say how it states it."""
    problems = []
    for table, columns in NUMBER_COLUMNS.items():
        for draft in entities.drafts.get(table, {}).values():
            for claim in _active_quoted(draft, scope):
                if claim.record.get("note"):
                    continue
                for column in columns:
                    # A stated value is checked even where it disagrees with the row's.
                    value = claim.stated.get(column, draft.values.get(column)
                                             if column in claim.all_fields else None)
                    if value is not None and not states_number(claim.quote or "", value):
                        problems.append(
                            f"{claim.record.file}:{claim.record.line}: {table} "
                            f"{draft.entity_id}: the quote does not write its {column} "
                            f"{render_value(value)}; quote the words that do, or say in "
                            f"`note` how it states it")
    return problems


def quoted_enum_claims(entities: CuratedEntities, schemas: dict[str, TableSchema],
                       scope: ReleaseScope, published_ids: dict[str, set[str]]
                       ) -> Iterable[tuple]:
    """(table, entity, field, value, quote, record, not_stated_for) for each quoted claim
    of this release that supports a published value of a column that may be unknown."""
    for table, drafts in entities.drafts.items():
        fields = [c.name for c in schemas[table].columns
                  if c.allowed and "unknown" in c.allowed and not c.is_list]
        published = published_ids.get(table, set())
        for draft in drafts.values():
            if draft.entity_id not in published:
                continue
            for claim in _active_quoted(draft, scope):
                for name in fields:
                    value = draft.values.get(name)
                    if _supports(claim, name, value, False) is not None:
                        yield (table, draft.entity_id, name, value, claim.quote,
                               claim.record, claim.not_stated_for)


# --- the release, step by step -------------------------------------------------------------------


def build_release_tables(curated: Curated, schemas: dict[str, TableSchema],
                         captures: dict[str, Capture], release_date: dt.date,
                         entities: CuratedEntities | None = None) -> ReleaseTables:
    """Every published table of the release dated `release_date`. entities: what an earlier
    call read from the same curated/ and captures (ReleaseTables.entities), so that each
    entity is read once in a process."""
    sources = read_sources(curated, captures)
    check_release_has_sources(curated, sources, release_date)
    scope = release_scope(curated, sources, release_date)
    tables: dict[str, pd.DataFrame] = {"sources": sources_frame(
        schemas["sources"], [s for s in sources.values() if s.source_id in scope.included])}
    entities = entities or read_curated_entities(curated, schemas, sources)
    resolver = RowResolver(scope)
    references = ReferenceChecker(schemas, entities)
    for table in ENTITY_TABLES:
        tables[table] = _entity_table(table, schemas[table], tables, entities, resolver,
                                      references)
    _add_inverse_links(tables, schemas)
    _add_reference_types(tables, references.published_ids)
    _figure_conflicts(entities, resolver.conflicts, curated, tables["figures"])
    tables["claims"] = frame_from_columns(schemas["claims"], resolver.claim_columns)
    _row_conflicts(entities, resolver.conflicts, curated, tables, schemas)
    tables["conflicts"] = _conflicts_frame(schemas["conflicts"], resolver.conflicts)
    _check_quoted_claims(entities, schemas, scope, references.published_ids, tables)
    if "layer_evidence" in schemas:  # derived from the tables above, never curated
        from pipeline.curation.evidence import layer_evidence_rows

        tables["layer_evidence"] = frame_from_records(schemas["layer_evidence"],
                                                      layer_evidence_rows(tables))
    ordered = {name: tables[name] for name in schemas if name in tables}
    return ReleaseTables(ordered, resolver.external_values, references.dropped,
                         resolver.withheld, entities)


def _entity_table(table: str, schema: TableSchema, tables: dict[str, pd.DataFrame],
                  entities: CuratedEntities, resolver: RowResolver,
                  references: ReferenceChecker) -> pd.DataFrame:
    """One entity table of the release: its rows, their references, derived columns."""
    rows = [r for r in (resolver.resolve_entity(d, schema)
                        for d in entities.drafts[table].values()) if r is not None]
    references.publish(table, rows)
    # Derived columns: computed from values already claimed, so they need no claim.
    if table == "investments":
        _type_reference(rows, "investor", {"organizations": "investor_organization_id",
                                           "jurisdictions": "investor_jurisdiction_id"},
                        references.published_ids, otherwise="named")
        add_usd(rows, {k: d.values for k, d in entities.drafts["organizations"].items()},
                tables["fx_rates"].to_dict("records") if "fx_rates" in tables else [])
    elif table == "assessments":  # references checked: a subject is one or the other
        _type_reference(rows, "subject_id", {"jurisdictions": "jurisdiction_id",
                                             "regions": "region_id"},
                        references.published_ids, otherwise="region")
    return frame_from_records(schema, rows)


def _conflicts_frame(schema: TableSchema, conflicts: list[Conflict]) -> pd.DataFrame:
    return frame_from_records(schema, [
        {"conflict_id": _claim_id(c.table_name, c.entity_id, c.metric, c.field, *c.values),
         "table_name": c.table_name, "entity_id": c.entity_id, "metric": c.metric,
         "field": c.field, "values": c.values, "source_ids": c.source_ids,
         "resolution": c.resolution, "entity_ids": c.entity_ids}
        for c in conflicts])


def _check_quoted_claims(entities: CuratedEntities, schemas: dict[str, TableSchema],
                         scope: ReleaseScope, published_ids: dict[str, set[str]],
                         tables: dict[str, pd.DataFrame]) -> None:
    """Every quote of the release names its row, writes its number, and treats like cases
    alike: all problems at once, each with file and line."""
    problems = [*unnamed_rows(entities, schemas, scope), *unstated_numbers(entities, scope),
                *unlike_cases(quoted_enum_claims(entities, schemas, scope, published_ids),
                              tables, schemas)]
    if problems:
        raise CuratedError("\n".join(problems))


# Numbers a quote must write itself: an investment's amount, a figure's value.
NUMBER_COLUMNS = {"investments": ("amount", "amount_max"), "figures": ("value", "value_max")}
# What each table's rows are called in a type column, for references that may point at several.
REFERENCE_TYPES = {"jurisdictions": "jurisdiction", "regions": "region",
                   "organizations": "organization", "model_families": "model_family",
                   "models": "model", "projects": "project"}
TYPED_LISTS = {("figures", "subject_ids"): "subject_types",
               ("groupings", "member_ids"): "member_types"}


def _add_reference_types(tables: dict[str, pd.DataFrame], published_ids: dict[str, set[str]]
                         ) -> None:
    """A list that may point at several tables gets a parallel list of each item's table, so
    a join knows where to look (an ID is a key of one table only: validate.shared_ids)."""
    table_of = {key: kind for table, kind in REFERENCE_TYPES.items()
                for key in published_ids.get(table, set())}
    for (table, column), types in TYPED_LISTS.items():
        frame = tables.get(table)
        if frame is not None and column in frame.columns:
            frame[types] = pd.Series([[table_of[i] for i in ids] for ids in frame[column]],
                                     index=frame.index, dtype=object)


def _add_inverse_links(tables: dict[str, pd.DataFrame], schemas: dict[str, TableSchema]
                       ) -> None:
    """Links the pages give one way, filled the other way: a column `inverse_of:
    table.column` lists the rows of that table whose column points at this row."""
    for name, schema in schemas.items():
        for column in schema.columns:
            if not column.inverse_of or name not in tables:
                continue
            source_table, source_column = column.inverse_of.split(".")
            source = tables[source_table]
            key = schemas[source_table].primary_key
            pointing: dict[str, list[str]] = {}
            # tolist(): iterating an Arrow-backed column is ten times slower, value for value
            for row_id, targets in zip(source[key].tolist(), source[source_column].tolist(),
                                       strict=True):
                for target in targets if isinstance(targets, list) else [targets]:
                    if not is_missing(target):
                        pointing.setdefault(target, []).append(row_id)
            frame = tables[name]
            frame[column.name] = pd.Series(
                [sorted(pointing.get(i, [])) for i in frame[schema.primary_key].tolist()],
                index=frame.index, dtype=object)


def _type_reference(rows: list[dict], column: str, targets: dict[str, str],
                    published_ids: dict[str, set[str]], *, otherwise: str) -> None:
    """A value that may be a key of several tables: `<column>_type` says which (REFERENCE_TYPES
    names it), and one typed column per table, `targets[table]`, holds it or null, so every
    reference column points at exactly one table. A value in none of them is `otherwise`."""
    for row in rows:
        value = row[column]
        table = next((t for t in targets if value in published_ids.get(t, set())), None)
        row[f"{column.removesuffix('_id')}_type"] = (REFERENCE_TYPES[table] if table
                                                     else otherwise)
        for target, typed_column in targets.items():
            row[typed_column] = value if target == table else None


def _row_conflicts(entities: CuratedEntities, conflicts: list[Conflict], curated: Curated,
                   tables: dict[str, pd.DataFrame], schemas: dict[str, TableSchema]) -> None:
    """Disagreements between rows, declared in conflicts.yaml with `entity_ids`: each is
    published as a conflict of both rows' values. Rows of one owner that the pages each call
    the largest, and components that cannot make up their umbrella, must be declared so
    (pipeline.curation.disagreements)."""
    from pipeline.curation.disagreements import competing_superlatives, components_off_total

    declared: list[tuple[str, set[str]]] = []
    claims = tables["claims"]
    for record in curated.conflicts:
        ids = record.get("entity_ids")
        if not ids:
            continue
        table, field_name = record.get("table_name"), record.get("field")
        if table not in tables or table not in entities.drafts:
            raise record.error("unknown table", column="table_name", value=table)
        if field_name not in schemas[table].column_names or not record.get("resolution"):
            raise record.error("needs a field of the table and a resolution", column="field",
                               value=field_name)
        unknown = [i for i in ids if i not in entities.drafts[table]]
        if unknown:
            raise record.error(f"unknown {table} row", column="entity_ids", value=unknown[0])
        declared.append((table, set(ids)))
        rows = tables[table].set_index(schemas[table].primary_key)
        present = [i for i in ids if i in rows.index]
        if len(present) < 2:
            continue  # not a conflict within this release
        sources = ["; ".join(sorted(set(claims.loc[(claims["table_name"] == table)
                                                   & (claims["entity_id"] == i)
                                                   & (claims["field"] == field_name),
                                                   "source_id"].dropna()))) for i in present]
        conflicts.append(Conflict(
            table_name=table, entity_id=None, metric=record.get("metric"), field=field_name,
            values=[render_value(rows.loc[i, field_name]) for i in present],
            source_ids=sources, resolution=str(record["resolution"]), entity_ids=present))
    for group in [*competing_superlatives(tables), *components_off_total(tables)]:
        if not any(t == group.table and set(group.entity_ids) <= ids for t, ids in declared):
            raise CuratedError(f"curated/conflicts.yaml: {group.describe()}: declare the "
                               f"disagreement (table_name, entity_ids, field, resolution)")


def _figure_conflicts(entities: CuratedEntities, conflicts: list[Conflict], curated: Curated,
                      figures: pd.DataFrame) -> None:
    """Figures of one metric, date and subjects that disagree must be resolved in
    conflicts.yaml (a context window of two different models is no conflict)."""
    declared: dict[frozenset, Record] = {}
    for record in curated.conflicts:
        ids = string_list(record, "figure_ids")
        string_list(record, "entity_ids")
        for extra in sorted(set(record) - set(CONFLICT_KEYS)):
            raise record.error(f"a conflict has no such key{_did_you_mean(extra, CONFLICT_KEYS)}",
                               column=extra, value=record[extra])
        if not record.get("resolution"):
            raise record.error("missing required column", column="resolution")
        unknown = [i for i in ids if i not in entities.drafts["figures"]]
        if unknown:
            raise record.error("unknown figure", column="figure_ids", value=unknown[0])
        declared[frozenset(ids)] = record
    published = figures.set_index("figure_id")
    for record in curated.conflicts:
        ids = [i for i in record.get("figure_ids") or [] if i in published.index]
        if len(ids) < 2:
            continue  # not a conflict within this release
        rows = published.loc[ids]
        conflicts.append(Conflict(
            table_name="figures", entity_id=None, metric=str(record.get("metric") or
                                                             rows["metric"].iloc[0]),
            field=str(record.get("field", "value")),
            values=[render_value(v) for v in rows["value"]],
            source_ids=[str(s) for s in rows["source_id"]],
            resolution=str(record["resolution"]), entity_ids=ids))
    covered = set().union(*declared) if declared else set()
    subjects = figures["subject_ids"].map(lambda ids: " ".join(sorted(ids)))
    # Undated figures group together: without a date, two values of one metric and subjects
    # may disagree, and that must be declared, not assumed away.
    for (metric, as_of, _), group in figures.groupby(["metric", "as_of", subjects],
                                                     dropna=False):
        if group["value"].nunique() > 1:
            missing = set(group["figure_id"]) - covered
            if missing:
                draft = entities.drafts["figures"][sorted(missing)[0]]
                raise draft.record.error(
                    f"figures {sorted(group['figure_id'])} give different values for "
                    f"{metric} as of {as_of}; declare the conflict in conflicts.yaml",
                    key=draft.entity_id, column="value", value=draft.values["value"])
