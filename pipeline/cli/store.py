"""`sovai store publish|verify|site URL`: the release store (a folder or object storage).

Everything below click is imported when a command runs, so `sovai --help` stays fast."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click

from pipeline.paths import project_paths

_STORE_HELP = ("URL is a folder, file://..., or s3://bucket/prefix (default $SOVAI_STORE); the "
               "S3 endpoint comes from $SOVAI_STORE_ENDPOINT or $AWS_ENDPOINT_URL, the "
               "credentials from the standard AWS variables.")
_url = click.argument("url", envvar="SOVAI_STORE", metavar="URL")
_from = click.option("--from", "source", type=click.Path(file_okay=False, path_type=Path),
                     default=None, help="The releases folder to publish (default: releases/).")


def _one_line(store_url: str, err: BaseException) -> str:
    """A fault of the store (refused credentials, no such bucket, a dropped connection) in one
    line: the innermost cause, its type and first line."""
    while err.__cause__ is not None:
        err = err.__cause__
    first = (str(err).strip().splitlines() or [""])[0]
    return f"{store_url}: {type(err).__name__}: {first}"


@click.group("store", help=f"""Publish the sealed releases to the release store, and check or
read them there. {_STORE_HELP}

\b
Example: SOVAI_STORE_ENDPOINT=http://127.0.0.1:9000 sovai store publish s3://atlas/releases
Each command's --help gives its exit codes.""")
def store_command() -> None:
    pass


@store_command.command("publish")
@_url
@click.option("--release", "keys", multiple=True, metavar="DATE",
              help="Publish only this sealed release (repeatable; default: every one).")
@_from
def publish_command(url: str, keys: tuple[str, ...], source: Path | None) -> None:
    """Upload the sealed releases and the captures they cite to the store: under a temporary
    prefix first, every file's sha256 checked there, then copied into place, and the store's
    index.json written last. A release the store already has is left alone when its bytes are
    the same and refused when they differ.

    \b
    Example: sovai store publish s3://atlas/releases --release 2026-07-31
    Exit codes: 0 published (or already there, the same bytes); 1 refused or failed, in one
    line; the store's index.json (what readers see) unchanged."""
    from pipeline.curation.releases import SealedReleaseError
    from pipeline.publishing.store import StoreError, open_store, publish_to_store

    releases_dir = source or project_paths().releases
    try:
        store = open_store(url)
        publish_to_store(store, releases_dir, list(keys), echo=click.echo)
    except (SealedReleaseError, StoreError) as err:
        raise click.ClickException(str(err)) from None
    except Exception as err:  # the store's own faults: credentials, bucket, network
        raise click.ClickException(f"{_one_line(url, err)}; its index.json was not "
                                   f"changed") from None


@store_command.command("verify")
@_url
@_from
def verify_command(url: str, source: Path | None) -> None:
    """Read every release the store's index.json lists back from the store and check it as
    `sovai verify` checks releases/: each file against its datapackage.json, each
    datapackage.json against the anchor in the store's index.json and in releases/index.json,
    each capture against the sha256 it is named by.

    \b
    Example: sovai store verify s3://atlas/releases
    Exit codes: 0 every file as published; 1 a problem, each file named on its own line, or
    nothing published at URL."""
    from pipeline.curation.releases import SealedReleaseError
    from pipeline.publishing.store import StoreError, open_store, verify_store

    releases_dir = source or project_paths().releases
    try:
        store = open_store(url)
        listed = [e["date"] for e in store.read_index()["releases"]]
        if not listed:  # a mistyped URL is not a clean store
            raise StoreError(f"{url}/index.json: missing or empty; nothing is published there")
        problems = verify_store(store, releases_dir if (releases_dir / "index.json").is_file()
                                else None)
    except (SealedReleaseError, StoreError) as err:
        raise click.ClickException(str(err)) from None
    except Exception as err:  # the store's own faults: credentials, bucket, network
        raise click.ClickException(_one_line(url, err)) from None
    for problem in problems:
        click.echo(problem)
    click.echo(f"{len(problems)} problems in {len(listed)} releases in {url} "
               f"({', '.join(listed) or 'none'}) and their captures")
    sys.exit(1 if problems else 0)


@store_command.command("site")
@_url
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write the site here (default: site/ in the project root).")
def site_command(url: str, out: Path | None) -> None:
    """Build the static site from the releases in the store (as `sovai site` builds it from
    releases/): the store's files are downloaded into a temporary folder, each checked against
    the sha256 the store's index.json lists, and the site is built from that folder.

    \b
    Example: sovai store site s3://atlas/releases --out /tmp/atlas-site
    Exit codes: 0 written; 1 a file in the store changed, the store cannot be read or a
    setting is invalid (one line)."""
    from pipeline.curation.curated import CuratedError
    from pipeline.curation.releases import SealedReleaseError
    from pipeline.paths import output_folder
    from pipeline.publishing.store import StoreError, download_store, open_store
    from pipeline.site.build import SiteError, build_site
    from pipeline.site.config import load_publication

    paths = project_paths()
    target = output_folder(paths.root, out or paths.root / "site")
    try:
        with tempfile.TemporaryDirectory(prefix="sovai-store-") as folder:
            releases = download_store(open_store(url), Path(folder))
            written = build_site(releases, target, load_publication(paths.curated))
    except (CuratedError, SiteError, SealedReleaseError, StoreError) as err:
        raise click.ClickException(str(err)) from None
    except Exception as err:  # the store's own faults: credentials, bucket, network
        raise click.ClickException(_one_line(url, err)) from None
    click.echo(f"site written to {written} from {url}")
