"""schemas/: the single source for pandera checks, Parquet types, the data dictionary and the
release metadata. One YAML file per published table."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa
import pyarrow
import yaml

# Our type names, their Arrow type, their pandas dtype, and their Frictionless type.
TYPES: dict[str, tuple[pyarrow.DataType, Any, str]] = {
    "string": (pyarrow.string(), "string", "string"),
    "int64": (pyarrow.int64(), "Int64", "integer"),
    "float64": (pyarrow.float64(), "Float64", "number"),
    "boolean": (pyarrow.bool_(), "boolean", "boolean"),
    "date": (pyarrow.date32(), object, "date"),
    "list<string>": (pyarrow.list_(pyarrow.string()), object, "array"),
}


class SchemaFileError(ValueError):
    pass


# BCP 47: a language subtag, then optional script (4 letters), region (2 letters or 3 digits)
# and variant subtags.
_TAG = re.compile(r"^([a-z]{2,3})((-[A-Z][a-z]{3})?(-([A-Z]{2}|\d{3}))?(-[a-z0-9]{5,8})*)$")


def is_language_tag(tag: str) -> bool:
    """A BCP 47 tag whose language subtag is an ISO 639 language or ISO 639-5 family code."""
    import pycountry

    match = _TAG.fullmatch(tag)
    if not match:
        return False
    code = match.group(1)
    lookup = {"alpha_2": code} if len(code) == 2 else {"alpha_3": code}
    return (pycountry.languages.get(**lookup) is not None
            or (len(code) == 3 and pycountry.language_families.get(alpha_3=code) is not None))


# Checks a column can name with `format:`, beyond allowed values and patterns.
FORMATS = {"language_tag": (is_language_tag, "a BCP 47 tag with an ISO 639 language")}


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: str
    description: str
    nullable: bool = True
    allowed: tuple[str, ...] | None = None
    pattern: str | None = None
    format: str | None = None  # a key of FORMATS
    references: tuple[str, ...] = ()  # tables whose primary key this column points into
    claimed: bool = True  # whether published values need a claim
    derived: bool = False  # computed by the pipeline (from other claimed values)
    inverse_of: str | None = None  # "table.column": this list holds the rows pointing here
    precision: str | None = None  # the column saying how precise this date is (day/month/year)

    @property
    def is_list(self) -> bool:
        return self.type == "list<string>"

    @property
    def arrow_type(self) -> pyarrow.DataType:
        return TYPES[self.type][0]


@dataclass(frozen=True)
class TableSchema:
    name: str
    title: str
    description: str
    primary_key: str
    columns: tuple[ColumnSpec, ...]
    claims: bool = True  # whether this table's values need claims
    path: Path | None = field(default=None, compare=False)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnSpec:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name} has no column {name!r}")

    def claimed_columns(self) -> list[ColumnSpec]:
        """Columns whose values need a supporting claim."""
        if not self.claims:
            return []
        return [
            c for c in self.columns
            if c.name != self.primary_key and c.claimed and not c.derived
            and not (c.references and "sources" in c.references)
        ]

    def arrow_schema(self) -> pyarrow.Schema:
        return pyarrow.schema(
            [pyarrow.field(c.name, c.arrow_type, nullable=c.nullable) for c in self.columns]
        )

    def frictionless(self) -> dict:
        """The Table Schema descriptor for datapackage.json."""
        descriptor: dict[str, Any] = {"fields": [_frictionless_field(c) for c in self.columns],
                                      "primaryKey": [self.primary_key]}
        # A foreign key is declared only where the Table Schema can state it: a scalar column
        # pointing at one table (a self-reference, part_of, names the resource ""). A column
        # that may point at two tables (assessments.subject_id) or a list column is checked
        # by our own validator, and its description names its targets.
        foreign_keys = [
            {"fields": [c.name], "reference": {
                "resource": "" if ref == self.name else ref,
                "fields": [self.primary_key if ref == self.name else _pk_of(ref)]}}
            for c in self.columns if len(c.references) == 1 and not c.is_list
            for ref in c.references if ref == self.name or ref in _PRIMARY_KEYS
        ]
        if foreign_keys:
            descriptor["foreignKeys"] = foreign_keys
        return descriptor


def _frictionless_field(c: ColumnSpec) -> dict:
    """A Table Schema field. A list column's allowed values and pattern constrain its items
    (arrayItem), not the list itself."""
    descriptor: dict[str, Any] = {"name": c.name, "type": TYPES[c.type][2],
                                  "description": c.description}
    constraints: dict[str, Any] = {"required": True} if not c.nullable else {}
    values: dict[str, Any] = {}
    if c.allowed:
        values["enum"] = list(c.allowed)
    if c.pattern:
        values["pattern"] = c.pattern
    if c.is_list:
        descriptor["arrayItem"] = {"type": "string", **({"constraints": values} if values
                                                         else {})}
    else:
        constraints.update(values)
    if constraints:
        descriptor["constraints"] = constraints
    return descriptor


_PRIMARY_KEYS: dict[str, str] = {}


def _pk_of(table: str) -> str:
    return _PRIMARY_KEYS[table]


def _parse_column(raw: dict, path: Path) -> ColumnSpec:
    try:
        name, type_ = raw["name"], raw["type"]
    except KeyError as err:
        raise SchemaFileError(f"{path}: a column lacks {err.args[0]!r}: {raw}") from None
    if type_ not in TYPES:
        raise SchemaFileError(f"{path}: column {name!r} has unknown type {type_!r}")
    if raw.get("format") is not None and raw["format"] not in FORMATS:
        raise SchemaFileError(f"{path}: column {name!r} has unknown format {raw['format']!r}")
    references = raw.get("references") or ""
    return ColumnSpec(
        name=name,
        type=type_,
        description=str(raw.get("description", "")),
        nullable=bool(raw.get("nullable", True)),
        allowed=tuple(raw["allowed"]) if raw.get("allowed") else None,
        pattern=raw.get("pattern"),
        format=raw.get("format"),
        references=tuple(str(references).split()),
        claimed=bool(raw.get("claimed", True)),
        derived=bool(raw.get("derived", False)) or bool(raw.get("inverse_of")),
        inverse_of=raw.get("inverse_of"),
        precision=raw.get("precision"),
    )


def load_schema(path: Path) -> TableSchema:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    columns = tuple(_parse_column(c, path) for c in raw["columns"])
    schema = TableSchema(
        name=raw["name"],
        title=raw.get("title", raw["name"]),
        description=raw.get("description", ""),
        primary_key=raw["primary_key"],
        columns=columns,
        claims=bool(raw.get("claims", True)),
        path=path,
    )
    if schema.primary_key not in schema.column_names:
        raise SchemaFileError(f"{path}: primary key {schema.primary_key!r} is not a column")
    return schema


@cache
def _load_schemas_cached(schemas_dir: str) -> dict[str, TableSchema]:
    schemas = {}
    for path in sorted(Path(schemas_dir).glob("*.yaml")):
        schema = load_schema(path)
        schemas[schema.name] = schema
        _PRIMARY_KEYS[schema.name] = schema.primary_key
    return schemas


def load_schemas(schemas_dir: Path) -> dict[str, TableSchema]:
    """Every table schema in schemas/, by table name, in file-name order."""
    return dict(_load_schemas_cached(str(Path(schemas_dir).resolve())))


# --- pandas frames and pandera -------------------------------------------------------------------


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, (list, tuple, dict)):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def empty_frame(schema: TableSchema) -> pd.DataFrame:
    return frame_from_records(schema, [])


def frame_from_records(schema: TableSchema, records: list[dict]) -> pd.DataFrame:
    """A DataFrame with exactly the schema's columns and dtypes, sorted by primary key."""
    return frame_from_columns(schema, {c.name: [r.get(c.name) for r in records]
                                       for c in schema.columns})


def frame_from_columns(schema: TableSchema, columns: dict[str, list]) -> pd.DataFrame:
    """frame_from_records' frame from the same values given as one list per column (every
    schema column, all of one length): a caller with 1M rows (the claims) builds its lists
    instead of 1M dicts that frame_from_records would read back one key at a time."""
    data = {}
    for c in schema.columns:
        values = columns[c.name]
        if c.is_list:
            values = [[] if v is None else list(v) for v in values]
        data[c.name] = _string_series(values) if c.type == "string" else pd.Series(
            values, dtype=TYPES[c.type][1])
    frame = pd.DataFrame(data, columns=schema.column_names)
    return frame.sort_values(schema.primary_key, kind="stable").reset_index(drop=True)


def _string_series(values: list) -> pd.Series:
    """A text column (pandas' "string" dtype, Arrow-backed): built by Arrow from a list of
    str and missing values, 4 times faster than pandas' own conversion (0.36 against 0.08 s
    per 1M cells); anything else in the list is pandas' to convert, as before."""
    try:
        return pd.Series(pd.arrays.ArrowStringArray(
            pyarrow.array(values, type=pyarrow.large_string(), from_pandas=True)))
    except (pyarrow.ArrowInvalid, pyarrow.ArrowTypeError):
        return pd.Series(values, dtype="string")


def _list_of_strings(series: pd.Series) -> pd.Series:
    return series.map(lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v))


def _is_date(series: pd.Series) -> pd.Series:
    return series.map(lambda v: is_missing(v) or (isinstance(v, dt.date)
                                                  and not isinstance(v, dt.datetime)))


def _each(test: Callable[[str], bool], name: str, *, lists: bool = False) -> pa.Check:
    """A check of every value, or (`lists`) of every item of a list value; nulls and empty
    lists pass (nullability is checked apart). Vectorised: `test` runs once per distinct
    string, then one membership test covers the column (a 1M-row column of four values is four
    calls, not a million)."""

    def check(series: pd.Series) -> pd.Series:
        items = series.explode() if lists else series
        strings = items[items.map(type).isin([str])] if lists else items.dropna()
        good = [v for v in strings.unique() if test(v)]
        passes = items.isin(good)
        if not lists:
            return series.isna() | passes
        # A row passes when no item fails: an empty list's one (null) item from explode fails
        # isin, so empty lists pass apart.
        failing = passes.index[~passes]
        return series.isna() | (series.str.len() == 0) | ~series.index.isin(failing)

    return pa.Check(check, name=name)


def pandera_schema(schema: TableSchema) -> pa.DataFrameSchema:
    columns = {}
    for c in schema.columns:
        checks = []
        items = "items " if c.is_list else ""
        if c.is_list:
            checks.append(pa.Check(_list_of_strings, name="list of strings"))
        if c.allowed:
            allowed = frozenset(c.allowed)
            checks.append(_each(allowed.__contains__, f"{items}one of {list(c.allowed)}",
                                lists=c.is_list))
        if c.pattern:
            verb = "match" if c.is_list else "matches"
            checks.append(_each(re.compile(c.pattern).fullmatch, f"{items}{verb} {c.pattern}",
                                lists=c.is_list))
        if c.format:
            test, label = FORMATS[c.format]
            checks.append(_each(test, label, lists=c.is_list))
        if c.type == "date":
            checks.append(pa.Check(_is_date, name="a date"))
        dtype = TYPES[c.type][1]
        columns[c.name] = pa.Column(
            None if dtype is object else dtype,
            checks=checks,
            nullable=c.nullable or c.is_list,
            unique=c.name == schema.primary_key,
            required=True,
        )
    return pa.DataFrameSchema(columns, strict=True, name=schema.name, ordered=True)


# --- Arrow ---------------------------------------------------------------------------------------


def to_arrow(schema: TableSchema, frame: pd.DataFrame) -> pyarrow.Table:
    """The frame as an Arrow table of the schema's types, without pandas metadata, so that a
    plain pandas.read_parquet works in pandas 2.2 and 3, and DuckDB and Polars read it too."""
    arrays = [column_to_arrow(c, frame[c.name]) for c in schema.columns]
    return pyarrow.Table.from_arrays(arrays, schema=schema.arrow_schema())


# The pandas dtypes whose arrays hand pyarrow their own buffers (no Python object per cell).
_ARROW_NATIVE = {"string": pd.StringDtype, "int64": pd.Int64Dtype, "float64": pd.Float64Dtype,
                 "boolean": pd.BooleanDtype}


def column_to_arrow(column: ColumnSpec, series: pd.Series) -> pyarrow.Array:
    """One column as an Arrow array of its schema type, missing values (None, NA, NaN, NaT)
    null. The frames normalize builds convert without a Python loop (at 1M claims the loop
    was 19 s of a build, twice: the step hand-off and publish); any other dtype cell by cell."""
    native = _ARROW_NATIVE.get(column.type)
    if native is not None and isinstance(series.dtype, native):
        return pyarrow.array(series.array, type=column.arrow_type)
    if column.type in ("date", "list<string>") and series.dtype == object:
        return pyarrow.array(series.to_numpy(dtype=object), type=column.arrow_type,
                             from_pandas=True)
    values = [None if is_missing(v) else v for v in series.tolist()]
    if column.type == "int64":
        values = [None if v is None else int(v) for v in values]
    elif column.type == "float64":
        values = [None if v is None else float(v) for v in values]
    elif column.type == "boolean":
        values = [None if v is None else bool(v) for v in values]
    return pyarrow.array(values, type=column.arrow_type)
