"""`sovai diff OLD NEW`: compare two releases, each a release date or a path to a release folder.

Exit status: 0 identical, 1 different, 2 error (missing folder, unreadable file or schema,
duplicate keys), with a one-line message on stderr.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from pipeline.paths import project_paths

if TYPE_CHECKING:  # pyarrow and the diff engine load when a diff runs, not for --help
    import pyarrow as pa

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
OUTPUT_FORMATS = (".parquet", ".json")
SUMMARY_COLUMNS = ("added", "removed", "changed", "renamed", "schema")


def resolve_release(ref: str, releases_dir: Path) -> Path:
    """A release date (YYYY-MM-DD) under releases_dir, else a folder path."""
    from pipeline.publishing.diff import DiffError

    path = Path(ref)
    if DATE.match(ref) and not path.is_dir():
        path = releases_dir / ref
    if not path.is_dir():
        raise DiffError(f"release folder not found: {path}"
                        + (f" (no release {ref} in {releases_dir})" if DATE.match(ref) else ""))
    return path


def shown(path: Path) -> str:
    """A folder as a person reads it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_redirects(root: Path) -> list[dict]:
    """curated/redirects.yaml, read as the build reads it."""
    from pipeline.curation.curated import CuratedError, load_table_records
    from pipeline.publishing.diff import DiffError

    try:
        return [dict(r) for r in load_table_records(root / "curated", "redirects")]
    except CuratedError as err:
        raise DiffError(f"cannot read the redirects: {err}") from err


def summary_lines(changes: pa.Table) -> list[str]:
    """Per table: added, removed, changed (entities), renamed, schema (column changes)."""
    import duckdb  # loaded by the diff already; pyarrow's own group_by would load acero (~1 s)

    with duckdb.connect() as con:
        con.register("changes", changes)
        rows = con.execute("""
            SELECT table_name,
                   count(*) FILTER (change = 'added'),
                   count(*) FILTER (change = 'removed'),
                   count(DISTINCT entity_id) FILTER (change = 'changed'),
                   count(*) FILTER (change = 'renamed'),
                   count(*) FILTER (starts_with(change, 'column_'))
            FROM changes GROUP BY table_name ORDER BY table_name
        """).fetchall()
    width = max([len("table"), *(len(r[0]) for r in rows)])
    lines = [f"{'table':<{width}}  " + "  ".join(f"{c:>7}" for c in SUMMARY_COLUMNS)]
    for table, *counts in rows:
        lines.append(f"{table:<{width}}  " + "  ".join(f"{v:>7}" for v in counts))
    return lines


def write_output(changes: pa.Table, path: Path) -> None:
    """The diff as Parquet (the schema of changes.parquet) or as a JSON list of rows."""
    import pyarrow.parquet as pq

    table = changes.replace_schema_metadata(None)
    if path.suffix.lower() == ".parquet":
        pq.write_table(table, path, compression="zstd")
    else:
        path.write_text(json.dumps(table.to_pylist(), indent=1, ensure_ascii=False) + "\n",
                        encoding="utf-8")


@click.command("diff")
@click.argument("old")
@click.argument("new")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the full diff to FILE.parquet or FILE.json.")
@click.option("--releases-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where release dates are looked up (default: the project's releases/).")
def diff_command(old: str, new: str, output: Path | None, releases_dir: Path | None) -> None:
    """Compare two releases, each a date (YYYY-MM-DD) or a path to a release folder.

    \b
    Example: sovai diff 2026-06-30 2026-07-31 --output changes.json
    Exit codes: 0 identical, 1 different, 2 error (one line on stderr).
    """
    from pipeline.publishing.diff import DiffError, diff_release_dirs_arrow

    if output is not None and output.suffix.lower() not in OUTPUT_FORMATS:
        _fail(f"--output must end in .parquet or .json: {output}")
    paths = project_paths(releases=releases_dir)
    try:
        old_dir = resolve_release(old, paths.releases)
        new_dir = resolve_release(new, paths.releases)
        changes = diff_release_dirs_arrow(old_dir, new_dir,
                                          redirects=load_redirects(paths.root))
        if output is not None:
            write_output(changes, output)
    except (DiffError, OSError) as err:
        _fail(str(err))
    if changes.num_rows == 0:
        click.echo(f"{shown(old_dir)} and {shown(new_dir)} are identical")
        sys.exit(0)
    click.echo(f"{shown(old_dir)} -> {shown(new_dir)}: {changes.num_rows} changes")
    for line in summary_lines(changes):
        click.echo(line)
    if output is not None:
        click.echo(f"full diff written to {output}")
    sys.exit(1)


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {' '.join(message.split())}", err=True)
    sys.exit(2)
