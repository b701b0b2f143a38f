"""Reading curated/: plain YAML files, each record remembering its file and line for errors."""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import os
import pickle
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

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


# A curated file is read whole and parsed in memory: the cap bounds the time and memory one file
# can take (the largest today is about 50 KB), and a bad file falls back to the pure-Python
# loader below. A bigger table is split into a folder of files (`curated/<table>/*.yaml`).
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


def _check_keys(loader: _LineLoader, node: yaml.MappingNode) -> None:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode):  # `? [a, b]`: no record has such a key
            raise CuratedError("a key must be a single word or value, not a list or mapping",
                               file=loader.name, line=key_node.start_mark.line + 1)
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key, line = key_node.value, key_node.start_mark.line + 1
        if key in seen:
            raise CuratedError(f"duplicate key (first at line {seen[key]}); YAML would keep "
                               f"only the later value", file=loader.name, line=line, key=key)
        seen[key] = line


def _construct_record(loader: _LineLoader, node: yaml.MappingNode) -> Record:
    _check_keys(loader, node)
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


def _read_curated_bytes(path: Path, name: str) -> bytes:
    """A curated file's bytes: at most MAX_CURATED_BYTES, without a byte-order mark (decoded as
    UTF-8 by _decode_curated; Windows line endings are fine, YAML reads CRLF as a break)."""
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
    return data


def _decode_curated(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line_start = data.rfind(b"\n", 0, err.start) + 1
        raise CuratedError(f"not UTF-8: byte 0x{data[err.start]:02x} at column "
                           f"{err.start - line_start + 1}; save the file as UTF-8", file=name,
                           line=data.count(b"\n", 0, err.start) + 1) from None


def _parse_line_tracking(text: str, name: str) -> tuple[yaml.Node | None, Any]:
    """The pure-Python loader: slow (about 4.5 s of CPU per MiB) but the reference for every
    value, line and error message. The fast path below hands it any file it does not parse
    cleanly."""
    try:
        loader = _LineLoader(text)  # which looks for control characters in the whole text first
    except yaml.reader.ReaderError as err:
        raise CuratedError(f"not valid YAML: unacceptable character #x{err.character:04x}: "
                           f"{err.reason}", file=name,
                           line=text.count("\n", 0, err.position) + 1) from None
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


# --- The fast path: libyaml composes, a lean walk builds the same values -------------------------
# libyaml (PyYAML's C parser) composes the nodes with their marks, so each Record still gets its
# line; the walk below then builds exactly what _LineLoader's constructors build, with the same
# SafeConstructor functions for every scalar that is not a plain string. Whatever the walk does
# not handle itself (a YAML error, a duplicate or merge key, an alias of a list or mapping, a
# rare tag, an impossible date, deep nesting, a top level that is not a list of mappings) makes
# the file go through _parse_line_tracking instead, which gives today's value or today's error.

class _FastPathDeclined(Exception):
    """The file needs the line-tracking loader: for its exact error, or for a rare construct."""


# libyaml's composer recurses in C: about 30,000 levels (which fit in the byte cap) overflow the
# C stack and kill the process. Curated records nest 4 or 5 levels; a file nested deeper than
# this goes to the line-tracking loader, which accepts it or says "nested too deeply" as before.
_NESTING_LIMIT = 100
_STR, _SEQ, _MAP = (f"tag:yaml.org,2002:{kind}" for kind in ("str", "seq", "map"))
_SCALAR_CONSTRUCTORS = {f"tag:yaml.org,2002:{kind}": yaml.SafeLoader.yaml_constructors[
    f"tag:yaml.org,2002:{kind}"] for kind in ("null", "bool", "int", "float", "timestamp")}


class _CComposer(yaml.CSafeLoader):
    """The C parser and composer; it counts nesting as it goes (the composer calls
    descend_resolver before each node and ascend_resolver after; SafeLoader has no path
    resolvers, so both are otherwise no-ops) and gives up past _NESTING_LIMIT."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.depth = 0

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        self.depth += 1
        if self.depth > _NESTING_LIMIT:
            raise _FastPathDeclined("nested too deeply")

    def ascend_resolver(self) -> None:
        self.depth -= 1


def _build_records(loader: _CComposer, root: yaml.Node, name: str, may_alias: bool) -> list:
    """The values of a composed list of mappings, as _LineLoader would construct them."""
    repeated: set[int] = set()  # ids of the lists and mappings met, if the file may alias

    def build(node: yaml.Node) -> Any:
        kind, tag = type(node), node.tag
        if kind is ScalarNode:
            if tag == _STR:
                return node.value
            construct = _SCALAR_CONSTRUCTORS.get(tag)
            if construct is None:
                raise _FastPathDeclined(tag)
            return construct(loader, node)
        if may_alias:  # an alias of a list or mapping is the same node met again
            if id(node) in repeated:
                raise _FastPathDeclined("an alias of a list or mapping")
            repeated.add(id(node))
        if kind is SequenceNode and tag == _SEQ:
            return [build(item) for item in node.value]
        if kind is not MappingNode or tag != _MAP:
            raise _FastPathDeclined(tag)
        record, key_texts = Record(), set()
        for key_node, value_node in node.value:
            if type(key_node) is not ScalarNode:
                raise _FastPathDeclined("a key that is a list or mapping")
            key_texts.add(key_node.value)
            record[build(key_node)] = build(value_node)
        # A key written twice is an error (`1:` and `'1':` too, as _check_keys
        # compares the text); `yes:` beside `true:` is one key, the later value kept.
        if len(key_texts) != len(node.value) or len(record) != len(node.value):
            raise _FastPathDeclined("a repeated key")
        record.file = name
        record.line = node.start_mark.line + 1
        return record

    if type(root) is not SequenceNode or not all(type(i) is MappingNode for i in root.value):
        raise _FastPathDeclined("not a list of mappings")
    return build(root)


def _parse_fast(text: str, name: str) -> list[Record]:
    loader = _CComposer(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise _FastPathDeclined("empty")
        return _build_records(loader, root, name, may_alias="&" in text and "*" in text)
    finally:
        loader.dispose()


def _parse_yaml(text: str, name: str) -> tuple[yaml.Node | None, Any]:
    """The file's top node (None on the fast path, which only succeeds for a list of mappings)
    and its value."""
    try:
        return None, _parse_fast(text, name)
    except (yaml.YAMLError, ValueError, TypeError, RecursionError, _FastPathDeclined):
        # ValueError includes CuratedError (an impossible date). Parsing again costs one more
        # pass over a file that is about to be reported anyway.
        return _parse_line_tracking(text, name)


# Parse once per process: the CLI, the partitions definition, the curated asset and `sovai check`
# each load curated/, often in one process. The key is the file's path and display name, the
# identity its content's digest: the bytes are read again each time (a few milliseconds per MiB,
# against a parse of about 0.3 s per MiB) because a size and mtime can stay the same across a
# quick rewrite. One entry per file, replaced when the file changes; errors are not kept.
# The Records are shared, not copied: every caller only reads them (normalize, resolve, check,
# fetch and the Dagster assets copy what they keep, e.g. `dict(r)` for redirects), and
# tests/test_curated_loader.py checks that a whole build leaves them as loaded. Each call gets
# its own list, so a caller may reorder or extend that.
_PARSED: dict[tuple[str, str], tuple[bytes, list[Record]]] = {}
PARSE_CACHE = Path(".dagster") / "parsed"  # under the project root: ParseCache


def load_yaml_records(path: Path, *, display_root: Path | None = None,
                      cache_dir: Path | None = None) -> list[Record]:
    """Load a YAML list of mappings. A missing file is an empty list; an empty one is an error
    (write `[]` for a table with no records). cache_dir: where parses are kept between
    processes (ParseCache)."""
    if not path.is_file():
        return []
    name = str(path.relative_to(display_root)) if display_root else str(path)
    data = _read_curated_bytes(path, name)
    digest, key = hashlib.blake2b(data, digest_size=16).digest(), (str(path), name)
    cached = _PARSED.get(key)
    if cached is None or cached[0] != digest:
        disk = (ParseCache(cache_dir, name, digest)
                if cache_dir and len(data) >= ParseCache.FROM_BYTES else None)
        with collector_paused():
            records = disk.load() if disk else None
            if records is None:
                records = _records_of(_decode_curated(data, name), name)
                if disk:
                    disk.save(records)
        cached = _PARSED[key] = (digest, records)
    return list(cached[1])


class ParseCache:
    """One curated file's Records kept on disk between processes (a pickle under the
    project's `.dagster/parsed/`), named by its path, its bytes' digest and this loader's
    own source, so that an edit, a move or a changed loader parses the file again. Parsing
    the 83 MiB of a 1M-claim project takes about 23 s; reading its pickles back about 4 s.
    Best effort: a cache that cannot be read or written is parsed around, never an error.
    Small files (all of today's) are parsed every time: that is quicker than a pickle."""

    FROM_BYTES = 128 * 1024  # parsing this much takes about 40 ms

    def __init__(self, folder: Path, name: str, digest: bytes) -> None:
        self.folder = folder
        self.stem = self.stem_of(name)
        version = hashlib.blake2b(digest + _loader_fingerprint(), digest_size=8).hexdigest()
        self.path = folder / f"{self.stem}-{version}.pickle"

    @staticmethod
    def stem_of(name: str) -> str:
        return hashlib.blake2b(name.encode("utf-8"), digest_size=8).hexdigest()

    @classmethod
    def forget_others(cls, folder: Path, names: list[str]) -> None:
        """Remove the parses of files that are gone (a table split into a folder, a file
        renamed): only the files named here keep theirs."""
        keep = {cls.stem_of(name) for name in names}
        try:
            for kept in folder.glob("*.pickle"):
                if kept.name.split("-", 1)[0] not in keep:
                    kept.unlink(missing_ok=True)
        except OSError:
            return  # best effort, as the rest of the cache

    def load(self) -> list[Record] | None:
        try:
            with self.path.open("rb") as handle:
                records = pickle.load(handle)
        except Exception:  # noqa: BLE001 (missing, truncated, or written by another Python)
            return None
        return records if isinstance(records, list) else None

    def save(self, records: list[Record]) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.folder, suffix=".tmp",
                                             delete=False) as handle:
                pickle.dump(records, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(handle.name, self.path)
            for stale in self.folder.glob(f"{self.stem}-*.pickle"):  # the file's older parses
                if stale != self.path:
                    stale.unlink(missing_ok=True)
        except OSError:
            return


@cache
def _loader_fingerprint() -> bytes:
    source = Path(__file__).read_bytes() + f"{sys.version} {yaml.__version__}".encode()
    return hashlib.blake2b(source, digest_size=16).digest()


@contextmanager
def collector_paused() -> Iterator[None]:
    """A parse makes about 90,000 nodes and values per MiB, all alive until the file is
    built, and the cyclic garbage collector would scan them again and again: with it running,
    loading the 8.3 MiB of 100k claims took 3.7 to 4.2 times as long (7.7 and 8.6 against 2.1
    and 2.0 s of CPU). So it waits until the file is parsed; the few cycles a parse may leave
    (a recursive alias, which the fast path hands over) are collected when it resumes."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _records_of(text: str, name: str) -> list[Record]:
    node, data = _parse_yaml(text, name)
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


def table_paths(curated_dir: Path, name: str) -> list[Path]:
    """One curated table's files: `<name>.yaml`, a folder `<name>/` of YAML files (split by
    theme), or both, in that order (the first may not exist)."""
    return [curated_dir / f"{name}.yaml", *sorted((curated_dir / name).glob("*.yaml"))]


def load_table_records(curated_dir: Path, name: str) -> list[Record]:
    """One curated table's records, from its files (table_paths) in order."""
    return _records_from(curated_dir.parent, table_paths(curated_dir, name))


def _records_from(root: Path, paths: list[Path]) -> list[Record]:
    return [record for path in paths for record in load_yaml_records(
        path, display_root=root, cache_dir=root / PARSE_CACHE)]


CURATED_TABLES = ["releases", "sources", *ENTITY_FILES, "redirects", "conflicts",
                  "mention_columns"]


def load_curated(curated_dir: Path) -> Curated:
    root = curated_dir.parent
    files = {name: table_paths(curated_dir, name) for name in CURATED_TABLES}
    loaded = {name: _records_from(root, paths) for name, paths in files.items()}
    ParseCache.forget_others(root / PARSE_CACHE, [
        str(path.relative_to(root)) for paths in files.values() for path in paths
        if path.is_file()])  # `<name>.yaml` may be gone, its table moved into `<name>/`
    return Curated(
        root=curated_dir,
        releases=loaded["releases"],
        sources=loaded["sources"],
        entities={name: loaded[name] for name in ENTITY_FILES},
        redirects=loaded["redirects"],
        conflicts=loaded["conflicts"],
        mention_columns=loaded["mention_columns"],
    )
