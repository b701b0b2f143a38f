"""Write a page set (see pageset.py): the pages of jurisdictions, regions and sources, every
figure, the search page, the charts, and the release page itself."""

from __future__ import annotations

import json

from markupsafe import Markup

from pipeline.site import place_pages as pp
from pipeline.site.cite import cell
from pipeline.site.columns import columns
from pipeline.site.find import entries, index_json
from pipeline.site.homes import region_page
from pipeline.site.pageset import PageSet
from pipeline.site.release_body import changes_for
from pipeline.site.sections import section
from pipeline.site.source_page import supported_values, tables_of


def write_set(ps: PageSet, body: dict, index_template: str, title: str,
              **index_context: object) -> None:
    """Every page of the set; `index_template` renders its index.html with `body`."""
    for chart in body["charts"].values():
        ps.write_file(f"charts/{chart.name}.svg", chart.svg)
    for row in ps.data.rows("jurisdictions"):
        write_jurisdiction(ps, row)
    for row in ps.data.rows("regions"):
        write_region(ps, row, body["places"])
    for source in ps.data.sources.values():
        values = supported_values(ps.ctx, source["source_id"])
        ps.write(f"sources/{source['source_id']}.html", "source.html.j2",
                 f"Source: {source['title']}", source=source, count=len(values),
                 tables=tables_of(values))
    write_figures(ps)
    write_find(ps)
    ps.write("index.html", index_template, title, body=body,
             changes=changes_for(body, ps.entry["date"], ps.folder.rstrip("/")),
             **index_context)


def write_jurisdiction(ps: PageSet, row: dict) -> None:
    ctx, jid = ps.ctx, row["jurisdiction_id"]
    sections = pp.jurisdiction_sections(ctx, row)
    on_page = {jid} | {r.anchor.split("-", 1)[1] for s in sections for r in s.rows}
    regions = [r for r in ps.data.rows("regions") if jid in (r.get("member_ids") or [])]
    ps.write(f"jurisdictions/{jid}.html", "jurisdiction.html.j2", row["name"],
             place=row, name=pp.name_cell(ctx, "jurisdictions", row, "jurisdiction_id"),
             facts=[cell(ps.data, "jurisdictions", row, "jurisdiction_id", f)
                    for f in ("region", "subregion")],
             regions=[(r, region_page(r["region_id"])) for r in regions],
             sections=sections, evidence=pp.layer_evidence(ctx, jid),
             figures=pp.figures_about(ctx, on_page),
             conflicts=pp.conflicts_touching(ctx, on_page),
             summary=pp.summary(ctx, jid))


def write_region(ps: PageSet, row: dict, places: list[dict]) -> None:
    member_ids = row.get("member_ids") or []
    members = [ps.ctx.link("jurisdictions", j) for j in member_ids]
    ps.write(f"regions/{row['region_id']}.html", "region.html.j2", row["name"], place=row,
             name=pp.name_cell(ps.ctx, "regions", row, "region_id"),
             members=cell(ps.data, "regions", row, "region_id", "member_ids",
                             text="Members as the pages list them"),
             member_links=members,
             places=[p for p in places if p["jurisdiction_id"] in member_ids],
             assessments=pp.assessments(ps.ctx, row["region_id"],
                                                              row["name"]),
             conflicts=pp.conflicts_touching(ps.ctx, {row["region_id"]}))


def write_figures(ps: PageSet) -> None:
    rows = sorted(ps.data.rows("figures"), key=lambda r: (r["metric"], r["figure_id"]))
    table = section(ps.ctx, "figures", rows, columns(ps.ctx)["figures"], id="figures",
                    title="Figures", caption="Every figure the pages quote, by metric")
    ps.write("figures.html", "figures.html.j2", f"Figures, release {ps.entry['date']}",
             section=table, conflicts=pp.conflicts_touching(
                 ps.ctx, {r["figure_id"] for r in rows} | {r["metric"] for r in rows}))


def write_find(ps: PageSet) -> None:
    found = entries(ps.ctx)
    index = json.dumps(index_json(found), ensure_ascii=False, separators=(",", ":"))
    ps.write("find.html", "find.html.j2", f"Find, release {ps.entry['date']}", found=found,
             index=Markup(index.replace("</", "<\\/")))  # noqa: S704 (JSON, </ escaped)
