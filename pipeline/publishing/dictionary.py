"""The data dictionary: from schemas/ (docs/DATA_DICTIONARY.md, so it cannot drift) and from a
release's own datapackage.json (the site's per-release dictionary, true to the schema that
release was built with)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.validation.schemas import FORMATS, TableSchema, load_schemas


@dataclass(frozen=True)
class ColumnDoc:
    name: str
    type: str
    required: bool
    rule: str  # allowed values, pattern, format and references, in words
    description: str


@dataclass(frozen=True)
class TableDoc:
    name: str
    description: str
    primary_key: str
    columns: tuple[ColumnDoc, ...]


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def docs_from_schemas(schemas: dict[str, TableSchema]) -> list[TableDoc]:
    docs = []
    for schema in schemas.values():
        columns = []
        for c in schema.columns:
            rule = ", ".join(c.allowed) if c.allowed else (f"`{c.pattern}`" if c.pattern else "")
            rule = _join(rule, FORMATS[c.format][1] if c.format else "",
                         "→ " + " or ".join(c.references) if c.references else "")
            columns.append(ColumnDoc(c.name, c.type, not c.nullable, rule, c.description))
        docs.append(TableDoc(schema.name, schema.description, schema.primary_key,
                             tuple(columns)))
    return docs


def docs_from_package(package: dict) -> list[TableDoc]:
    """The tables of a release as its datapackage.json describes them."""
    docs = []
    for resource in package["resources"]:
        if resource.get("type") != "table":
            continue
        schema = resource["schema"]
        references: dict[str, list[str]] = {}
        for key in schema.get("foreignKeys", []):
            target = key["reference"]["resource"] or resource["name"]
            references.setdefault(key["fields"][0], []).append(target)
        columns = []
        for field in schema["fields"]:
            constraints = {**field.get("arrayItem", {}).get("constraints", {}),
                           **field.get("constraints", {})}
            kind = field["type"]
            if kind == "array":
                kind = f"list<{field.get('arrayItem', {}).get('type', 'any')}>"
            rule = (", ".join(constraints["enum"]) if constraints.get("enum")
                    else f"`{constraints['pattern']}`" if constraints.get("pattern") else "")
            refs = references.get(field["name"])
            rule = _join(rule, "→ " + " or ".join(refs) if refs else "")
            columns.append(ColumnDoc(field["name"], kind, bool(constraints.get("required")),
                                     rule, field.get("description", "")))
        docs.append(TableDoc(resource["name"], resource.get("description", ""),
                             ", ".join(schema.get("primaryKey", [])), tuple(columns)))
    return docs


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_dictionary(docs: list[TableDoc] | dict[str, TableSchema], *,
                      intro: str = "Generated from `schemas/` by `sovai dictionary`; do not "
                                   "edit by hand.") -> str:
    """Markdown: one section per table, one row per column."""
    if isinstance(docs, dict):
        docs = docs_from_schemas(docs)
    lines = ["# Data dictionary", "", intro, ""]
    for table in docs:
        lines += [f"## {table.name}", "", table.description, "",
                  f"Primary key: `{table.primary_key}`.", "",
                  "| column | type | required | allowed values / pattern | description |",
                  "|---|---|---|---|---|"]
        for c in table.columns:
            lines.append(f"| `{c.name}` | {c.type} | {'yes' if c.required else 'no'} | "
                         f"{_cell(c.rule)} | {_cell(c.description)} |")
        lines.append("")
    return "\n".join(lines)


def write_dictionary(schemas_dir: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_dictionary(load_schemas(schemas_dir)), encoding="utf-8")
    return target
