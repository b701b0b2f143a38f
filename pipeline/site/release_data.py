"""One release's tables as the pages read them: rows as dicts, read with pyarrow from the
release folder itself (dates stay dates, lists stay lists, nulls are None). A table or column
an older release lacks is simply absent: pages render what a release has."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.sources.capture import published_capture_path

TABLES = ("jurisdictions", "regions", "organizations", "model_families", "models", "projects",
          "investments", "figures", "assessments", "groupings", "conflicts", "claims",
          "sources", "layer_evidence", "fx_rates")


@dataclass
class ReleaseData:
    """A release's rows by table, its claims by (table, entity, field) and sources by ID."""

    date: str
    tables: dict[str, list[dict]]
    columns: dict[str, list[str]]
    claims: dict[tuple[str, str, str], list[dict]] = field(default_factory=dict)
    claims_by_id: dict[str, dict] = field(default_factory=dict)
    sources: dict[str, dict] = field(default_factory=dict)

    def rows(self, table: str) -> list[dict]:
        return self.tables.get(table, [])

    def has(self, table: str, column: str | None = None) -> bool:
        if column is None:
            return table in self.tables
        return column in self.columns.get(table, [])

    def by_id(self, table: str, key: str) -> dict[str, dict]:
        return {row[key]: row for row in self.rows(table)}


def load_release(folder: Path) -> ReleaseData:
    """Read every table the release folder has (see TABLES)."""
    import pyarrow.parquet as pq

    tables: dict[str, list[dict]] = {}
    columns: dict[str, list[str]] = {}
    for name in TABLES:
        path = folder / f"{name}.parquet"
        if path.is_file():
            table = pq.read_table(path)
            tables[name] = table.to_pylist()
            columns[name] = table.column_names
    data = ReleaseData(date=folder.name, tables=tables, columns=columns)
    _index_claims(data)
    _index_sources(data)
    return data


def _index_claims(data: ReleaseData) -> None:
    grouped: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for claim in data.rows("claims"):
        grouped[(claim["table_name"], claim["entity_id"], claim["field"])].append(claim)
        data.claims_by_id[claim["claim_id"]] = claim
    data.claims = dict(grouped)


def _index_sources(data: ReleaseData) -> None:
    for row in data.rows("sources"):
        row["capture"] = published_capture_path(row["source_id"], row["sha256"],
                                                row["media_type"])
        data.sources[row["source_id"]] = row
