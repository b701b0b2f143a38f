"""How values pass between the pipeline's steps: files an operator can open, never pickles.

Under the project's Dagster home, `.dagster/storage/<asset>/<release date>.<ext>`:
- a published table is Parquet with exactly the Arrow types of its schemas/ file (what publish
  writes), read back into the frame normalize built;
- any other table (mentions, unresolved mentions) is Parquet as pandas writes it;
- the captures of a run are JSON naming each source's capture by sha256 (raw/ holds the bytes);
- the curated records are JSON listing every curated/ file with its sha256; loading reads
  curated/ again and refuses if it changed since, so a rebuild of a later step never mixes
  two states of curated/;
- a report (normalize_report) is JSON."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, ClassVar

import dagster as dg
import pandas as pd
import pyarrow.parquet as pq
from upath import UPath

from pipeline.curation.curated import Curated, load_curated
from pipeline.defs.atlas import AtlasSettings
from pipeline.sources.capture import Capture, list_captures
from pipeline.validation.schemas import TableSchema, frame_from_records, load_schemas, to_arrow

STORAGE = "storage"  # the folder under the Dagster home


def read_table(schema: TableSchema, path: Path | UPath) -> pd.DataFrame:
    """A published table's Parquet file as the frame normalize builds (same dtypes, values)."""
    return frame_from_records(schema, pq.read_table(str(path)).to_pylist())


def write_json(path: UPath, value: Any) -> None:
    path.write_text(json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                    encoding="utf-8")


class _ProjectStorage(dg.UPathIOManager):
    """A UPathIOManager rooted in the project's Dagster home (one file per asset partition)."""

    def __init__(self, settings: AtlasSettings) -> None:
        super().__init__(base_path=UPath(settings.paths().dagster_home / STORAGE))
        self.paths = settings.paths()


class ParquetTables(_ProjectStorage):
    """Tables as Parquet files. A published table this process wrote is handed to the steps
    after it as the frame it wrote, while its file is unchanged: an in-process run reads no
    table back (at 1M claims reading them back cost 24 s of a build). Other executors, a
    later run's process and an operator read the file, which holds the same values."""

    extension = ".parquet"
    # str(path) -> (the file's stat after this process wrote it, the frame written). Only the
    # partition (release) written last is kept, so a process building several drafts holds
    # one release's tables.
    _written: ClassVar[dict[str, tuple[tuple[int, int, int], pd.DataFrame]]] = {}

    def _schema(self, context: dg.InputContext | dg.OutputContext) -> TableSchema | None:
        return load_schemas(self.paths.schemas).get(context.asset_key.path[-1])

    def dump_to_path(self, context: dg.OutputContext, obj: pd.DataFrame, path: UPath) -> None:
        schema = self._schema(context)
        table = to_arrow(schema, obj) if schema is not None else _plain_arrow(obj)
        pq.write_table(table, str(path))
        if schema is not None:
            for other in [k for k in self._written if Path(k).stem != path.stem]:
                del self._written[other]
            self._written[str(path)] = (_file_stat(path), obj)

    def load_from_path(self, context: dg.InputContext, path: UPath) -> pd.DataFrame:
        schema = self._schema(context)
        if schema is None:
            return pd.read_parquet(str(path))
        written = self._written.get(str(path))
        if written is not None and written[0] == _file_stat(path):
            return written[1].copy(deep=False)  # copy-on-write: a step's edit stays its own
        return read_table(schema, path)


def _file_stat(path: UPath) -> tuple[int, int, int]:
    stat = Path(str(path)).stat()
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def _plain_arrow(frame: pd.DataFrame):
    import pyarrow

    return pyarrow.Table.from_pandas(frame, preserve_index=False)


class JsonReports(_ProjectStorage):
    extension = ".json"

    def dump_to_path(self, context: dg.OutputContext, obj: Any, path: UPath) -> None:
        write_json(path, obj)

    def load_from_path(self, context: dg.InputContext, path: UPath) -> Any:
        return json.loads(path.read_text(encoding="utf-8"))


class CaptureRefs(JsonReports):
    """dict[source_id, Capture] stored as the sha256 of each capture; loaded back from raw/."""

    def dump_to_path(self, context: dg.OutputContext, obj: dict[str, Capture], path: UPath
                     ) -> None:
        write_json(path, {source_id: {"sha256": c.sha256, "media_type": c.media_type,
                                      "path": str(Path(c.path).relative_to(self.paths.root))}
                          for source_id, c in sorted(obj.items())})

    def load_from_path(self, context: dg.InputContext, path: UPath) -> dict[str, Capture]:
        refs = super().load_from_path(context, path)
        captures = {}
        for source_id, ref in refs.items():
            found = [c for c in list_captures(self.paths.raw, source_id)
                     if c.sha256 == ref["sha256"]]
            if not found:
                raise dg.Failure(f"raw/{ref['path']}: the capture of {source_id} this run "
                                 f"read is gone from raw/; materialize source_captures again")
            captures[source_id] = found[0]
        return captures


def curated_manifest(curated_dir: Path) -> dict[str, str]:
    """Every file under curated/ with its sha256."""
    return {path.relative_to(curated_dir).as_posix(): hashlib.sha256(path.read_bytes())
            .hexdigest() for path in sorted(curated_dir.rglob("*")) if path.is_file()}


class CuratedRecords(JsonReports):
    """The curated records are curated/ itself: stored as a manifest of its files, loaded by
    reading curated/ again (load_curated parses each file once per process while it is
    unchanged, so an in-process run reuses `sovai build`'s parse)."""

    def dump_to_path(self, context: dg.OutputContext, obj: Curated, path: UPath) -> None:
        write_json(path, curated_manifest(Path(obj.root)))

    def load_from_path(self, context: dg.InputContext, path: UPath) -> Curated:
        stored = super().load_from_path(context, path)
        current = curated_manifest(self.paths.curated)
        if current != stored:
            changed = sorted(set(current.items()) ^ set(stored.items()))
            raise dg.Failure(f"curated/{changed[0][0]} changed since curated_records was "
                             f"materialized; materialize curated_records again")
        return load_curated(self.paths.curated)


STORAGES: dict[str, type[_ProjectStorage]] = {
    "tables": ParquetTables, "reports": JsonReports, "captures": CaptureRefs,
    "curated": CuratedRecords}


def project_io_manager(kind: str) -> dg.IOManagerDefinition:
    """One of the storages above (a key of STORAGES), rooted in the project that the run's
    `settings` resource names (so `sovai build` and a run's config choose it, not import)."""

    @dg.io_manager(required_resource_keys={"settings"},
                   description=f"{kind} in .dagster/storage/<asset>/<release date>")
    def _io_manager(init_context: dg.InitResourceContext) -> _ProjectStorage:
        return STORAGES[kind](init_context.resources.settings)

    return _io_manager
