"""`sovai check`: everything that blocks a release, with file and line, for curators."""

from __future__ import annotations

import gc
import multiprocessing
import os
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from pipeline import stages
from pipeline.curation.curated import Curated, CuratedError, Record, collector_paused
from pipeline.curation.normalize import CuratedEntities
from pipeline.curation.releases import Release
from pipeline.extraction.quotes import SourceText, basis_problem
from pipeline.paths import ProjectPaths
from pipeline.sources.capture import Capture, CaptureError
from pipeline.validation import validate
from pipeline.validation.schemas import is_missing, load_schemas


def _quote_failures(entities: dict[str, list[Record]], texts: dict[str, SourceText],
                    titles: dict[str, str]) -> list[str]:
    """Every claim's quote, checked on its own, so that all failures are listed at once: it
    occurs in its capture, and it is what its basis says (a whole heading or row, not a
    title)."""
    failures = []
    for records in entities.values():
        for record in records:
            claims = record.get("claims")
            for claim in claims if isinstance(claims, list) else []:  # normalize says why not
                if not isinstance(claim, Record) or claim.get("basis") == "external":
                    continue
                source, quote = claim.get("source"), claim.get("quote")
                if not isinstance(source, str) or source not in texts:
                    failures.append(f"{claim.file}:{claim.line}: unknown or uncaptured source "
                                    f"{source!r}")
                elif not isinstance(quote, str) or texts[source].find(quote) is None:
                    failures.append(f"{claim.file}:{claim.line}: quote not in {source}: "
                                    f"{quote!r}")
                elif problem := basis_problem(texts[source], quote,
                                              claim.get("basis", "stated"), titles[source]):
                    failures.append(f"{claim.file}:{claim.line}: {problem}: {quote!r}")
    return failures


def _unclaimed_entities(entities: dict[str, list[Record]]) -> list[str]:
    return [f"{r.file}:{r.line}: {table} entity has no claims"
            for table, records in entities.items() if table != "jurisdictions"
            for r in records if not r.get("claims")]


@dataclass
class ReleaseCheck:
    """What checking one release found: the lines to print, the blocking problems and the
    number of unresolved mentions."""

    lines: list[str] = field(default_factory=list)
    blocking: list[str] = field(default_factory=list)
    unresolved: int = 0


def check_one_release(paths: ProjectPaths, curated: Curated, captures: dict[str, Capture],
                      release: Release, entities: CuratedEntities | None, latest: bool
                      ) -> ReleaseCheck:
    """Build one release's tables, resolve its mentions and validate them; `latest` lists its
    unresolved mentions, names that are not entities and conflicts too."""
    found = ReleaseCheck()
    echo = found.lines.append
    try:
        included = stages.release_captures(captures, curated, release)
        tables = stages.normalize(paths, curated, captures, release.date, entities)
        resolution = stages.resolve(paths, curated, stages.mentions_for(included), tables)
    except CuratedError as err:
        found.blocking.append(f"release {release.key}: {err}")
        return found
    schemas = load_schemas(paths.schemas)
    problems = validate.check_release(tables.tables, schemas,
                                      stages.source_texts(tables, included))
    found.blocking += [f"release {release.key}: {p}" for p in problems]
    unresolved = resolution.unresolved
    found.unresolved = len(unresolved)
    conflicts = tables.tables["conflicts"]
    echo(f"release {release.key}: {sum(len(t) for t in tables.tables.values())} rows, "
         f"{len(tables.tables['claims'])} claims, {len(conflicts)} conflicts (resolved), "
         f"{len(unresolved)} unresolved mentions, {tables.external_values} external values, "
         f"{len(tables.withheld)} rows withheld, {len(tables.dropped_references)} "
         f"references dropped")
    # Not blocking: a row or reference waits until a source of the release supports it.
    for line in tables.withheld:
        echo(f"  withheld: {line}")
    for reference in tables.dropped_references:
        echo(f"  dropped reference: {reference} (not in this release)")
    if latest:
        for row in unresolved.itertuples(index=False):
            echo(f"  unresolved: {row.config_file}:{row.config_line}: {row.name!r} in "
                 f"{row.locator} (looked in {row.tables})")
        for row in resolution.set_aside.itertuples(index=False):
            echo(f"  not an entity (declared at {row.config_file}:{row.config_line}): "
                 f"{row.name!r} in {row.locator}: {row.reason}")
        for row in conflicts.itertuples(index=False):
            subject = row.metric if is_missing(row.entity_id) else row.entity_id
            echo(f"  conflict: {row.table_name} {subject} "
                 f"{row.field}: {list(row.values)} from {list(row.source_ids)} -> "
                 f"{row.resolution}")
    return found


# Below this many curated claims, forking a process per release costs more than it saves.
PARALLEL_FROM_CLAIMS = 20_000
_FORKED: tuple | None = None  # what check_one_release needs, inherited by forked workers


def _check_forked(index: int) -> ReleaseCheck:
    paths, curated, captures, releases, entities = _FORKED
    return check_one_release(paths, curated, captures, releases[index], entities,
                             index == len(releases) - 1)


def check_workers(releases: int, claims: int) -> int:
    """How many processes check the releases at once: one per release up to the cores
    ($SOVAI_CHECK_WORKERS overrides), one for a small project."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    configured = os.environ.get("SOVAI_CHECK_WORKERS", "")
    if configured.isdigit():
        return max(1, min(releases, int(configured)))
    # Forking a process that has loaded pandas and pyarrow is safe on Linux; macOS warns
    # against fork without exec, so there it waits to be asked.
    if claims < PARALLEL_FROM_CLAIMS or not sys.platform.startswith("linux"):
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    return max(1, min(releases, cores))


def check_releases(paths: ProjectPaths, curated: Curated, captures: dict[str, Capture],
                   releases: list[Release]) -> list[ReleaseCheck]:
    """Every release checked, in order. The curated entities are read once, before; with
    more than one worker each release is checked in a forked process that inherits them
    (the releases share nothing else, and a 1M-claim project has two cores' worth of work)."""
    try:
        entities = stages.curated_entities(paths, curated, captures)
    except CuratedError:
        entities = None  # each release reports it, as it reads them itself
    claims = sum(len(r.get("claims") or []) for records in curated.entities.values()
                 for r in records)
    workers = check_workers(len(releases), claims)
    if workers == 1:
        return [check_one_release(paths, curated, captures, release, entities,
                                  release is releases[-1]) for release in releases]
    global _FORKED
    _FORKED = (paths, curated, captures, releases, entities)
    gc.freeze()  # the inherited objects stay shared: the collector would write to each
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            return list(pool.map(_check_forked, range(len(releases))))
    finally:
        _FORKED = None
        gc.unfreeze()


def run_check(paths: ProjectPaths, echo: Callable[[str], None] = print) -> int:
    """Print the report; return 1 when anything blocks a release, else 0. The cyclic
    collector waits meanwhile, as for a build (pipeline.cli.main.run_build says why)."""
    with collector_paused():
        return _run_check(paths, echo)


def _run_check(paths: ProjectPaths, echo: Callable[[str], None]) -> int:
    blocking: list[str] = []
    try:
        curated, _, releases = stages.load_project(paths)
        report = stages.capture_sources(paths, curated)
    except (CuratedError, CaptureError) as err:
        echo(f"BLOCKING: {err}")
        return 1
    from pipeline.extraction.extract import source_text

    texts = {k: source_text(k, c) for k, c in report.captures.items()}
    titles = {str(r.get("source_id")): str(r.get("title") or "") for r in curated.sources}
    blocking += _quote_failures(curated.entities, texts, titles)
    blocking += _unclaimed_entities(curated.entities)
    unresolved_total = 0
    for found in check_releases(paths, curated, report.captures, releases):
        for line in found.lines:
            echo(line)
        blocking += found.blocking
        if found.lines:  # the release was built (else its problem is in found.blocking)
            unresolved_total = found.unresolved
    for line in blocking:
        echo(f"BLOCKING: {line}")
    echo(f"{len(blocking)} blocking problems, {unresolved_total} unresolved mentions in the "
         f"latest release")
    return 1 if blocking else 0
