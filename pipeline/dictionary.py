"""The data dictionary (docs/DATA_DICTIONARY.md), generated from schemas/ so it cannot drift."""

from __future__ import annotations

from pathlib import Path

from pipeline.schemas import FORMATS, TableSchema, load_schemas


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_dictionary(schemas: dict[str, TableSchema]) -> str:
    lines = ["# Data dictionary", "",
             "Generated from `schemas/` by `sovai dictionary`; do not edit by hand.", ""]
    for schema in schemas.values():
        lines += [f"## {schema.name}", "", schema.description, "",
                  f"Primary key: `{schema.primary_key}`.", "",
                  "| column | type | required | allowed values / pattern | description |",
                  "|---|---|---|---|---|"]
        for c in schema.columns:
            rule = ", ".join(c.allowed) if c.allowed else (f"`{c.pattern}`" if c.pattern else "")
            if c.format:
                rule = (rule + "; " if rule else "") + FORMATS[c.format][1]
            if c.references:
                rule = (rule + "; " if rule else "") + "→ " + " or ".join(c.references)
            lines.append(f"| `{c.name}` | {c.type} | {'yes' if not c.nullable else 'no'} | "
                         f"{_cell(rule)} | {_cell(c.description)} |")
        lines.append("")
    return "\n".join(lines)


def write_dictionary(schemas_dir: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_dictionary(load_schemas(schemas_dir)), encoding="utf-8")
    return target
