"""layer_evidence: page 000's matrix (who controls which layer, country by country) computed
from a release's own tables. Each cell lists the rows and claims that bear on it; nothing is
scored, and a cell with no rows says the release has no evidence, not that there is none."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class EvidenceKind:
    layer: str
    kind: str
    table: str
    key: str  # the table's primary key
    field: str  # the column whose claims decide the row is counted
    select: Callable[[pd.DataFrame], pd.Series]  # which rows of the table count
    where: str = "jurisdiction_id"  # the column naming the row's jurisdiction


def _in_layer(layer: str) -> Callable[[pd.DataFrame], pd.Series]:
    # astype(bool): on an empty table map() gives an object Series, which `|` refuses.
    return lambda f: ((f["layer"] == layer).astype(bool)
                      | f["other_layers"].map(lambda ls: layer in ls).astype(bool))


def _is(column: str, *values: str) -> Callable[[pd.DataFrame], pd.Series]:
    return lambda f: f[column].astype("object").isin(values)


KINDS = (
    EvidenceKind("compute", "national_projects", "projects", "project_id", "layer",
                 _in_layer("compute")),
    EvidenceKind("compute", "investments", "investments", "investment_id", "amount",
                 lambda f: f["part_of"].isna()),
    EvidenceKind("data", "national_projects", "projects", "project_id", "layer",
                 _in_layer("data")),
    EvidenceKind("models", "national_projects", "projects", "project_id", "layer",
                 _in_layer("models")),
    EvidenceKind("models", "models_from_scratch", "models", "model_id", "origin",
                 _is("origin", "foundation", "sovereign")),
    EvidenceKind("models", "models_adapted", "models", "model_id", "origin",
                 _is("origin", "adaptation")),
    EvidenceKind("licence", "open_weight_models", "models", "model_id", "open_weights",
                 _is("open_weights", "open")),
    EvidenceKind("licence", "weights_not_open", "models", "model_id", "open_weights",
                 _is("open_weights", "restricted", "closed")),
    EvidenceKind("licence", "weights_unknown", "models", "model_id", "open_weights",
                 _is("open_weights", "unknown")),
    EvidenceKind("dependency", "us_tech_dependency", "assessments", "assessment_id", "value",
                 _is("dimension", "us_tech_dependency")),
)


def layer_evidence_rows(tables: dict[str, pd.DataFrame]) -> list[dict]:
    """One row per jurisdiction and kind, sorted by evidence_id."""
    claims = tables["claims"]
    # Only the claims of the fields that decide a kind matter: select them once.
    deciding = claims[claims["table_name"].isin({k.table for k in KINDS})
                      & claims["field"].isin({k.field for k in KINDS})]
    rows = []
    for kind in KINDS:
        frame = tables[kind.table]
        counted = frame[kind.select(frame) & frame[kind.where].notna()]
        by_jurisdiction = counted.groupby(kind.where)[kind.key].agg(sorted).to_dict()
        claim_ids = _claim_ids_by_jurisdiction(deciding, kind, counted)
        for jurisdiction in tables["jurisdictions"]["jurisdiction_id"]:
            ids = by_jurisdiction.get(jurisdiction, [])
            rows.append({
                "evidence_id": f"{jurisdiction.lower()}-{kind.layer}-{kind.kind}",
                "jurisdiction_id": jurisdiction, "layer": kind.layer, "kind": kind.kind,
                "entity_table": kind.table, "entity_ids": ids, "count": len(ids),
                "claim_ids": claim_ids.get(jurisdiction, []),
            })
    return rows


def _claim_ids_by_jurisdiction(claims: pd.DataFrame, kind: EvidenceKind,
                               counted: pd.DataFrame) -> dict[str, list[str]]:
    """Jurisdiction -> the sorted IDs of the claims of `kind.field` about its counted rows
    (a join, not a lookup per row)."""
    own = claims[(claims["table_name"] == kind.table) & (claims["field"] == kind.field)]
    rows = counted[[kind.key, kind.where]].rename(columns={kind.key: "entity_id",
                                                           kind.where: "_jurisdiction"})
    joined = own[["entity_id", "claim_id"]].merge(rows, on="entity_id")
    return (joined.sort_values("claim_id", kind="stable")
            .groupby("_jurisdiction")["claim_id"].agg(list).to_dict())
