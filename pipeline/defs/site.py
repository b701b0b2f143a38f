"""The site as a Dagster asset of the publish group: rebuilt from releases/ after any release."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg

from pipeline.defs.atlas import AtlasSettings
from pipeline.site.build import build_site
from pipeline.site.config import load_publication


def build_site_assets() -> list[dg.AssetsDefinition]:
    @dg.asset(group_name="publish", deps=["release_folder"],
              description="The static site (site/ by default): every release folder as "
                          "published, with its zip, croissant.json, CITATION.cff and data "
                          "dictionary, and its pages for people (charts, a page per "
                          "jurisdiction, region and source, search), servable by any "
                          "static host.")
    def release_site(settings: AtlasSettings) -> dg.MaterializeResult:
        paths = settings.paths()
        target = build_site(paths.releases, Path(settings.site_dir or paths.root / "site"),
                            load_publication(paths.curated))
        index = json.loads((target / "index.json").read_text(encoding="utf-8"))
        return dg.MaterializeResult(metadata={
            "path": str(target),
            "releases": len(index["releases"]),
            "published": sum(r["status"] == "published" for r in index["releases"]),
            "pages": sum(1 for _ in target.rglob("*.html")),
            "datapackage_sha256": dg.MetadataValue.json(
                {r["date"]: r["datapackage_sha256"] for r in index["releases"]}),
        })

    return [release_site]
