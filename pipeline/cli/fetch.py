"""`sovai add-source URL ...` and `sovai fetch [ID...]`: capture pages by URL into raw/.

The fetch policy is `FetchPolicy()` unless the click context object (a dict) carries one under
"fetch_policy" (tests pass tiny timeouts that way); --allow-host limits the hosts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
from typing import TYPE_CHECKING

import click

from pipeline.curation.curated import DATE_BOUNDS, DATE_PRECISIONS
from pipeline.paths import project_paths

if TYPE_CHECKING:  # the fetcher (requests, its checks) loads when a command runs, not for --help
    from pipeline.sources.fetch import FetchPolicy, FetchResult

_allow_host = click.option(
    "--allow-host", "allow_hosts", multiple=True, metavar="HOST",
    help="Fetch only from this host (repeatable; '.example.org' includes subdomains; default "
         "$SOVAI_FETCH_ALLOW_HOSTS). A host named here may be a loopback or private address, "
         "which is otherwise refused.")


def fetch_policy(ctx: click.Context, allow_hosts: tuple[str, ...] = ()) -> FetchPolicy:
    from pipeline.sources.fetch import default_policy

    policy = ctx.obj.get("fetch_policy") if isinstance(ctx.obj, dict) else None
    policy = policy or default_policy()
    if allow_hosts:
        policy = dataclasses.replace(policy, hosts=frozenset(h.lower() for h in allow_hosts))
    return policy


@click.command("add-source")
@click.argument("url")
@click.option("--id", "source_id", required=True, help="New source id (a lowercase slug).")
@click.option("--title", required=True, help="Title of the page.")
@click.option("--published-on", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="First day of the period the date evidence supports (YYYY-MM-DD).")
@click.option("--date-precision", type=click.Choice(DATE_PRECISIONS), default="day",
              show_default=True)
@click.option("--date-bound", type=click.Choice(DATE_BOUNDS), default="within", show_default=True,
              help="within: the evidence dates the page; not_before/not_after: it only bounds it.")
@click.option("--date-evidence", default=None, help="The exact sentence of the page that dates "
                                                    "it.")
@click.option("--publisher", default=None, help="Publisher, where the page shows it.")
@_allow_host
@click.pass_context
def add_source_command(ctx: click.Context, url: str, source_id: str, title: str,
                       published_on: dt.datetime, date_precision: str, date_bound: str,
                       date_evidence: str | None, publisher: str | None,
                       allow_hosts: tuple[str, ...]) -> None:
    """Capture the page at URL and register it in curated/sources.yaml."""
    from pipeline.sources.fetch import FetchError, NewSource, SourceRegistryError, add_source

    paths = project_paths()
    source = NewSource(source_id=source_id, url=url, title=title,
                       published_on=published_on.date(), date_precision=date_precision,
                       date_bound=date_bound, date_evidence=date_evidence, publisher=publisher)
    import pipeline.extraction.extract  # noqa: F401 - the page checks need it: load it before the lock
    from pipeline.lock import LockTimeout, project_lock

    try:
        # One writer: two add-source runs at once would each rewrite sources.yaml.
        with project_lock(paths.dagster_home, "add-source",
                          echo=lambda line: click.echo(line, err=True)):
            result = add_source(paths, source, policy=fetch_policy(ctx, allow_hosts))
    except (SourceRegistryError, FetchError, LockTimeout) as err:
        raise click.ClickException(f"{err}; nothing was registered") from None
    assert result.capture is not None
    click.echo(f"{source_id}: registered in {paths.curated / 'sources.yaml'}")
    click.echo(result.line())
    click.echo(f"  {result.capture.path}")
    for warning in result.warnings:
        click.echo(f"warning: {source_id}: {warning}", err=True)


@click.command("fetch")
@click.argument("source_ids", nargs=-1, metavar="[ID]...")
@_allow_host
@click.pass_context
def fetch_command(ctx: click.Context, source_ids: tuple[str, ...],
                  allow_hosts: tuple[str, ...]) -> None:
    """Refresh the captures of sources with a URL (all, or the IDs given). Exits 1 if any
    source failed; the others are still fetched, and a failed one keeps its last capture."""
    from pipeline.sources.fetch import SourceRecordError, SourceRegistryError, url_sources

    paths = project_paths()
    try:
        selected = url_sources(paths.curated, source_ids)
    except SourceRecordError as err:
        raise click.ClickException(str(err)) from None
    except SourceRegistryError as err:
        raise click.UsageError(str(err)) from None
    if not selected:
        click.echo("no source in curated/ has a url: nothing to fetch")
        return
    from pipeline.lock import LockTimeout, project_lock

    try:
        with project_lock(paths.dagster_home, "fetch",
                          echo=lambda line: click.echo(line, err=True)):
            results = _fetch_all(fetch_policy(ctx, allow_hosts), paths, selected)
    except LockTimeout as err:
        raise click.ClickException(str(err)) from None
    counts = {outcome: sum(r.outcome == outcome for r in results)
              for outcome in ("new", "unchanged", "failed")}
    click.echo(f"{len(results)} sources: {counts['new']} new, {counts['unchanged']} unchanged, "
               f"{counts['failed']} failed")
    if counts["failed"]:
        ctx.exit(1)


def _fetch_all(policy, paths, selected: list[tuple[str, str]]) -> list[FetchResult]:
    from pipeline.sources.fetch import Fetcher, refresh_source

    results: list[FetchResult] = []
    with Fetcher(policy) as fetcher:
        if sys.stdout.isatty():  # a progress bar only for a person at a terminal
            with click.progressbar(selected, label="Fetching",
                                   item_show_func=lambda item: item[0] if item else None) as bar:
                for source_id, url in bar:
                    results.append(refresh_source(fetcher, paths.raw, source_id, url))
            for result in results:
                click.echo(result.line())
        else:
            for source_id, url in selected:
                results.append(refresh_source(fetcher, paths.raw, source_id, url))
                click.echo(results[-1].line())
    return results
