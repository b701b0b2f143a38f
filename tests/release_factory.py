"""Small release folders for tests, written with pyarrow the way publish writes them: one
<table>.parquet per table (no pandas metadata) and optionally a Frictionless datapackage.json."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

LIST = pa.list_(pa.string())
# Column types by name; anything not listed is a string.
TYPES: dict[str, pa.DataType] = {
    "aliases": LIST, "organization_ids": LIST, "base_model_ids": LIST, "languages": LIST,
    "member_ids": LIST, "model_ids": LIST, "values": LIST, "source_ids": LIST,
    "params_b": pa.float64(), "amount": pa.float64(), "usd_per_unit": pa.float64(),
    "downloads": pa.int64(), "bytes": pa.int64(), "period_start": pa.int64(),
    "published_on": pa.date32(), "released_on": pa.date32(), "title_from_page": pa.bool_(),
}
FRICTIONLESS = {"string": "string", "int64": "integer", "double": "number", "bool": "boolean",
                "date32[day]": "date"}

PRIMARY_KEYS = {
    "sources": "source_id", "jurisdictions": "jurisdiction_id", "regions": "region_id",
    "organizations": "organization_id", "model_families": "family_id", "models": "model_id",
    "projects": "project_id", "investments": "investment_id", "figures": "figure_id",
    "assessments": "assessment_id", "fx_rates": "fx_rate_id", "claims": "claim_id",
    "conflicts": "conflict_id",
}


def _arrow_type(column: str, types: dict[str, pa.DataType]) -> pa.DataType:
    return types.get(column, TYPES.get(column, pa.string()))


def to_table(rows: list[dict], *, columns: list[str] | None = None,
             types: dict[str, pa.DataType] | None = None) -> pa.Table:
    types = types or {}
    if columns is None:
        columns = list(dict.fromkeys(c for row in rows for c in row))
    schema = pa.schema([(c, _arrow_type(c, types)) for c in columns])
    data = {c: [row.get(c) for row in rows] for c in columns}
    return pa.table(data, schema=schema)


def write_release(folder: Path, tables: dict[str, list[dict]], *,
                  types: dict[str, dict[str, pa.DataType]] | None = None,
                  columns: dict[str, list[str]] | None = None,
                  datapackage: bool = True) -> Path:
    """Write tables (lists of row dicts) into folder; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    resources = []
    for name, rows in tables.items():
        table = to_table(rows, columns=(columns or {}).get(name),
                         types=(types or {}).get(name))
        pq.write_table(table, folder / f"{name}.parquet", store_schema=False)
        resources.append({
            "name": name, "path": f"{name}.parquet",
            "schema": {"fields": [{"name": f.name, "type": FRICTIONLESS.get(str(f.type), "array")}
                                  for f in table.schema],
                       "primaryKey": PRIMARY_KEYS[name]},
        })
    if datapackage:
        (folder / "datapackage.json").write_text(json.dumps({"resources": resources}, indent=1))
    return folder


def base_tables() -> dict[str, list[dict]]:
    """A tiny but realistic release: three models with their labs, jurisdictions and claims."""
    d = dt.date
    tables = {
        "jurisdictions": [
            {"jurisdiction_id": "CHN", "name": "China", "region": "Asia"},
            {"jurisdiction_id": "FRA", "name": "France", "region": "Europe"},
            {"jurisdiction_id": "USA", "name": "United States", "region": "Americas"},
        ],
        "organizations": [
            {"organization_id": "alibaba", "name": "Alibaba", "aliases": ["Alibaba Cloud"],
             "jurisdiction_id": "CHN", "kind": "company"},
            {"organization_id": "deepseek", "name": "DeepSeek", "aliases": [],
             "jurisdiction_id": "CHN", "kind": "company"},
            {"organization_id": "mistral-ai", "name": "Mistral AI", "aliases": ["Mistral"],
             "jurisdiction_id": "FRA", "kind": "company"},
        ],
        "models": [
            {"model_id": "deepseek-v4", "name": "DeepSeek V4", "aliases": ["DeepSeek-V4"],
             "organization_ids": ["deepseek"], "jurisdiction_id": "CHN", "license": "MIT",
             "params_b": 671.0, "downloads": 1200, "released_on": d(2026, 1, 20),
             "version": None},
            {"model_id": "mistral-large", "name": "Mistral Large", "aliases": [],
             "organization_ids": ["mistral-ai"], "jurisdiction_id": "FRA", "license": None,
             "params_b": None, "downloads": 50, "released_on": d(2025, 11, 2), "version": None},
            {"model_id": "qwen-3-5", "name": "Qwen 3.5", "aliases": ["Qwen3.5"],
             "organization_ids": ["alibaba"], "jurisdiction_id": "CHN",
             "license": "Apache-2.0", "params_b": 235.0, "downloads": 900,
             "released_on": d(2026, 2, 16), "version": "3.5"},
        ],
        "sources": [
            {"source_id": "page-a", "title": "Sovereign models of every country",
             "url": "https://example.org/a", "published_on": d(2026, 4, 24)},
            {"source_id": "page-b", "title": "A page without URL", "url": None,
             "published_on": d(2026, 5, 10)},
        ],
        "claims": [
            {"claim_id": "c1", "table_name": "models", "entity_id": "deepseek-v4",
             "field": "license", "value": "MIT", "source_id": "page-a",
             "quote": "DeepSeek V4 is MIT licensed", "locator": "page-a#line=3",
             "basis": "stated", "reference_url": None},
            {"claim_id": "c2", "table_name": "models", "entity_id": "qwen-3-5",
             "field": "name", "value": "Qwen 3.5", "source_id": "page-a",
             "quote": "Qwen 3.5", "locator": "page-a#line=4", "basis": "table",
             "reference_url": None},
        ],
    }
    return copy.deepcopy(tables)


def rows_by_id(rows: list[dict], key: str) -> dict[str, dict]:
    return {row[key]: row for row in rows}
