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

if TYPE_CHECKING:  # pandas, pyarrow and the diff engine load when a diff runs, not for --help
    import pandas as pd

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
OUTPUT_FORMATS = (".parquet", ".json")


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


def summary_lines(changes: pd.DataFrame) -> list[str]:
    """Per table: added, removed, changed (entities), renamed, schema (column changes)."""
    columns = ["added", "removed", "changed", "renamed", "schema"]
    rows = []
    for table in sorted(changes["table_name"].unique()):
        mine = changes[changes["table_name"] == table]
        change = mine["change"]
        rows.append([table,
                     int((change == "added").sum()),
                     int((change == "removed").sum()),
                     int(mine.loc[change == "changed", "entity_id"].nunique()),
                     int((change == "renamed").sum()),
                     int(change.str.startswith("column_").sum())])
    width = max([len("table"), *(len(r[0]) for r in rows)])
    lines = [f"{'table':<{width}}  " + "  ".join(f"{c:>7}" for c in columns)]
    for row in rows:
        lines.append(f"{row[0]:<{width}}  " + "  ".join(f"{v:>7}" for v in row[1:]))
    return lines


def write_output(changes: pd.DataFrame, path: Path) -> None:
    import pyarrow.parquet as pq

    from pipeline.publishing.diff import changes_to_arrow

    table = changes_to_arrow(changes)
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
    from pipeline.publishing.diff import DiffError, diff_release_dirs

    if output is not None and output.suffix.lower() not in OUTPUT_FORMATS:
        _fail(f"--output must end in .parquet or .json: {output}")
    paths = project_paths(releases=releases_dir)
    try:
        old_dir = resolve_release(old, paths.releases)
        new_dir = resolve_release(new, paths.releases)
        changes = diff_release_dirs(old_dir, new_dir, redirects=load_redirects(paths.root))
        if output is not None:
            write_output(changes, output)
    except (DiffError, OSError) as err:
        _fail(str(err))
    if changes.empty:
        click.echo(f"{shown(old_dir)} and {shown(new_dir)} are identical")
        sys.exit(0)
    click.echo(f"{shown(old_dir)} -> {shown(new_dir)}: {len(changes)} changes")
    for line in summary_lines(changes):
        click.echo(line)
    if output is not None:
        click.echo(f"full diff written to {output}")
    sys.exit(1)


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {' '.join(message.split())}", err=True)
    sys.exit(2)
