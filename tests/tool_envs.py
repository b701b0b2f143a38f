"""Virtual environments for the standard validators (frictionless, mlcroissant, cffconvert),
for a researcher's bare loader install and for datacompy (benchmarks/bench_diff.py compares
`sovai diff` with it), each from its own pinned, hashed requirements file in tests/tools/ so
their pins never touch the project's lockfile.

An environment is built once per requirements file (keyed by its sha256) under
$SOVAI_TOOL_ENVS or the user's cache folder, and reused by later test runs. Regenerate a
requirements file with the command written at its top."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

TOOLS = Path(__file__).resolve().parent / "tools"


def _envs_root() -> Path:
    if os.environ.get("SOVAI_TOOL_ENVS"):
        return Path(os.environ["SOVAI_TOOL_ENVS"])
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "sovai-tool-envs"


def tool_env(name: str) -> Path:
    """The bin/ folder of a virtual environment with exactly tests/tools/<name>.txt installed."""
    requirements = TOOLS / f"{name}.txt"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:16]
    env = _envs_root() / f"{name}-{digest}"
    stamp = env / ".installed"
    if not stamp.is_file():
        shutil.rmtree(env, ignore_errors=True)
        env.parent.mkdir(parents=True, exist_ok=True)
        uv = [sys.executable, "-m", "uv"]
        subprocess.run([*uv, "venv", "--quiet", "--python", sys.executable, str(env)],
                       check=True, timeout=300)
        subprocess.run([*uv, "pip", "install", "--quiet", "--require-hashes", "--compile-bytecode",
                        "--python",
                        str(env / "bin" / "python"), "-r", str(requirements)],
                       check=True, timeout=900)
        stamp.write_text(digest + "\n", encoding="utf-8")
    return env / "bin"
