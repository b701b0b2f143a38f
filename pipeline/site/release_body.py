"""What a release page shows, computed once per release and rendered into each page set
that shows it: the charts with the numbers behind them, its places, sources and changes."""

from __future__ import annotations

from pathlib import Path

from markupsafe import Markup

from pipeline.site import chart_data as cd
from pipeline.site.cite import Cell, cell
from pipeline.site.columns import figure_value
from pipeline.site.sections import Context


def release_body(ctx: Context, entries: list[dict], folder: Path) -> dict:
    """The template context of a release page's body (release_body.html.j2)."""
    from pipeline.site import charts, charts_extra

    data = ctx.data
    models = cd.count_by(data, "models", "open_weights", cd.OPEN_WEIGHTS)
    projects = cd.count_by(data, "projects", "layer", cd.LAYERS)
    umbrellas = cd.umbrella_investments(data)
    totals = cd.investment_totals(umbrellas)
    figures = cd.index_figures(data)
    points = cd.timeline(entries, data.date)
    chart_list = [charts.models_chart(models), charts.projects_chart(projects)]
    if umbrellas:
        chart_list.append(charts_extra.investments_chart(umbrellas, totals))
    if figures:
        chart_list.append(charts_extra.figures_chart(figures))
    chart_list.append(charts_extra.timeline_chart(points))
    return {
        "charts": {c.name: c for c in chart_list}, "models": models, "projects": projects,
        "umbrellas": umbrellas, "totals": totals, "figures": figure_cells(ctx, figures),
        "timeline": pivot(points), "places": places(ctx, models, projects, totals),
        "leaders": {"models": leaders(models, "total"), "projects": leaders(projects, "total"),
                    "usd": leaders(totals, "usd")},
        "regions": sorted(data.rows("regions"), key=lambda r: r["name"]),
        "sources": sorted(data.sources.values(), key=lambda s: (s["published_on"],
                                                                 s["source_id"])),
        "changes_md": (folder / "CHANGES.md").read_text(encoding="utf-8"),
    }


def figure_cells(ctx: Context, figures: list[dict]) -> list[tuple[dict, Cell]]:
    rows = ctx.data.by_id("figures", "figure_id")
    return [(f, cell(ctx.data, "figures", rows[f["figure_id"]], "figure_id", "value",
                     text=figure_value(rows[f["figure_id"]]))) for f in figures]


def leaders(rows: list[dict], key: str) -> list[dict]:
    """The jurisdictions (all, if tied) with the largest non-zero `key`."""
    named = [r for r in rows if r["jurisdiction_id"] and r[key]]
    top = max((r[key] for r in named), default=None)
    return [r for r in named if r[key] == top]


def pivot(points: list[dict]) -> dict:
    """The timeline as a table: releases as columns, tables as rows."""
    releases = list(dict.fromkeys(p["release"] for p in points))
    tables = sorted({p["table"] for p in points})
    rows = {(p["table"], p["release"]): p["rows"] for p in points}
    return {"releases": releases,
            "rows": [(t, [rows.get((t, r)) for r in releases]) for t in tables]}


def places(ctx: Context, models: list[dict], projects: list[dict],
           totals: list[dict]) -> list[dict]:
    """Every jurisdiction with its counts of models and projects and its umbrella USD."""
    counts = {"models": {r["jurisdiction_id"]: r["total"] for r in models},
              "projects": {r["jurisdiction_id"]: r["total"] for r in projects}}
    usd = {t["jurisdiction_id"]: t for t in totals}
    return [{"jurisdiction_id": j["jurisdiction_id"], "name": j["name"],
             "models": counts["models"].get(j["jurisdiction_id"], 0),
             "projects": counts["projects"].get(j["jurisdiction_id"], 0),
             "usd": usd.get(j["jurisdiction_id"])}
            for j in sorted(ctx.data.rows("jurisdictions"), key=lambda j: j["name"])]


def changes_for(body: dict, date: str, page_dir: str) -> Markup:
    """CHANGES.md rendered for a page in `page_dir`; safe: the renderer escapes raw HTML."""
    from pipeline.site.changes_html import changes_html

    return Markup(changes_html(body["changes_md"], date, page_dir))  # noqa: S704
