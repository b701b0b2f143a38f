"""Which columns each entity table shows on a page, and how (see sections.Col)."""

from __future__ import annotations

from pipeline.site.cite import show
from pipeline.site.numbers import conversion, money
from pipeline.site.sections import Col, Context


def _period(row: dict) -> str:
    start, end = row.get("period_start"), row.get("period_end")
    if start is None and end is None:
        return "not stated"
    return str(start) if start == end or end is None else f"{start or '?'}–{end}"


def _amount(row: dict) -> str:
    """The amount as the page gives it; an undecided "$" says which currencies it may be."""
    if row.get("currency_rule") == "unresolved":
        other = f" or {row['currency_alternative']}" if row.get("currency_alternative") else ""
        return (f"$ {money(row['amount'], None, row.get('amount_max'))} "
                f"(the page writes $: {row['currency']}{other}, undecided)")
    return money(row["amount"], row["currency"], row.get("amount_max"))


def _usd(row: dict) -> str:
    if row.get("amount_usd") is None:
        return conversion(row)
    text = money(row["amount_usd"], "USD", row.get("amount_usd_max"))
    note = conversion(row)
    if row.get("currency_alternative"):
        note += f"; could also be {row['currency_alternative']}"
    return f"{text} ({note})"


def _committed(row: dict) -> str:
    """A date as precise as the page is: 2025-02 for a month, 2024 for a year."""
    day = row.get("committed_on")
    if day is None:
        return "not stated"
    keep = {"year": 4, "month": 7}.get(row.get("committed_precision") or "day", 10)
    return day.isoformat()[:keep]


def figure_value(row: dict) -> str:
    value = show(row["value"]) + (f"–{show(row['value_max'])}" if row.get("value_max") else "")
    qualifier = row.get("value_qualifier")
    prefix = "" if qualifier in (None, "exact", "range") else f"{qualifier.replace('_', ' ')} "
    return f"{prefix}{value} {row.get('unit') or ''}".strip()


def _investor(ctx: Context, row: dict) -> str:
    investor = row.get("investor")
    for table in ("organizations", "jurisdictions"):
        if (table, investor) in ctx.names:
            return ctx.names[(table, investor)]
    return show(investor)


def columns(ctx: Context) -> dict[str, list[Col]]:
    """table -> its shown columns; the first is the row's name."""
    return {
        "models": [Col("model", "name"), Col("lab", "organization_ids", refs="organizations"),
                   Col("family", "family_id", refs="model_families"),
                   Col("open weights", "open_weights"), Col("modality", "modality"),
                   Col("licence", "license"), Col("origin", "origin"),
                   Col("base models", "base_model_ids", refs="models"),
                   Col("base families", "base_family_ids", refs="model_families")],
        "model_families": [Col("family", "name"),
                           Col("developer", "organization_ids", refs="organizations"),
                           Col("origin", "origin")],
        "organizations": [Col("lab or body", "name"), Col("kind", "kind"),
                          Col("part of", "parent_id", refs="organizations")],
        "projects": [Col("project", "name"), Col("layer", "layer"),
                     Col("other layers", "other_layers"),
                     Col("build approach", "build_approach"),
                     Col("release status", "release_status"),
                     Col("models", "model_ids", refs="models"),
                     Col("part of", "part_of", refs="projects")],
        "investments": [
            Col("investment", "name"), Col("investor", "investor",
                                           text=lambda r: _investor(ctx, r)),
            Col("amount", "amount", also=("currency", "amount_qualifier"),
                text=_amount),
            Col("in USD", "amount_usd", also=("amount", "currency"), text=_usd,
                value=lambda r: None if r["amount_usd"] is None else f"{r['amount_usd']:.0f}"),
            Col("period", "period_start", also=("period_end",), text=_period),
            Col("committed", "committed_on", also=("committed_precision",), text=_committed),
            Col("part of", "part_of", refs="investments")],
        "assessments": [Col("dimension", "dimension",
                            text=lambda r: r["dimension"].replace("_", " ")),
                        Col("assessment", "value")],
        "figures": [Col("figure", "metric", text=lambda r: r["metric"].replace("_", " ")),
                    Col("value", "value", also=("unit", "value_qualifier", "value_max"),
                        text=figure_value),
                    Col("as of", "as_of"), Col("scope", "scope")],
    }
