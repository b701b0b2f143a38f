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


# A curated file is read whole and parsed by pure-Python PyYAML: the cap bounds the time and
# memory one file can take (the largest today is about 50 KB). A bigger table is split into a
# folder of files (`curated/<table>/*.yaml`).
MAX_CURATED_BYTES = 1 << 20
_BOM = b"\xef\xbb\xbf"


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings are Records carrying their 1-based line. A repeated key, an
    impossible date or an alias of a list or mapping is a CuratedError naming file and line."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            node = self.anchors.get(event.anchor)
            if node is not None and not isinstance(node, yaml.ScalarNode):
                # Repeating a quote is fine; repeating lists or mappings could multiply into
                # a billion laughs, and no curated file needs it.
                raise CuratedError(f"the alias *{event.anchor} repeats a list or mapping; "
                                   f"only a scalar (a quote) may be repeated", file=self.name,
                                   line=event.start_mark.line + 1)
        return super().compose_node(parent, index)


def _check_duplicate_keys(loader: _LineLoader, node: yaml.MappingNode) -> None:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key, line = key_node.value, key_node.start_mark.line + 1
        if key in seen:
            raise CuratedError(f"duplicate key (first at line {seen[key]}); YAML would keep "
                               f"only the later value", file=loader.name, line=line, key=key)
        seen[key] = line


def _construct_record(loader: _LineLoader, node: yaml.MappingNode) -> Record:
    _check_duplicate_keys(loader, node)
    loader.flatten_mapping(node)
    record = Record(loader.construct_pairs(node, deep=True))
    record.file = loader.name
    record.line = node.start_mark.line + 1
    return record


def _construct_timestamp(loader: _LineLoader, node: yaml.ScalarNode) -> dt.date:
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError as err:  # 2026-02-30 matches YAML's date pattern but is no date
        raise CuratedError(f"not a date: {err}", file=loader.name,
                           line=node.start_mark.line + 1, value=node.value) from None


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_record)
_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def read_curated_text(path: Path, name: str) -> str:
    """A curated file's text: at most MAX_CURATED_BYTES, UTF-8 without a byte-order mark.
    Windows line endings are fine (YAML reads CRLF as a line break)."""
    size = path.stat().st_size
    if size > MAX_CURATED_BYTES:
        raise CuratedError(f"{size} bytes, over the {MAX_CURATED_BYTES} bytes allowed for one "
                           f"curated file; split the table into a folder of files", file=name)
    with path.open("rb") as handle:
        data = handle.read(MAX_CURATED_BYTES + 1)  # the file may grow after stat
    if len(data) > MAX_CURATED_BYTES:
        raise CuratedError(f"over the {MAX_CURATED_BYTES} bytes allowed for one curated file",
                           file=name)
    if data.startswith(_BOM):
        raise CuratedError("starts with a byte-order mark (BOM); save it as UTF-8 without one",
                           file=name, line=1)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line_start = data.rfind(b"\n", 0, err.start) + 1
        raise CuratedError(f"not UTF-8: byte 0x{data[err.start]:02x} at column "
                           f"{err.start - line_start + 1}; save the file as UTF-8", file=name,
                           line=data.count(b"\n", 0, err.start) + 1) from None


def _parse_yaml(text: str, name: str) -> tuple[yaml.Node | None, Any]:
    loader = _LineLoader(text)
    loader.name = name
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        problem = getattr(err, "problem", None) or err
        if "'\\t'" in str(problem):
            problem = f"{problem} (indent with spaces, not tabs)"
        raise CuratedError(f"not valid YAML: {problem}", file=name,
                           line=mark.line + 1 if mark else None) from err
    except RecursionError:
        raise CuratedError("not valid YAML: nested too deeply", file=name) from None
    finally:
        loader.dispose()


def load_yaml_records(path: Path, *, display_root: Path | None = None) -> list[Record]:
    """Load a YAML list of mappings. A missing file is an empty list; an empty one is an error
    (write `[]` for a table with no records)."""
    if not path.is_file():
        return []
    name = str(path.relative_to(display_root)) if display_root else str(path)
    node, data = _parse_yaml(read_curated_text(path, name), name)
    if data is None:
        raise CuratedError("empty file: write [] for a table with no records, or delete the "
                           "file", file=name, line=1)
    if not isinstance(data, list):
        found = "a mapping" if isinstance(data, dict) else repr(data)
        raise CuratedError(f"expected a YAML list of records (each item `- key: value`), "
                           f"found {found}", file=name, line=node.start_mark.line + 1)
    for index, item in enumerate(data):
        if not isinstance(item, Record):
            raise CuratedError(f"item {index + 1} is not a mapping (`key: value`)", file=name,
                               line=node.value[index].start_mark.line + 1, value=item)
    return data


def string_list(record: Record, column: str, *, key: str | None = None) -> list[str]:
    """A column that holds a list of IDs or names (null is an empty list)."""
    value = record.get(column)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise record.error("must be a list of IDs or names", key=key, column=column,
                           value=value)
    return value


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
