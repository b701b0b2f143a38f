"""What a jurisdiction's page and a region's page show: their rows of each table, the
layer-by-layer evidence, the figures about them and the conflicts that touch them."""

from __future__ import annotations

from pipeline.site.cite import Cell, cell, to_cite
from pipeline.site.columns import columns
from pipeline.site.sections import Context, RefCell, Row, Section, section

# table -> (section id, title, caption)
_PARTS = {
    "models": ("models", "Models", "Models whose jurisdiction is {name}"),
    "model_families": ("families", "Model families", "Model families from {name}"),
    "organizations": ("labs", "Labs and bodies", "Organizations based in {name}"),
    "projects": ("projects", "National projects", "Projects of {name}, by layer"),
    "investments": ("investments", "Investments", "Investments received by {name}; USD "
                    "totals count umbrellas only (rows that are part of none)"),
}


def jurisdiction_sections(ctx: Context, jurisdiction: dict) -> list[Section]:
    """The jurisdiction's own rows of each entity table, then its assessments."""
    cols = columns(ctx)
    jid, name = jurisdiction["jurisdiction_id"], jurisdiction["name"]
    out = []
    for table, (sid, title, caption) in _PARTS.items():
        rows = [r for r in ctx.data.rows(table) if r.get("jurisdiction_id") == jid]
        out.append(section(ctx, table, rows, cols[table], id=sid, title=title,
                           caption=caption.format(name=name)))
    out.append(assessments(ctx, jid, name))
    return out


def assessments(ctx: Context, subject_id: str, name: str) -> Section:
    rows = [r for r in ctx.data.rows("assessments") if r["subject_id"] == subject_id]
    return section(ctx, "assessments", rows, columns(ctx)["assessments"], id="assessments",
                   title="Assessments", caption=f"What the pages assess about {name}")


def figures_about(ctx: Context, entity_ids: set[str]) -> Section:
    """Figures whose subjects include the page's jurisdiction or one of its rows."""
    rows = [r for r in ctx.data.rows("figures") if entity_ids & set(r.get("subject_ids") or [])]
    return section(ctx, "figures", rows, columns(ctx)["figures"], id="figures",
                   title="Figures", caption="Figures the pages quote about these rows")


def layer_evidence(ctx: Context, jid: str) -> Section | None:
    """layer_evidence (from 2026-07-31): per layer and kind, the count, rows and claims."""
    if not ctx.data.has("layer_evidence"):
        return None
    rows = []
    for ev in ctx.data.rows("layer_evidence"):
        if ev["jurisdiction_id"] != jid:
            continue
        cites = tuple(to_cite(ctx.data, ctx.data.claims_by_id[c]) for c in ev["claim_ids"]
                      if c in ctx.data.claims_by_id)
        links = tuple(ctx.link(ev["entity_table"], e) for e in ev["entity_ids"])
        rows.append(Row(ev["evidence_id"], Cell(ev["layer"]), (
            Cell(ev["kind"].replace("_", " ")),
            Cell(str(ev["count"]), cites, str(ev["count"])),
            RefCell("none: a gap in the evidence, not a finding" if not links else "",
                    links=links))))
    return Section("layer-evidence", "Layer by layer", "Who controls which layer: the rows "
                   "and claims behind each count (0 is a gap in the evidence)",
                   ("layer", "evidence", "count", "rows"), tuple(rows))


def conflicts_touching(ctx: Context, entity_ids: set[str]) -> Section:
    """Conflicts whose entity (or one of entity_ids) is on the page."""
    rows = []
    for c in ctx.data.rows("conflicts"):
        touched = {c.get("entity_id"), c.get("metric")} | set(c.get("entity_ids") or [])
        if not entity_ids & touched:
            continue
        ids = [c["entity_id"]] if c.get("entity_id") else list(c.get("entity_ids") or [])
        subject = f"{c['table_name']}: {c.get('metric') or ''}".rstrip(": ")
        header = RefCell(subject, links=tuple(ctx.link(c["table_name"], i) for i in ids))
        rows.append(Row(f"conflicts-{c['conflict_id']}", header if ids else Cell(subject), (
            Cell(c["field"]),
            Cell(" vs ".join(f"{int(v):,}" if v.isdigit() else v for v in c["values"])),
            RefCell("", links=tuple(ctx.link("sources", s) for s in c["source_ids"])),
            Cell(c["resolution"]))))
    return Section("conflicts", "Where the pages disagree", "Conflicts between sources that "
                   "touch this page, with the published resolution",
                   ("row", "field", "values", "sources", "resolution"), tuple(rows))


def name_cell(ctx: Context, table: str, row: dict, key: str) -> Cell:
    return cell(ctx.data, table, row, key, "name")


def summary(ctx: Context, jid: str) -> dict:
    """The counts a jurisdiction's page opens with; each links to the rows it counts."""
    from pipeline.site import chart_data as cd

    def mine(table: str) -> list[dict]:
        return [r for r in ctx.data.rows(table) if r.get("jurisdiction_id") == jid]

    umbrellas = [u for u in cd.umbrella_investments(ctx.data) if u["jurisdiction_id"] == jid]
    totals = cd.investment_totals(umbrellas)
    return {"models": len(mine("models")),
            "open_weights": [(v, sum(r["open_weights"] == v for r in mine("models")))
                             for v in cd.OPEN_WEIGHTS],
            "projects": len(mine("projects")),
            "layers": [(v, sum(r["layer"] == v for r in mine("projects"))) for v in cd.LAYERS],
            "investments": totals[0] if totals else None}
