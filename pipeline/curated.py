"""Reading curated/: plain YAML files, each record remembering its file and line for errors."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ENTITY_FILES = [
    "jurisdictions",
    "regions",
    "organizations",
    "model_families",
    "models",
    "projects",
    "investments",
    "figures",
    "assessments",
    "groupings",
    "fx_rates",
]
DATE_PRECISIONS = ("day", "month", "year")  # how far a source's published_on can be trusted
DATE_BOUNDS = ("within", "not_before", "not_after")  # what the date evidence bounds


class CuratedError(ValueError):
    """A curated record is invalid. The message names file, line, key, column and value."""

    def __init__(
        self,
        message: str,
        *,
        file: Path | str | None = None,
        line: int | None = None,
        key: str | None = None,
        column: str | None = None,
        value: Any = None,
    ) -> None:
        self.file, self.line, self.key, self.column, self.value = file, line, key, column, value
        where = []
        if file is not None:
            where.append(f"{file}:{line}" if line else str(file))
        if key is not None:
            where.append(f"key {key!r}")
        if column is not None:
            where.append(f"column {column!r}")
        if value is not None:
            where.append(f"value {value!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class Record(dict):
    """A mapping read from YAML that knows where it was written."""

    file: str = ""
    line: int = 0

    def error(self, message: str, *, key: str | None = None, column: str | None = None,
              value: Any = None) -> CuratedError:
        return CuratedError(message, file=self.file, line=self.line, key=key, column=column,
                            value=value)


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings are Records carrying their 1-based line."""


def _construct_record(loader: _LineLoader, node: yaml.MappingNode) -> Record:
    loader.flatten_mapping(node)
    record = Record(loader.construct_pairs(node, deep=True))
    record.file = loader.name
    record.line = node.start_mark.line + 1
    return record


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_record)


def load_yaml_records(path: Path, *, display_root: Path | None = None) -> list[Record]:
    """Load a YAML list of mappings. A missing file is an empty list."""
    if not path.is_file():
        return []
    name = str(path.relative_to(display_root)) if display_root else str(path)
    text = path.read_text(encoding="utf-8")
    loader = _LineLoader(text)
    loader.name = name
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise CuratedError(f"not valid YAML: {getattr(err, 'problem', err)}", file=name,
                           line=mark.line + 1 if mark else None) from err
    finally:
        loader.dispose()
    if data is None:
        return []
    if not isinstance(data, list):
        raise CuratedError("expected a YAML list of records", file=name)
    for index, item in enumerate(data):
        if not isinstance(item, Record):
            raise CuratedError(f"item {index + 1} is not a mapping", file=name, value=item)
    return data


def parse_date(record: Record, column: str, *, key: str | None = None) -> dt.date:
    """A date column: YAML dates or 'YYYY-MM-DD' strings."""
    value = record.get(column)
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise record.error("not a date (expected YYYY-MM-DD)", key=key, column=column,
                           value=value) from None


@dataclass
class Curated:
    """Everything in curated/, as records."""

    root: Path
    releases: list[Record]
    sources: list[Record]
    entities: dict[str, list[Record]]
    redirects: list[Record]
    conflicts: list[Record]
    mention_columns: list[Record]


def load_table_records(curated_dir: Path, name: str) -> list[Record]:
    """One curated table: `<name>.yaml`, a folder `<name>/` of YAML files (split by theme), or
    both, in that order."""
    paths = [curated_dir / f"{name}.yaml", *sorted((curated_dir / name).glob("*.yaml"))]
    return [record for path in paths
            for record in load_yaml_records(path, display_root=curated_dir.parent)]


def load_curated(curated_dir: Path) -> Curated:
    def load(name: str) -> list[Record]:
        return load_table_records(curated_dir, name)

    return Curated(
        root=curated_dir,
        releases=load("releases"),
        sources=load("sources"),
        entities={name: load(name) for name in ENTITY_FILES},
        redirects=load("redirects"),
        conflicts=load("conflicts"),
        mention_columns=load("mention_columns"),
    )
