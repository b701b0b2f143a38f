"""`sovai`: build releases, check curated data, diff releases, add and fetch sources."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import click

from pipeline.paths import ProjectPaths, project_paths


def _quiet_dagster() -> None:
    # Dagster warns about preview features (partitioned asset checks) on every import.
    warnings.filterwarnings("ignore", module="dagster")
    warnings.filterwarnings("ignore", message=".*PreviewWarning.*")
    try:
        from dagster import BetaWarning, PreviewWarning

        warnings.filterwarnings("ignore", category=PreviewWarning)
        warnings.filterwarnings("ignore", category=BetaWarning)
    except ImportError:
        pass


def run_build(paths: ProjectPaths, release_key: str | None = None, *, echo=click.echo,
              instance=None) -> list[dict]:
    """Build every declared release in date order (or one, after the ones before it that are
    missing from the output folder): drafts are rebuilt by a real in-process Dagster run,
    published ones are only verified. Raises on the first failure."""
    _quiet_dagster()
    import dagster as dg

    from pipeline.definitions import BUILD_JOB, build_definitions
    from pipeline.publish import check_sealed, refresh_release_index
    from pipeline.stages import load_project

    curated, _, releases = load_project(paths)
    if release_key is not None:
        wanted = [r for r in releases if r.key == release_key]
        if not wanted:
            raise click.ClickException(
                f"release {release_key} is not declared in curated/releases.yaml "
                f"(declared: {', '.join(r.key for r in releases)})")
        # Earlier releases are built only if missing: the diff needs the previous folder.
        selected = [r for r in releases if r.date < wanted[0].date
                    and not (paths.releases / r.key / "datapackage.json").is_file()] + wanted
    else:
        selected = releases
    statuses = {r.key: r.status for r in releases}
    os.environ.setdefault("DAGSTER_HOME", str(paths.dagster_home))
    Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
    if instance is None:
        instance = dg.DagsterInstance.get()
    defs = build_definitions(paths.root)
    job = defs.resolve_job_def(BUILD_JOB)
    results = []
    for release in selected:
        if release.sealed:
            check_sealed(release, paths.releases)
            refresh_release_index(paths.releases, paths.raw, statuses)
            echo(f"{release.key} {release.title}: published (sealed); checksums verified, "
                 f"not rebuilt")
            results.append({"release": release.key, "sealed": True})
            continue
        run_config = {"resources": {"settings": {"config": {
            "root": str(paths.root), "releases_dir": str(paths.releases)}}}}
        result = job.execute_in_process(partition_key=release.key, run_config=run_config,
                                        instance=instance, raise_on_error=False)
        if not result.success:
            raise click.ClickException(_run_failure(result, release.key))
        failed_checks = [e for e in result.get_asset_check_evaluations() if not e.passed]
        if failed_checks:
            raise click.ClickException(_check_failure(failed_checks, release.key))
        metadata = _publish_metadata(result)
        echo(f"{release.key} {release.title}: built {paths.releases / release.key}")
        for key in ("claims", "verified_quote_share", "unresolved_mentions",
                    "external_basis_values", "conflicts", "withheld_rows",
                    "dropped_references"):
            if key in metadata:
                echo(f"  {key}: {metadata[key]}")
        rows = {k.removeprefix("rows_"): v for k, v in metadata.items() if k.startswith("rows_")}
        if rows:
            echo("  rows: " + ", ".join(f"{k} {v}" for k, v in rows.items()))
        results.append({"release": release.key, "sealed": False, "run_id": result.run_id,
                        **metadata})
    del curated
    return results


def _publish_metadata(result) -> dict:
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key.path == ["release_folder"]:
            return {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}
    return {}


def _run_failure(result, key: str) -> str:
    lines = [f"release {key}: the build failed; nothing was published"]
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            cause = error
            while cause.cause is not None:
                cause = cause.cause
            lines.append(f"  {event.step_key}: {cause.message.strip()}")
    return "\n".join(lines)


def _check_failure(evaluations, key: str) -> str:
    lines = [f"release {key}: validation failed; nothing was published"]
    for evaluation in evaluations:
        details = evaluation.metadata.get("details")
        lines.append(f"  {evaluation.check_name}: {getattr(details, 'value', details)}")
    return "\n".join(lines)


@click.group()
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Project root (default: $SOVAI_ROOT or this checkout).")
@click.pass_context
def main(ctx: click.Context, root: Path | None) -> None:
    """Sovereign AI Atlas: build, check and compare dated releases."""
    if root is not None:
        os.environ["SOVAI_ROOT"] = str(root.resolve())


@main.command()
@click.option("--release", "release_key", metavar="DATE", help="Build only this release.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Write releases here instead of releases/.")
def build(release_key: str | None, out: Path | None) -> None:
    """Build every declared release (drafts rebuilt, published ones verified)."""
    paths = project_paths(releases=out)
    run_build(paths, release_key)


@main.command()
def check() -> None:
    """List what blocks a release: bad curated rows, unverified quotes, unresolved names,
    entities without claims, conflicts. Exits 1 when anything blocks."""
    from pipeline.check import run_check

    sys.exit(run_check(project_paths(), echo=click.echo))


@main.command()
def dictionary() -> None:
    """Regenerate docs/DATA_DICTIONARY.md from schemas/."""
    from pipeline.dictionary import write_dictionary

    paths = project_paths()
    click.echo(write_dictionary(paths.schemas, paths.root / "docs" / "DATA_DICTIONARY.md"))


@main.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write the site here (default: site/ in the project root).")
def site(out: Path | None) -> None:
    """Build the static site from releases/: every release with its downloads, metadata and
    pages, servable by any static host."""
    from pipeline.curated import CuratedError
    from pipeline.releases import SealedReleaseError
    from pipeline.site.build import SiteError, build_site
    from pipeline.site.config import load_publication

    paths = project_paths()
    try:
        target = build_site(paths.releases, out or paths.root / "site",
                            load_publication(paths.curated))
    except (CuratedError, SiteError, SealedReleaseError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"site written to {target}")


def _register_commands() -> None:
    """Commands of the other domains (diff, fetching)."""
    from pipeline.diff_cli import diff_command
    from pipeline.fetch_cli import add_source_command, fetch_command

    for command in (diff_command, add_source_command, fetch_command):
        main.add_command(command)


_register_commands()
