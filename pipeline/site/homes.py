"""Where each entity of a release is shown: the page (relative to the release's page set) and
the anchor of its row. Models, labs, families, projects and investments live on their
jurisdiction's page; figures on figures.html; what has no jurisdiction on find.html."""

from __future__ import annotations

from pipeline.site.release_data import ReleaseData

# table -> primary key, for the tables whose rows get a home.
KEYS = {"jurisdictions": "jurisdiction_id", "regions": "region_id",
        "organizations": "organization_id", "model_families": "family_id",
        "models": "model_id", "projects": "project_id", "investments": "investment_id",
        "assessments": "assessment_id", "figures": "figure_id"}


def anchor(table: str, entity_id: str) -> str:
    return f"{table}-{entity_id}"


def jurisdiction_page(jurisdiction_id: str) -> str:
    return f"jurisdictions/{jurisdiction_id}.html"


def region_page(region_id: str) -> str:
    return f"regions/{region_id}.html"


def source_page(source_id: str) -> str:
    return f"sources/{source_id}.html"


def homes(data: ReleaseData) -> dict[tuple[str, str], str]:
    """(table, entity_id) -> href from the set root, for every row with a home."""
    out: dict[tuple[str, str], str] = {}
    for row in data.rows("jurisdictions"):
        out[("jurisdictions", row["jurisdiction_id"])] = jurisdiction_page(row["jurisdiction_id"])
    for row in data.rows("regions"):
        out[("regions", row["region_id"])] = region_page(row["region_id"])
    for table in ("organizations", "model_families", "models", "projects", "investments"):
        key = KEYS[table]
        for row in data.rows(table):
            mark = anchor(table, row[key])
            out[(table, row[key])] = (f"{jurisdiction_page(row['jurisdiction_id'])}#{mark}"
                                      if row.get("jurisdiction_id") else f"find.html#find-{mark}")
    for row in data.rows("assessments"):
        aid = row["assessment_id"]
        out[("assessments", aid)] = f"{subject_page(data, row['subject_id'])}#assessments-{aid}"
    for source_id in data.sources:
        out[("sources", source_id)] = source_page(source_id)
    for row in data.rows("figures"):
        out[("figures", row["figure_id"])] = f"figures.html#{anchor('figures', row['figure_id'])}"
    return out


def subject_page(data: ReleaseData, subject_id: str) -> str:
    """An assessment's subject is a jurisdiction or a region (older releases say only the ID)."""
    if subject_id in data.by_id("regions", "region_id"):
        return region_page(subject_id)
    return jurisdiction_page(subject_id)
