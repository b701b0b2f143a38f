"""capture: a source page becomes an immutable, content-addressed file in raw/ plus a sidecar.

Layout: raw/<source_id>/<sha256>.<ext> holds the bytes exactly as received, and
raw/<source_id>/<sha256>.json holds the metadata (source id, origin, media type, sha256, bytes,
captured_at, and HTTP validators when the page was fetched). The same bytes for the same source
never produce a second capture; a changed page produces a new file beside the old one.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pipeline.curation.curated import Record

EXTENSIONS = {
    "text/plain": ".txt",
    "text/markdown": ".md",
    "text/html": ".html",
    "application/xhtml+xml": ".html",
}


class CaptureError(Exception):
    """A source could not be captured (missing file, unreadable bytes, bad sidecar)."""


SOURCE_ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")  # a source id is a slug: it names a folder


def source_id_problem(source_id: object) -> str | None:
    """Why `source_id` cannot name a folder of raw/ (None when it is a slug)."""
    if isinstance(source_id, str) and SOURCE_ID.fullmatch(source_id):
        return None
    return ("not a slug (lowercase letters, digits and single hyphens), so it cannot name a "
            "folder in raw/")


def source_folder(raw_dir: Path, source_id: object) -> Path:
    """raw/<source_id>/, refused for an id that is not a slug or a folder that is a symlink
    (everything a capture writes or reads stays inside raw/)."""
    problem = source_id_problem(source_id)
    if problem:
        raise CaptureError(f"source id {source_id!r} is {problem}")
    folder = raw_dir / str(source_id)
    if folder.is_symlink() or (folder.exists() and folder.resolve().parent
                               != raw_dir.resolve()):
        raise CaptureError(f"{folder}: is a symlink (to {folder.resolve()}); raw/ holds only "
                           f"its own folders")
    return folder


def project_file(root: Path, name: object) -> Path:
    """A file named relative to the project root (a source's capture_file), resolved: refused
    when the name is not a relative path or it (or a symlink on the way) leads outside the
    project."""
    if not isinstance(name, str) or not name.strip():
        raise CaptureError(f"must be a path relative to the project root, not {name!r}")
    if "\0" in name:
        raise CaptureError("contains a NUL byte")
    if Path(name).is_absolute() or name.startswith("~"):
        raise CaptureError("must be relative to the project root, not absolute")
    path = (root / name).resolve()
    if not path.is_relative_to(root.resolve()):
        raise CaptureError(f"leads outside the project (to {path}); keep the page inside it "
                           f"(raw/ holds the captures already made)")
    return path


@dataclass(frozen=True)
class Capture:
    source_id: str
    sha256: str
    media_type: str  # without parameters, e.g. "text/html"
    bytes: int
    captured_at: str  # ISO 8601, UTC, seconds
    origin: str  # the URL or the file the bytes came from
    charset: str | None = None  # declared charset (HTTP header or file default), if any
    http: dict = field(default_factory=dict)  # status, etag, last_modified, final_url
    path: Path | None = None  # the bytes on disk (not stored in the sidecar)

    def read_bytes(self) -> bytes:
        assert self.path is not None
        return self.path.read_bytes()

    def sidecar(self) -> dict:
        data = asdict(self)
        data.pop("path")
        return data


def capture_name(sha256: str, media_type: str) -> str:
    """The file name of a capture in raw/<source_id>/: its sha256 and the media type's suffix."""
    return f"{sha256}{EXTENSIONS.get(media_type, '.bin')}"


CAPTURES = "captures"  # releases/captures/ and the site's: the captures releases cite


def published_capture_path(source_id: str, sha256: str, media_type: str) -> str:
    """Where releases/ and the site keep a capture the releases quote, relative to their
    root: captures/<source>/<sha256>.<ext>."""
    return f"{CAPTURES}/{source_id}/{capture_name(sha256, media_type)}"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def utc_now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def split_content_type(content_type: str | None) -> tuple[str, str | None]:
    """'text/html; charset=ISO-8859-1' -> ('text/html', 'iso-8859-1')."""
    if not content_type:
        return "application/octet-stream", None
    media_type, _, params = content_type.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.lower() == "charset" and value:
            charset = value.strip().strip('"').lower()
    return media_type.strip().lower(), charset


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file whole or not at all (a temporary file beside it, then a rename)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def capture_bytes(
    raw_dir: Path,
    source_id: str,
    data: bytes,
    *,
    origin: str,
    media_type: str,
    charset: str | None = None,
    captured_at: str | None = None,
    http: dict | None = None,
) -> tuple[Capture, bool]:
    """Store `data` for `source_id`. Returns the capture and whether it is new.

    Bytes already captured for this source return the existing capture untouched."""
    digest = sha256_hex(data)
    folder = source_folder(raw_dir, source_id)
    existing = _find(folder, digest)
    if existing is not None:
        return existing, False
    folder.mkdir(parents=True, exist_ok=True)
    capture = Capture(
        source_id=source_id,
        sha256=digest,
        media_type=media_type,
        bytes=len(data),
        captured_at=captured_at or utc_now(),
        origin=origin,
        charset=charset,
        http=dict(http or {}),
        path=folder / capture_name(digest, media_type),
    )
    write_atomic(capture.path, data)
    sidecar = json.dumps(capture.sidecar(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    write_atomic(folder / f"{digest}.json", sidecar.encode("utf-8"))
    return capture, True


def capture_file(
    raw_dir: Path, source_id: str, path: Path, *, origin: str | None = None
) -> tuple[Capture, bool]:
    """Capture a page kept as a file (a saved article). The media type comes from the extension;
    plain text is assumed to be UTF-8, which capture verifies."""
    path = Path(path)
    if not path.is_file():
        raise CaptureError(f"source {source_id!r}: capture file not found: {path}")
    data = path.read_bytes()
    guessed, _ = mimetypes.guess_type(path.name)
    media_type = {".md": "text/markdown"}.get(path.suffix.lower(), guessed or "text/plain")
    charset = None
    if media_type in ("text/plain", "text/markdown"):
        charset = "utf-8"
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise CaptureError(
                f"source {source_id!r}: {path} is not valid UTF-8 at byte {err.start}"
            ) from err
    return capture_bytes(
        raw_dir, source_id, data, origin=origin or str(path), media_type=media_type,
        charset=charset,
    )


def capture_declared_file(root: Path, raw_dir: Path, record: Record) -> bool:
    """Bring a curated source's capture_file into raw/; True when that made a new capture.
    Raises CuratedError (file, line, key, value) for a source id that is not a slug, a
    capture_file outside the project, or a source with no capture at all: none in raw/, and
    neither a capture_file nor a url to make one."""
    source_id, name = record.get("source_id"), record.get("capture_file")
    problem = source_id_problem(source_id)
    if problem:
        raise record.error(problem, column="source_id", value=source_id)
    try:
        path = None if name is None else project_file(root, name)
        if path is not None and path.is_file():
            return capture_file(raw_dir, str(source_id), path, origin=name)[1]
        if latest_capture(raw_dir, str(source_id)) is not None or (
                name is None and record.get("url")):
            return False  # raw/ keeps the capture (or `sovai fetch` will make one)
    except CaptureError as err:
        raise record.error(str(err), key=str(source_id), column="capture_file",
                           value=name) from None
    if name is not None:
        raise record.error("capture_file not found, and raw/ has no capture of the source",
                           key=str(source_id), column="capture_file", value=name)
    raise record.error(f"no capture in raw/{source_id}/, and neither a capture_file nor a url "
                       f"to make one", key=str(source_id))


def _load_sidecar(sidecar_path: Path) -> Capture:
    try:
        data = json.loads(sidecar_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise CaptureError(f"{sidecar_path}: unreadable capture metadata: {err}") from err
    if not isinstance(data, dict) or data.get("sha256") != sidecar_path.stem \
            or not re.fullmatch(r"[0-9a-f]{64}", sidecar_path.stem):
        raise CaptureError(f"{sidecar_path}: its sha256 is not the content address in its name")
    body = sidecar_path.with_name(capture_name(data["sha256"], data.get("media_type", "")))
    if body.is_symlink() or not body.is_file():
        raise CaptureError(f"{sidecar_path}: the captured file {body.name} is missing (or a "
                           f"symlink)")
    return Capture(**data, path=body)


def _find(folder: Path, digest: str) -> Capture | None:
    sidecar_path = folder / f"{digest}.json"
    return _load_sidecar(sidecar_path) if sidecar_path.is_file() else None


def list_captures(raw_dir: Path, source_id: str) -> list[Capture]:
    """Every capture of a source, oldest first."""
    folder = source_folder(raw_dir, source_id)
    if not folder.is_dir():
        return []
    captures = [_load_sidecar(p) for p in folder.glob("*.json")]
    return sorted(captures, key=lambda c: (c.captured_at, c.sha256))


def latest_capture(raw_dir: Path, source_id: str) -> Capture | None:
    captures = list_captures(raw_dir, source_id)
    return captures[-1] if captures else None


def verify_capture(capture: Capture) -> None:
    """Raise if the stored bytes no longer match their recorded sha256 (raw/ is immutable)."""
    data = capture.read_bytes()
    if sha256_hex(data) != capture.sha256 or len(data) != capture.bytes:
        raise CaptureError(
            f"{capture.path}: stored bytes do not match the recorded sha256 {capture.sha256}"
        )
