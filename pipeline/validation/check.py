"""`sovai check`: everything that blocks a release, with file and line, for curators."""

from __future__ import annotations

from collections.abc import Callable

from pipeline import stages
from pipeline.curation.curated import CuratedError, Record
from pipeline.extraction.quotes import SourceText, basis_problem
from pipeline.paths import ProjectPaths
from pipeline.sources.capture import CaptureError
from pipeline.validation import validate
from pipeline.validation.schemas import is_missing


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


def run_check(paths: ProjectPaths, echo: Callable[[str], None] = print) -> int:
    """Print the report; return 1 when anything blocks a release, else 0."""
    blocking: list[str] = []
    try:
        curated, schemas, releases = stages.load_project(paths)
        report = stages.capture_sources(paths, curated)
    except (CuratedError, CaptureError) as err:
        echo(f"BLOCKING: {err}")
        return 1
    from pipeline.extraction.extract import capture_text

    texts = {k: SourceText(k, capture_text(c)) for k, c in report.captures.items()}
    titles = {str(r.get("source_id")): str(r.get("title") or "") for r in curated.sources}
    blocking += _quote_failures(curated.entities, texts, titles)
    blocking += _unclaimed_entities(curated.entities)
    unresolved_total = 0
    entities = None  # read with the first release normalized, then shared by the others
    for release in releases:
        try:
            captures = stages.release_captures(report.captures, curated, release)
            tables = stages.normalize(paths, curated, report.captures, release.date, texts,
                                      entities)
            entities = tables.entities
            resolution = stages.resolve(paths, curated, stages.mentions_for(captures), tables)
        except CuratedError as err:
            blocking.append(f"release {release.key}: {err}")
            continue
        problems = validate.check_release(tables.tables, schemas,
                                          stages.source_texts(tables, captures))
        blocking += [f"release {release.key}: {p}" for p in problems]
        unresolved = resolution.unresolved
        unresolved_total = len(unresolved)
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
        if release is releases[-1]:
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
    for line in blocking:
        echo(f"BLOCKING: {line}")
    echo(f"{len(blocking)} blocking problems, {unresolved_total} unresolved mentions in the "
         f"latest release")
    return 1 if blocking else 0
