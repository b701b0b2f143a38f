"""HTML pages of the site, rendered with Jinja2 from templates/ (autoescaped; relative links)."""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2

from pipeline.site.chart_data import LAYERS, OPEN_WEIGHTS
from pipeline.site.numbers import scaled


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("pipeline.site", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,  # a missing value is an error, never a blank
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )


def human_bytes(size: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def render_page(template: str, *, depth: int, title: str, **context: Any) -> str:
    """A page `depth` folders below the site root; `root` is the relative way back up."""
    env = _environment()
    env.filters["bytes"] = human_bytes
    env.filters["scaled"] = scaled
    env.globals.update(ow=OPEN_WEIGHTS, layers=LAYERS)
    return env.get_template(template).render(title=title, root="../" * depth, **context)
