"""`sovai`: build releases, check curated data, diff releases, add and fetch sources."""

from __future__ import annotations

import os
import re
import sys
import warnings
from pathlib import Path

import click

from pipeline.paths import ProjectPaths, project_paths


def _quiet_dagster() -> None:
    # Dagster's notices about its own Beta APIs are not the build's business; the one Preview
    # notice the definitions cause (partitioned asset checks) is filtered where it is made.
    warnings.filterwarnings("ignore", module="dagster")
    try:
        from dagster import BetaWarning

        warnings.filterwarnings("ignore", category=BetaWarning)
    except ImportError:
        pass


def run_build(paths: ProjectPaths, release_key: str | None = None, *, echo=click.echo,
              instance=None, verbose: bool = False) -> list[dict]:
    """Build every declared release in date order (or one, after the ones before it that are
    missing from the output folder): drafts are rebuilt by a real Dagster run (in-process
    unless $SOVAI_EXECUTOR names another executor), published ones are only verified. When
    every release to build is sealed and the project's instance has recorded them, neither
    Dagster, pandas, pandera nor pyarrow is imported (the files are hashed with hashlib).
    Holds the project's lock. Raises on the first failure."""
    from pipeline.curation.curated import collector_paused
    from pipeline.lock import project_lock

    # The cyclic collector waits for the whole build: what a build allocates (the parse of
    # curated/, every draft, the tables) lives until it ends, and at 1M claims the
    # collections over it (about 750 between and around the steps, three of them full)
    # took 7 to 8 s while freeing nothing that changed the peak (2,597 to 2,621 MiB with
    # it, 2,606 MiB without).
    with project_lock(paths.dagster_home, "build", echo=echo), collector_paused():
        return _build_locked(paths, release_key, echo=echo, instance=instance,
                             verbose=verbose)


# The project's own Dagster instance (.dagster/dagster.yaml): no usage report from a
# command-line build (Dagster prints a notice otherwise), and no DEBUG log records in the event
# log. Dagster's events (steps, inputs, outputs, materializations, checks) are stored whatever
# the level; the DEBUG records are the IO managers' "Loading file from ..." lines, 118 of a
# 10k build's 473 event-log rows, each its own SQLite commit.
# One run per release at a time: a sensor's build and the monthly schedule's (or one launched
# in the UI) would otherwise write one partition's storage and release folder together; the
# second waits in Dagster's run queue until the first ends.
INSTANCE_SETTINGS = {"telemetry": "telemetry:\n  enabled: false\n",
                     "python_logs": "python_logs:\n  python_log_level: INFO\n",
                     "concurrency": "concurrency:\n  runs:\n    tag_concurrency_limits:\n"
                                    "      - key: dagster/partition\n        value:\n"
                                    "          applyLimitPerUniqueValue: true\n"
                                    "        limit: 1\n"}


def _project_instance_settings(home: Path) -> None:
    """Add to .dagster/dagster.yaml each of INSTANCE_SETTINGS it does not set yet (an
    operator's own settings are kept)."""
    import yaml

    home.mkdir(parents=True, exist_ok=True)
    path = home / "dagster.yaml"
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    try:
        present = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        return  # Dagster reports the operator's broken file itself
    missing = [v for k, v in INSTANCE_SETTINGS.items()
               if not isinstance(present, dict) or k not in present]
    if missing and isinstance(present, dict):
        path.write_text(text + ("\n" if text and not text.endswith("\n") else "")
                        + "".join(missing), encoding="utf-8")


def _verify_sealed_first(paths: ProjectPaths, releases: list, echo) -> None:
    """Before anything is built: undo an interrupted build, then verify every sealed release
    (a draft's diff is computed against them, so they are checked whatever is built)."""
    from pipeline.curation.releases import SealedReleaseError
    from pipeline.validation.verify import read_anchors, sealed_release_problems

    if paths.releases.exists() and not paths.releases.is_dir():
        raise click.ClickException(f"{paths.releases}: not a folder, so no release can be "
                                   f"written there; nothing was published")
    if paths.releases.is_dir() and any(p.name.startswith((".tmp-", ".old-"))
                                       for p in paths.releases.iterdir()):
        # publish (pandas, pyarrow) is imported only when there is something to undo.
        from pipeline.publishing.publish import recover_interrupted

        for line in recover_interrupted(paths.releases):
            echo(f"releases/: {line}")
    # publish.check_sealed's checks, with index.json read once and without publish's imports.
    anchors = read_anchors(paths.releases)
    for release in releases:
        if release.sealed:
            problems = sealed_release_problems(paths.releases / release.key,
                                               anchors.get(release.key))
            if problems:
                raise SealedReleaseError(f"release {release.key} is sealed, but "
                                         + "; ".join(problems))


def _selected_releases(paths: ProjectPaths, releases: list, release_key: str | None) -> list:
    """Every declared release, or the one asked for after the earlier ones whose folder is
    missing (the diff needs the previous folder)."""
    if release_key is None:
        return releases
    wanted = [r for r in releases if r.key == release_key]
    if not wanted:
        raise click.ClickException(
            f"release {release_key} is not declared in curated/releases.yaml "
            f"(declared: {', '.join(r.key for r in releases)})")
    return [r for r in releases if r.date < wanted[0].date
            and not (paths.releases / r.key / "datapackage.json").is_file()] + wanted


def _build_locked(paths: ProjectPaths, release_key: str | None, *, echo, instance,
                  verbose: bool) -> list[dict]:
    from pipeline.curation.curated import load_curated
    from pipeline.curation.releases import declared_releases

    curated = load_curated(paths.curated)  # all of it: bad input is reported before any run
    releases = declared_releases(curated)
    _verify_sealed_first(paths, releases, echo)
    selected = _selected_releases(paths, releases, release_key)
    os.environ.setdefault("DAGSTER_HOME", str(paths.dagster_home))
    home = Path(os.environ["DAGSTER_HOME"])
    _project_instance_settings(home)
    if any(r.sealed for r in selected):  # verified above; indexed and recorded before drafts
        instance = _index_and_record_sealed(paths, releases, home, instance)
    results, run = [], None
    for release in selected:
        if release.sealed:
            echo(f"{release.key} {release.title}: published (sealed); checksums verified, "
                 f"not rebuilt")
            results.append({"release": release.key, "sealed": True})
            continue
        if run is None:  # the definitions are built once, when the first draft needs them
            instance = instance or _project_instance()
            run = _release_runner(paths, instance)
        results.append(_build_draft(run, paths, release, echo=echo, verbose=verbose))
    return results


def _project_instance():
    _quiet_dagster()
    import dagster as dg

    return dg.DagsterInstance.get()


SEALED_RECORDED = "sealed_recorded.json"  # in the Dagster home: what it has recorded


def _index_and_record_sealed(paths: ProjectPaths, releases: list, home: Path, instance):
    """Refresh releases/index.json (and the captures beside it) and record every sealed
    release in the Dagster instance, once: the project's instance notes the state it
    recorded (a fingerprint of index.json, the statuses, the folders and captures present) in
    its home, and a build that finds the same state imports neither Dagster nor pandas.
    Returns the instance used, or None if nothing was to be done."""
    mark = home / SEALED_RECORDED
    key = str(paths.releases.resolve())
    if instance is None and _read_json(mark).get(key) == _releases_state(paths, releases):
        return None
    from pipeline.publishing.publish import refresh_release_index

    refresh_release_index(paths.releases, paths.raw, {r.key: r.status for r in releases})
    project = instance is None
    instance = instance or _project_instance()
    from pipeline.defs.sealed import record_sealed

    record_sealed(instance, paths, [r for r in releases if r.sealed])
    if project:  # an instance handed in (a test's) is not the one the mark describes
        _write_json(mark, {**_read_json(mark), key: _releases_state(paths, releases)})
    return instance


def _releases_state(paths: ProjectPaths, releases: list) -> str:
    """What refresh_release_index writes from, cheaply: index.json's sha256, the declared
    statuses, each entry of releases/ (its datapackage.json's size and mtime) and each
    published capture's size. The sealed folders' own bytes are checked against index.json
    before this is asked."""
    import hashlib
    import json

    from pipeline.curation.releases import sha256_file

    folder = paths.releases
    index = folder / "index.json"
    if not index.is_file():
        return ""

    def stat(path: Path) -> list[int] | None:
        return [path.stat().st_size, path.stat().st_mtime_ns] if path.is_file() else None

    state = {"index": sha256_file(index), "statuses": {r.key: r.status for r in releases},
             "entries": {p.name: stat(p / "datapackage.json") for p in sorted(folder.iterdir())},
             "captures": {p.relative_to(folder).as_posix(): p.stat().st_size
                          for p in sorted((folder / "captures").glob("*/*"))}}
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()


def _read_json(path: Path) -> dict:
    import json

    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # no mark (or a damaged one): record again
    return value if isinstance(value, dict) else {}


def _write_json(path: Path, value: dict) -> None:
    import json
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(value, handle, indent=1, sort_keys=True)
    os.replace(tmp, path)


def _release_runner(paths: ProjectPaths, instance):
    """A function (release key, run config) -> the run's result. In-process by default: the
    job, built once, runs with execute_in_process, and its curated_records step reuses this
    process's parse of curated/ (load_curated keeps it while the files are unchanged). Any
    other executor ($SOVAI_EXECUTOR) runs through execute_job, whose step processes rebuild
    the job from pipeline.definitions.build_release_job (so the instance must be a persistent
    one)."""
    _quiet_dagster()
    import dagster as dg

    from pipeline.definitions import (
        IN_PROCESS,
        MULTIPROCESS,
        ExecutorSettingError,
        build_release_job,
        configured_executor,
        executor_name,
    )

    try:
        configured_executor()
    except ExecutorSettingError as err:
        raise click.ClickException(f"{err}; nothing was published") from None
    if executor_name() == IN_PROCESS:
        job = build_release_job(str(paths.root))
        return lambda key, config: job.execute_in_process(
            partition_key=key, run_config=config, instance=instance, raise_on_error=False)
    job = dg.build_reconstructable_job("pipeline.definitions", build_release_job.__name__,
                                       reconstructable_args=(str(paths.root),))
    # The multiprocess executor's steps fork from a server that has imported
    # pipeline.definitions (and so Dagster and pandas) once, instead of each step process
    # importing them again (spawn, its default).
    execution = ({"execution": {"config": {"start_method": {"forkserver": {}}}}}
                 if executor_name() == MULTIPROCESS else {})
    return lambda key, config: dg.execute_job(job, instance, run_config=config | execution,
                                              tags={"dagster/partition": key})


def _build_draft(run, paths: ProjectPaths, release, *, echo, verbose: bool) -> dict:
    """One draft built by a Dagster run; what it published, or ClickException naming the
    failed steps or checks."""
    run_config = {"resources": {"settings": {"config": {
        "root": str(paths.root), "releases_dir": str(paths.releases)}}},
        # Dagster's own event log (and its stack traces) only when asked for: a failure
        # is reported below in one line per failed step.
        "loggers": {"console": {"config": {"log_level": "DEBUG" if verbose
                                                         else "CRITICAL"}}}}
    result = run(release.key, run_config)
    if not result.success:
        raise click.ClickException(_run_failure(result, release.key))
    failed_checks = [e for e in result.get_asset_check_evaluations() if not e.passed]
    if failed_checks:
        raise click.ClickException(_check_failure(failed_checks, release.key))
    metadata = _publish_metadata(result)
    echo(f"{release.key} {release.title}: built {paths.releases / release.key}")
    echo("  stages: " + ", ".join(_stage_times(result)))
    for key in ("claims", "verified_quote_share", "unresolved_mentions",
                "external_basis_values", "conflicts", "withheld_rows",
                "dropped_references"):
        if key in metadata:
            echo(f"  {key}: {metadata[key]}")
    rows = {k.removeprefix("rows_"): v for k, v in metadata.items() if k.startswith("rows_")}
    if rows:
        echo("  rows: " + ", ".join(f"{k} {v}" for k, v in rows.items()))
    return {"release": release.key, "sealed": False, "run_id": result.run_id, **metadata}


def _stage_times(result) -> list[str]:
    """Each stage (a step that materialized an asset) with its duration, in the order they
    finished, then the asset checks' steps as one total."""
    materialized = {e.step_key for e in result.all_events if e.is_step_materialization}
    times, checks, check_seconds = [], 0, 0.0
    for event in result.all_events:
        if event.is_step_success:
            seconds = event.event_specific_data.duration_ms / 1000
            if event.step_key in materialized:
                times.append(f"{event.step_key} {seconds:.1f} s")
            else:
                checks, check_seconds = checks + 1, check_seconds + seconds
    return times + ([f"checks {check_seconds:.1f} s"] if checks else [])


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
            # Our own errors carry file, line and value; their class path says nothing more.
            message = re.sub(r"^pipeline\.[\w.]+Error: ", "", cause.message.strip())
            lines.append(f"  {event.step_key}: {message}")
    return "\n".join(lines)


def _check_failure(evaluations, key: str) -> str:
    lines = [f"release {key}: validation failed; nothing was published"]
    for evaluation in evaluations:
        details = evaluation.metadata.get("details")
        table = evaluation.asset_key.to_user_string()
        lines.append(f"  {table} {evaluation.check_name}: "
                     f"{getattr(details, 'value', details)}")
    return "\n".join(lines)


@click.group()
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Project root (default: $SOVAI_ROOT or this checkout).")
@click.pass_context
def main(ctx: click.Context, root: Path | None) -> None:
    """Sovereign AI Atlas: build, check and compare dated releases.

    \b
    Example: sovai --root ~/atlas check
    Each command's --help gives its exit codes."""
    if root is not None:
        if not ((root / "curated").is_dir() and (root / "schemas").is_dir()):
            raise click.ClickException(f"{root}: not a sovai project (it has no curated/ and "
                                       f"schemas/ folders)")
        os.environ["SOVAI_ROOT"] = str(root.resolve())


@main.command()
@click.option("--release", "release_key", metavar="DATE", help="Build only this release.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Write releases here instead of releases/.")
@click.option("--verbose", is_flag=True, help="Also print Dagster's own event log.")
def build(release_key: str | None, out: Path | None, verbose: bool) -> None:
    """Build every declared release (drafts rebuilt, published ones verified).

    \b
    Example: sovai build --release 2026-08-31
    Exit codes: 0 built and verified; 1 a curated, validation or sealing error (one line
    per problem, nothing published, nothing published touched)."""
    from pipeline.curation.curated import CuratedError
    from pipeline.curation.releases import SealedReleaseError
    from pipeline.lock import LockTimeout
    from pipeline.paths import output_folder

    root = project_paths().root
    paths = project_paths(releases=output_folder(root, out) if out else None)
    try:
        run_build(paths, release_key, verbose=verbose)
    except SealedReleaseError as err:
        raise click.ClickException(
            f"{err}\n  (a published release is never rebuilt; `sovai reproduce DATE` rebuilds "
            f"one into a temporary folder and compares it)") from None
    except (CuratedError, LockTimeout, OSError) as err:
        raise click.ClickException(f"{err}; nothing was published") from None
    except click.ClickException:
        raise
    except Exception as err:  # a fault below our code (a full disk under Dagster's database)
        if verbose:
            raise
        raise click.ClickException(f"{_one_line(err)}; nothing was published (--verbose "
                                   f"shows where it happened)") from None


def _one_line(err: BaseException) -> str:
    """The innermost cause of an error, in one line: its type and first line."""
    while err.__cause__ is not None or err.__context__ is not None:
        err = err.__cause__ or err.__context__
    first = (str(err).strip().splitlines() or [""])[0]
    return f"{type(err).__name__}: {first}"


@main.command()
def check() -> None:
    """List what blocks a release: bad curated rows, unverified quotes, unresolved names,
    entities without claims, conflicts.

    \b
    Example: sovai check
    Exit codes: 0 nothing blocks; 1 something does (each problem with file and line)."""
    from pipeline.lock import LockTimeout, project_lock
    from pipeline.validation.check import run_check

    paths = project_paths()
    try:
        with project_lock(paths.dagster_home, "check", echo=click.echo):
            code = run_check(paths, echo=click.echo)
    except LockTimeout as err:
        raise click.ClickException(str(err)) from None
    sys.exit(code)


@main.command()
@click.argument("releases", nargs=-1, metavar="[DATE]...")
def verify(releases: tuple[str, ...]) -> None:
    """Check every published file against the checksums recorded when it was sealed: each
    file against its datapackage.json, each datapackage.json against releases/index.json,
    every capture (raw/ and releases/captures/) against its content address and sidecar, and
    anything in releases/ no release declares.

    \b
    Example: sovai verify 2026-07-31
    Exit codes: 0 every file as published; 1 a problem, each file named on its own line."""
    from pipeline.curation.releases import SealedReleaseError
    from pipeline.stages import load_project
    from pipeline.validation.verify import verify_project

    paths = project_paths()
    _, _, declared = load_project(paths)
    unknown = [k for k in releases if k not in {r.key for r in declared if r.sealed}]
    if unknown:
        raise click.ClickException(f"{unknown[0]} is not a published release (published: "
                                   f"{', '.join(r.key for r in declared if r.sealed)})")
    try:
        problems = verify_project(paths.releases, paths.raw, declared, list(releases))
    except SealedReleaseError as err:
        problems = [str(err)]
    for problem in problems:
        click.echo(problem)
    checked = [r.key for r in declared if r.sealed and (not releases or r.key in releases)]
    click.echo(f"{len(problems)} problems in {len(checked)} published releases "
               f"({', '.join(checked)}) and their captures")
    sys.exit(1 if problems else 0)


@main.command()
@click.argument("release_key", metavar="DATE")
def reproduce(release_key: str) -> None:
    """Rebuild a published release from the current tree into a temporary folder and compare
    it byte for byte with the sealed one, naming every file that differs (for a table, its
    first differing row). Writes nothing under releases/.

    \b
    Example: sovai reproduce 2026-07-31
    Exit codes: 0 byte for byte the same; 1 something differs, or the release cannot be
    rebuilt (one line: why)."""
    from pipeline.curation.curated import CuratedError
    from pipeline.lock import LockTimeout, project_lock
    from pipeline.publishing.reproduce import reproduce_release
    from pipeline.stages import load_project
    from pipeline.validation.validate import ValidationError

    paths = project_paths()
    _, _, declared = load_project(paths)
    release = next((r for r in declared if r.key == release_key and r.sealed), None)
    if release is None:
        raise click.ClickException(f"{release_key} is not a published release")
    try:
        with project_lock(paths.dagster_home, "reproduce", echo=click.echo):
            differences = reproduce_release(paths, release)
    except (CuratedError, ValidationError, LockTimeout, OSError) as err:
        raise click.ClickException(f"release {release_key} cannot be rebuilt from this "
                                   f"tree: {err}") from None
    for line in differences:
        click.echo(f"{release_key}/{line}")
    click.echo(f"release {release_key}: " + ("rebuilt byte for byte from this tree"
                                              if not differences else
                                              f"{len(differences)} files differ"))
    if differences and release.reproduces_at:
        click.echo(f"  declared in curated/releases.yaml: it rebuilds byte for byte at commit "
                   f"{release.reproduces_at}, not from this tree: {release.reproduce_note}")
    sys.exit(1 if differences else 0)


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("dagster_args", nargs=-1, type=click.UNPROCESSED)
def ui(dagster_args: tuple[str, ...]) -> None:
    """Serve the Dagster UI on this project's own Dagster home (.dagster/), so runs, checks
    and the sealed releases' records persist between sessions (a bare `dagster dev` uses a
    temporary home). Further arguments go to `dagster dev`.

    \b
    Example: sovai ui --port 3000
    Exit codes: those of `dagster dev`."""
    paths = project_paths()
    home = paths.dagster_home
    _project_instance_settings(home)
    from pipeline.paths import PACKAGE_ROOT

    dagster = Path(sys.executable).with_name("dagster")
    os.chdir(PACKAGE_ROOT)  # the code location loads this checkout's pipeline package
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ["SOVAI_ROOT"] = str(paths.root)  # ... over this project's data
    from pipeline.cli.dagster_dev import run_dagster_dev  # stops it in order on SIGTERM

    raise SystemExit(run_dagster_dev([str(dagster), "dev", "-w", str(PACKAGE_ROOT /
                                      "workspace.yaml"), *dagster_args], env=os.environ,
                                     cwd=str(PACKAGE_ROOT)))


@main.command()
def dictionary() -> None:
    """Regenerate docs/DATA_DICTIONARY.md from schemas/.

    \b
    Example: sovai dictionary
    Exit codes: 0 written; 1 a schema file is invalid."""
    from pipeline.publishing.dictionary import write_dictionary

    paths = project_paths()
    click.echo(write_dictionary(paths.schemas, paths.root / "docs" / "DATA_DICTIONARY.md"))


@main.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write the site here (default: site/ in the project root).")
def site(out: Path | None) -> None:
    """Build the static site from releases/: every release with its downloads, metadata and
    pages, servable by any static host.

    \b
    Example: sovai site --out /tmp/atlas-site
    Exit codes: 0 written; 1 a release's files changed or a setting is invalid (one line)."""
    from pipeline.curation.curated import CuratedError
    from pipeline.curation.releases import SealedReleaseError
    from pipeline.paths import output_folder
    from pipeline.site.build import SiteError, build_site
    from pipeline.site.config import load_publication

    paths = project_paths()
    try:
        target = build_site(paths.releases, output_folder(paths.root, out or paths.root / "site"),
                            load_publication(paths.curated))
    except (CuratedError, SiteError, SealedReleaseError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"site written to {target}")


def _register_commands() -> None:
    """Commands of the other domains (diff, fetching)."""
    from pipeline.cli.diff import diff_command
    from pipeline.cli.fetch import add_source_command, fetch_command
    from pipeline.cli.store import store_command

    for command in (diff_command, add_source_command, fetch_command, store_command):
        main.add_command(command)


_register_commands()
