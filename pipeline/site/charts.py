"""The release page's charts as static SVG: Vega-Lite specs made with altair, rendered by
vl-convert at build time (no JavaScript, no fetch at view time). Each SVG carries a <title>
and <desc>; the same data gives the same bytes. altair is imported here only, lazily."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from pipeline.site.chart_data import LAYERS, OPEN_WEIGHTS

WIDTH = 520
# unknown is its own colour (grey), never closed's.
OPEN_COLOURS = ("#1b7837", "#a6dba0", "#762a83", "#b0b0b0")
LAYER_COLOURS = ("#2166ac", "#d6604d", "#4d9221")


@dataclass(frozen=True)
class Chart:
    name: str  # the file is charts/<name>.svg
    title: str
    alt: str  # what the chart shows, in words (alt text and the SVG's <desc>)
    svg: str


def render(name: str, title: str, alt: str, spec: dict) -> Chart:
    import vl_convert

    svg = vl_convert.vegalite_to_svg(spec)
    head, sep, rest = svg.partition(">")
    labelled = (f'{head} role="img" aria-label="{escape(title)}"{sep}'
                f"<title>{escape(title)}</title><desc>{escape(alt)}</desc>{rest}")
    return Chart(name, title, alt, labelled)


def stacked_bars(rows: list[dict], category: str, domain: tuple[str, ...],
                 colours: tuple[str, ...], x_title: str) -> dict:
    """Horizontal bars per jurisdiction, stacked by `category` (rows: jurisdiction,
    `category`, value), jurisdictions in the rows' order, every category in the legend."""
    import altair as alt

    order = list(dict.fromkeys(r["jurisdiction"] for r in rows))
    chart = alt.Chart(alt.Data(values=rows)).mark_bar().encode(
        y=alt.Y("jurisdiction:N", sort=order, title=None),
        x=alt.X("value:Q", title=x_title),
        color=alt.Color(f"{category}:N", scale=alt.Scale(domain=list(domain),
                                                         range=list(colours)),
                        legend=alt.Legend(title=None, orient="top")),
        order=alt.Order("rank:Q"),
    ).properties(width=WIDTH, height=alt.Step(16))
    return chart.to_dict()


def long_counts(counted: list[dict], category: str, domain: tuple[str, ...]) -> list[dict]:
    """count_by()'s rows as one row per jurisdiction and non-zero value."""
    return [{"jurisdiction": r["jurisdiction"], category: v, "value": r["counts"][v],
             "rank": domain.index(v)} for r in counted for v in domain if r["counts"][v]]


def models_chart(counted: list[dict]) -> Chart:
    spec = stacked_bars(long_counts(counted, "open_weights", OPEN_WEIGHTS), "open_weights",
                        OPEN_WEIGHTS, OPEN_COLOURS, "models")
    return render("models", "Models by jurisdiction and open weights",
                  _alt_counts("models", counted, OPEN_WEIGHTS), spec)


def projects_chart(counted: list[dict]) -> Chart:
    spec = stacked_bars(long_counts(counted, "layer", LAYERS), "layer", LAYERS,
                        LAYER_COLOURS, "national projects")
    return render("projects", "National projects by jurisdiction and layer",
                  _alt_counts("national projects", counted, LAYERS), spec)


def _alt_counts(what: str, counted: list[dict], domain: tuple[str, ...]) -> str:
    total = sum(r["total"] for r in counted)
    parts = [f"{r['jurisdiction']} {r['total']} ("
             + ", ".join(f"{v} {r['counts'][v]}" for v in domain if r["counts"][v]) + ")"
             for r in counted]
    return (f"Bar chart of {total} {what} in {len(counted)} jurisdictions, split by "
            f"{' / '.join(domain)}: " + "; ".join(parts) + ".")
