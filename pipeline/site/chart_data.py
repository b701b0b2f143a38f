"""The numbers behind the release page's charts, computed from the release's own rows. The
charts draw them and the tables under the charts show them, each linking to its rows."""

from __future__ import annotations

import re
from collections import Counter

from pipeline.site.numbers import conversion, uncertain
from pipeline.site.release_data import ReleaseData

OPEN_WEIGHTS = ("open", "restricted", "closed", "unknown")
LAYERS = ("compute", "models", "data")
NO_JURISDICTION = "no single jurisdiction"

# The project-index figures: which metrics make each panel (layers, build approaches, base
# models, release status) and the label of each bar.
INDEX_PANELS = (
    ("Layers (share of projects)", r"sovereign_ai_projects_(compute|model|data)_share"),
    ("Build approaches (model projects)",
     r"model_projects_(from_scratch|building_on_base|both_approaches|open_weight_base)"),
    ("Base models (share of base-model instances)", r"base_model_share_(.+)"),
    ("Release status (model projects)", r"model_projects_(open_release|announced_open_not_"
                                        r"released|closed|release_status_unclear|open_with_"
                                        r"restrictions|permissively_licensed)"),
)


def jurisdiction_names(data: ReleaseData) -> dict[str | None, str]:
    names: dict[str | None, str] = {r["jurisdiction_id"]: r["name"]
                                    for r in data.rows("jurisdictions")}
    names[None] = NO_JURISDICTION
    return names


def count_by(data: ReleaseData, table: str, column: str, values: tuple[str, ...]) -> list[dict]:
    """Rows of `table` per jurisdiction and value of `column` (every value, zeros included),
    jurisdictions with the most rows first."""
    names = jurisdiction_names(data)
    counts = Counter((r.get("jurisdiction_id"), r[column]) for r in data.rows(table))
    totals = Counter(r.get("jurisdiction_id") for r in data.rows(table))
    order = sorted(totals, key=lambda j: (-totals[j], names.get(j, j)))
    return [{"jurisdiction_id": j, "jurisdiction": names.get(j, j), "total": totals[j],
             "counts": {v: counts[(j, v)] for v in values}} for j in order]


def umbrella_investments(data: ReleaseData) -> list[dict]:
    """Investments that are part of no other (components are never counted twice), with
    their conversion status; sorted by recipient, then amount."""
    names = jurisdiction_names(data)
    rows = [{"investment_id": r["investment_id"], "name": r["name"],
             "jurisdiction_id": r.get("jurisdiction_id"),
             "jurisdiction": names.get(r.get("jurisdiction_id"), r.get("jurisdiction_id")),
             "usd": r.get("amount_usd"), "usd_max": r.get("amount_usd_max"),
             "conversion": conversion(r), "uncertain": uncertain(r)}
            for r in data.rows("investments") if r.get("part_of") is None]
    return sorted(rows, key=lambda r: (r["jurisdiction"], -(r["usd"] or 0), r["investment_id"]))


def investment_totals(rows: list[dict]) -> list[dict]:
    """Per recipient: the USD total of its converted umbrellas (and how much of it is
    uncertain), and how many umbrellas are not converted; the largest total first."""
    out: dict[str, dict] = {}
    for r in rows:
        t = out.setdefault(r["jurisdiction"], {
            "jurisdiction_id": r["jurisdiction_id"], "jurisdiction": r["jurisdiction"],
            "usd": 0.0, "uncertain_usd": 0.0, "count": 0, "not_converted": 0})
        t["count"] += 1
        if r["usd"] is None:
            t["not_converted"] += 1
            continue
        t["usd"] += r["usd"]
        t["uncertain_usd"] += r["usd"] if r["uncertain"] else 0.0
    return sorted(out.values(), key=lambda t: (-t["usd"], t["jurisdiction"]))


def index_figures(data: ReleaseData) -> list[dict]:
    """The project-index figures, each with its panel and bar label; two figures of one
    metric (pages that disagree) are both kept, told apart by their source."""
    disputed = {c["metric"]: c["conflict_id"] for c in data.rows("conflicts")
                if c["table_name"] == "figures" and c.get("metric")}
    out = []
    for panel, pattern in INDEX_PANELS:
        for r in sorted(data.rows("figures"), key=lambda r: (r["metric"], r["figure_id"])):
            match = re.fullmatch(pattern, r["metric"])
            if match:
                out.append({"panel": panel, "label": match.group(1).replace("_", " "),
                            "value": r["value"], "unit": r["unit"], "figure_id": r["figure_id"],
                            "source_id": r["source_id"], "as_of": r.get("as_of"),
                            "source": data.sources[r["source_id"]]["title"],
                            "conflict_id": disputed.get(r["metric"])})
    return out


def timeline(entries: list[dict], date: str) -> list[dict]:
    """Row counts per table of every release up to `date` (index.json entries)."""
    return [{"release": e["date"], "table": table, "rows": t["rows"]}
            for e in entries if e["date"] <= date for table, t in sorted(e["tables"].items())]
