"""The release page's other charts: investments in USD, the project-index figures and the
timeline of releases (see charts.py for how they are rendered)."""

from __future__ import annotations

from pipeline.site.chart_data import INDEX_PANELS
from pipeline.site.charts import WIDTH, Chart, render
from pipeline.site.numbers import RULES, STATED, scaled

# Stated currencies dark; every reading of "$" marked in orange tones.
CONVERSIONS = (STATED, "$ outside the US, read as US dollars (uncertain)",
               RULES["us_investor"], RULES["no_local_dollar"])
CONVERSION_COLOURS = ("#2166ac", "#f4a582", "#fdb863", "#e08214")


def investments_chart(umbrellas: list[dict], totals: list[dict]) -> Chart:
    """Stacked bars per recipient, one segment per umbrella investment, coloured by how sure
    its conversion to USD is; unconverted amounts cannot be drawn and are said in the alt."""
    import altair as alt

    order = [t["jurisdiction"] for t in totals]
    values = [{"jurisdiction": r["jurisdiction"], "investment": r["name"],
               "usd_billion": r["usd"] / 1e9, "conversion": r["conversion"]}
              for r in umbrellas if r["usd"] is not None]
    extra = sorted({v["conversion"] for v in values} - set(CONVERSIONS))  # a new rule: grey
    domain, colours = [*CONVERSIONS, *extra], [*CONVERSION_COLOURS, *["#999999"] * len(extra)]
    chart = alt.Chart(alt.Data(values=values)).mark_bar(stroke="white").encode(
        y=alt.Y("jurisdiction:N", sort=order, title=None),
        x=alt.X("usd_billion:Q", title="USD billion (umbrella investments only)"),
        color=alt.Color("conversion:N", scale=alt.Scale(domain=domain, range=colours),
                        legend=alt.Legend(title=None, orient="top", columns=2,
                                          labelLimit=300)),
        order=alt.Order("usd_billion:Q", sort="descending"),
    ).properties(width=WIDTH, height=alt.Step(18))
    parts = [f"{t['jurisdiction']} USD {scaled(t['usd'])}"
             + (f" (USD {scaled(t['uncertain_usd'])} of it uncertain)" if t["uncertain_usd"]
                else "")
             + (f", {t['not_converted']} not converted" if t["not_converted"] else "")
             for t in totals]
    alt_text = (f"Bar chart of {len(umbrellas)} umbrella investments in USD by recipient: "
                + "; ".join(parts) + ".")
    return render("investments", "Investments by recipient jurisdiction, in USD", alt_text,
                  chart.to_dict())


def figures_chart(figures: list[dict]) -> Chart:
    """One panel per part of the project index; where pages disagree on a figure, one bar
    per source side by side."""
    import altair as alt

    panels = []
    for panel, _ in INDEX_PANELS:
        values = [{**f, "as_of": f["as_of"] or ""} for f in figures if f["panel"] == panel]
        if not values:
            continue
        panels.append(alt.Chart(alt.Data(values=values), title=panel).mark_bar().encode(
            y=alt.Y("label:N", title=None, sort=None), yOffset=alt.YOffset("source:N"),
            x=alt.X("value:Q", title=values[0]["unit"]),
            color=alt.Color("source:N", legend=alt.Legend(title="source", orient="bottom",
                                                          direction="vertical",
                                                          labelLimit=400)),
        ).properties(width=WIDTH, height=alt.Step(12)))
    spec = alt.vconcat(*panels).resolve_scale(x="independent").to_dict()
    alt_text = "Bar charts of the project-index figures: " + "; ".join(
        f"{f['label']} {f['value']:g} {f['unit']} ({f['source']})" for f in figures) + "."
    return render("figures", "The project-index figures the pages quote", alt_text, spec)


def timeline_chart(points: list[dict]) -> Chart:
    """One small line chart per table (each with its own scale: claims run in thousands,
    regions in units), releases along the bottom."""
    import altair as alt

    base = alt.Chart(alt.Data(values=points)).mark_line(point=True).encode(
        x=alt.X("release:O", title=None, axis=alt.Axis(labelAngle=-45)),
        y=alt.Y("rows:Q", title=None, axis=alt.Axis(tickCount=3)),
    ).properties(width=120, height=70)
    chart = base.facet(facet=alt.Facet("table:N", title=None), columns=4).resolve_scale(
        y="independent")
    releases = list(dict.fromkeys(p["release"] for p in points))
    alt_text = (f"Line charts of the row count of each table in {len(releases)} releases "
                f"({', '.join(releases)}): " + "; ".join(
                    f"{p['table']} {p['rows']} in {p['release']}" for p in points) + ".")
    return render("timeline", "Releases over time: rows per table", alt_text, chart.to_dict())
