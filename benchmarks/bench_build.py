"""Per-stage timings and peak memory of a build at several scales, on synthetic projects.

    uv run python benchmarks/bench_build.py [--scales 10000,100000,1000000] [--repeat 3]
        [--cap 900] [--processes] [--json FILE] [--keep DIR]

For each scale (claim rows of the release built), benchmarks/synthetic.py writes a project with
two draft releases; the first (90 % of the pages) is built once, untimed, by the plain stages, so
that the second has a release to diff against. Then each run, in a fresh subprocess, builds the
second release by the plain stages the Dagster assets call (pipeline/stages.py,
pipeline/validation/validate.py, pipeline/publishing/reproduce.py's PreparedRelease and
publish_prepared) and times
each stage:

  load curated, capture (raw/ emptied first), extract, normalize, resolve, validate (pandera,
  foreign keys, claim coverage, quotes, shared IDs), stats, publish (writing the folder, which
  includes its diff and CHANGES.md), then diff and CHANGES.md again on their own over the
  folders just written, and the site (`sovai site`'s build_site over both releases).

Peak memory is the process's resident high-water mark during the stage (VmHWM, reset before
each stage through /proc/self/clear_refs), so it includes what earlier stages still hold.
A run is killed after --cap seconds; the stages it finished are kept and the rest are reported
as "not finished in N s". The table prints the median over runs and the ratio to the previous
scale (time growing 10-fold for 10 times the claims is linear).

--processes also times whole processes with /usr/bin/time -v (wall time and max RSS):
`sovai check`, `sovai build --release <second>` (the first copied in beforehand),
`sovai --help`, `sovai diff --help`, `sovai build` of a copy of this checkout whose releases are
all sealed, and `python -c "import dagster, pandas, pandera, pyarrow"`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

STAGES = ["load curated", "capture", "extract", "normalize", "resolve", "validate: pandera",
          "validate: foreign keys", "validate: claim coverage", "validate: quotes",
          "validate: shared ids", "stats", "publish (incl. diff, CHANGES.md)", "diff",
          "CHANGES.md", "site"]


# --- in the child: one run of the stages ---------------------------------------------------------


def _reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_rss_mib() -> float:
    """This process's resident high-water mark (since the last reset), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _timed(name: str, fn: Callable[[], Any]) -> Any:
    _reset_peak()
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    print(json.dumps({"stage": name, "seconds": seconds, "peak_mib": peak_rss_mib()}),
          flush=True)
    return result


def build_first_release(root: Path, releases_dir: Path) -> Path:
    """Build the first declared release by the plain stages into releases_dir (untimed)."""
    from pipeline import stages
    from pipeline.paths import ProjectPaths
    from pipeline.publishing.reproduce import prepare_release, publish_prepared

    paths = ProjectPaths(root)
    first = stages.load_project(paths)[2][0]
    return publish_prepared(prepare_release(paths, first), releases_dir)


def run_stages(root: Path, previous: Path | None, skip_site: bool = False) -> None:
    """One timed run over the second release: each stage prints a JSON line when it ends.
    previous None: publish the second release as if it were the first (no diff to compute)."""
    import dataclasses

    from pipeline import stages
    from pipeline.paths import ProjectPaths
    from pipeline.publishing.changes_md import render_changes_md
    from pipeline.publishing.diff import diff_release_dirs, reconcile_counts
    from pipeline.publishing.publish import refresh_release_index
    from pipeline.publishing.reproduce import PreparedRelease, publish_prepared
    from pipeline.site.build import build_site
    from pipeline.site.config import load_publication
    from pipeline.validation import validate

    paths = ProjectPaths(root)
    shutil.rmtree(paths.raw, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix="sovai-bench-run-"))
    try:
        releases_dir = work / "releases"
        releases_dir.mkdir()
        if previous is not None:
            shutil.copytree(previous, releases_dir / previous.name)
        curated, schemas, releases = _timed("load curated", lambda: stages.load_project(paths))
        release = releases[-1]
        if previous is None:
            release = dataclasses.replace(release, previous=None)
        captures = _timed("capture", lambda: stages.capture_sources(paths, curated).captures)
        mentions = _timed("extract", lambda: stages.mentions_for(
            stages.release_captures(captures, curated, release)))
        tables = _timed("normalize", lambda: stages.normalize(paths, curated, captures,
                                                              release.date))
        resolution = _timed("resolve", lambda: stages.resolve(paths, curated, mentions, tables))
        texts = stages.source_texts(tables, captures)
        t = tables.tables
        problems = _timed("validate: pandera", lambda: [
            m for name, frame in t.items() for m in validate.check_schema(schemas[name], frame)])
        problems += _timed("validate: foreign keys",
                           lambda: validate.check_foreign_keys(t, schemas))
        problems += _timed("validate: claim coverage",
                           lambda: validate.check_claim_coverage(t, schemas))
        problems += _timed("validate: quotes", lambda: validate.check_quotes(t["claims"], texts))
        shared = _timed("validate: shared ids", lambda: validate.shared_ids(t, schemas))
        if problems or shared:
            raise SystemExit("validation failed: " + "; ".join(problems[:5]))
        stats = _timed("stats", lambda: stages.release_stats(tables, resolution.unresolved,
                                                             texts))
        prepared = PreparedRelease(dataclasses.replace(release, status="draft"), t, schemas,
                                   stats, load_publication(paths.curated),
                                   [dict(r) for r in curated.redirects])
        folder = _timed("publish (incl. diff, CHANGES.md)",
                        lambda: publish_prepared(prepared, releases_dir))
        if previous is None:
            print(json.dumps({"done": True, "claims": len(t["claims"]), "no_previous": True}),
                  flush=True)
            return
        keys = {name: schemas[name].primary_key for name in t}
        old = releases_dir / previous.name
        changes = _timed("diff", lambda: diff_release_dirs(old, folder, primary_keys=keys,
                                                           redirects=prepared.redirects))

        def notes() -> str:
            counts = reconcile_counts(changes, old, folder)
            return render_changes_md(changes, folder, old_label=old.name, new_label=folder.name,
                                     counts=counts, old_dir=old, stats=stats, schemas=schemas)

        _timed("CHANGES.md", notes)
        if not skip_site:
            def site() -> Path:
                refresh_release_index(releases_dir, paths.raw,
                                      {old.name: "draft", folder.name: "draft"})
                return build_site(releases_dir, work / "site", prepared.publication)

            _timed("site", site)
        print(json.dumps({"done": True, "claims": len(t["claims"]),
                          "entities": sum(len(t[n]) for n in ("organizations", "model_families",
                                                              "models", "projects")),
                          "changes": len(changes)}), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- in the parent ------------------------------------------------------------------------------


def _load() -> str:
    return Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() \
        else "?"


def _child(args: list[str], cap: float) -> tuple[list[dict], str | None]:
    """Run this script as a child; return its JSON lines and None, or what stopped it."""
    lines: list[dict] = []
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([sys.executable, __file__, *args], stdout=out, stderr=err,
                                cwd=ROOT, start_new_session=True)
        try:
            proc.wait(timeout=cap)
            problem = None if proc.returncode == 0 else f"exit {proc.returncode}"
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
            problem = f"not finished in {cap:.0f} s"
        out.seek(0)
        err.seek(0)
        for line in out.read().splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        if problem and problem.startswith("exit"):
            last = (err.read().strip().splitlines() or [""])[-1]
            problem += f": {last[:300]}"
    return lines, problem


def _timev(cmd: list[str], cap: float, cwd: Path = ROOT) -> dict:
    """Wall time and max RSS of a whole process (GNU time -v), or what stopped it."""
    timer = shutil.which("time") or "/usr/bin/time"
    start = time.perf_counter()
    try:
        out = subprocess.run([timer, "-v", *cmd], capture_output=True, text=True, cwd=cwd,
                             timeout=cap, start_new_session=True)
    except subprocess.TimeoutExpired:
        return {"cmd": " ".join(cmd), "problem": f"not finished in {cap:.0f} s", "load": _load()}
    wall = time.perf_counter() - start
    rss = next((int(line.split(":")[1]) / 1024 for line in out.stderr.splitlines()
                if "Maximum resident set size" in line), float("nan"))
    tail = (out.stdout.strip().splitlines() or [""])[-1][:200]
    return {"cmd": " ".join(cmd), "seconds": wall, "peak_mib": rss, "rc": out.returncode,
            "tail": tail, "load": _load()}


def bench_scale(claims: int, repeat: int, cap: float, keep: Path | None, processes: bool,
                skip_site: bool, diff_max: int) -> dict:
    from synthetic import generate_project

    base = keep or Path(tempfile.mkdtemp(prefix="sovai-bench-build-"))
    root = base / f"project-{claims}"
    shutil.rmtree(root, ignore_errors=True)
    result: dict[str, Any] = {"claims_target": claims, "load_start": _load(), "runs": [],
                              "problems": []}
    start = time.perf_counter()
    shape = generate_project(root, claims)
    result["generate_seconds"] = time.perf_counter() - start
    result["shape"] = shape.as_dict()
    print(f"\n== {claims:,} claims: {shape.models:,} models, {shape.pages} pages, generated in "
          f"{result['generate_seconds']:.1f} s (load {_load()})", flush=True)
    first_dir = base / f"first-{claims}"
    shutil.rmtree(first_dir, ignore_errors=True)
    previous: Path | None = None
    if claims <= diff_max:
        start = time.perf_counter()
        lines, problem = _child(["--first", str(root), str(first_dir)], cap)
        result["first_release_seconds"] = time.perf_counter() - start
        if problem:
            result["problems"].append(f"first release: {problem}")
            print(f"   first release: {problem}", flush=True)
        else:
            previous = next(first_dir.iterdir())
            print(f"   first release built in {result['first_release_seconds']:.1f} s",
                  flush=True)
    if previous is None:
        result["problems"].append("no previous release: diff, CHANGES.md and site not run")
        print("   no previous release: the runs stop after publish", flush=True)
    for number in range(repeat):
        args = ["--run", str(root), str(previous or "-")] + (["--skip-site"] if skip_site
                                                             else [])
        lines, problem = _child(args, cap)
        run = {"stages": {x["stage"]: x for x in lines if "stage" in x}, "problem": problem,
               "load": _load(), **next((x for x in lines if x.get("done")), {})}
        result["runs"].append(run)
        total = sum(s["seconds"] for s in run["stages"].values())
        print(f"   run {number + 1}: {total:.1f} s over {len(run['stages'])} stages"
              f"{' (' + problem + ')' if problem else ''}, load {run['load']}", flush=True)
        if problem:
            break  # a run that hit the cap would hit it again
    if processes and previous is not None:
        out = base / f"out-{claims}"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        shutil.copytree(previous, out / previous.name)
        sovai = [str(Path(sys.executable).parent / "sovai")]
        second = shape.releases[-1]
        result["process_check"] = _timev([*sovai, "--root", str(root), "check"], cap)
        result["process_build"] = _timev([*sovai, "--root", str(root), "build", "--release",
                                          second, "--out", str(out)], cap)
        for name in ("process_check", "process_build"):
            p = result[name]
            print(f"   {name}: " + (p.get("problem") or f"{p['seconds']:.1f} s, "
                                    f"{p['peak_mib']:.0f} MiB, rc {p['rc']}"), flush=True)
    if keep is None:
        shutil.rmtree(base, ignore_errors=True)
    return result


def _summarise(runs: dict[str, list[dict]]) -> dict:
    """Per command: the median wall time of its interleaved runs, each run, the peak memory,
    exit codes and loads."""
    return {name: {"median_seconds": statistics.median(r["seconds"] for r in rs),
                   "runs": [round(r["seconds"], 3) for r in rs],
                   "peak_mib": max(r["peak_mib"] for r in rs),
                   "rc": [r["rc"] for r in rs], "loads": [r["load"] for r in rs]}
            for name, rs in runs.items()}


def bench_startup(repeat: int) -> dict:
    """Whole-process wall time of the CLI's help, a sealed-only build and the bare imports."""
    sovai = str(Path(sys.executable).parent / "sovai")
    sealed = Path(tempfile.mkdtemp(prefix="sovai-bench-sealed-"))
    try:
        for name in ("curated", "schemas", "raw", "releases"):
            shutil.copytree(ROOT / name, sealed / name, symlinks=True)
        shutil.copy(ROOT / "workspace.yaml", sealed / "workspace.yaml")
        commands = {
            "sovai --help": [sovai, "--help"],
            "sovai diff --help": [sovai, "diff", "--help"],
            "sovai build (every release sealed)": [sovai, "--root", str(sealed), "build"],
            "import dagster, pandas, pandera, pyarrow":
                [sys.executable, "-c", "import dagster, pandas, pandera, pyarrow"],
        }
        runs: dict[str, list[dict]] = {k: [] for k in commands}
        for _ in range(repeat):  # interleaved, so that each sees the same load
            for name, cmd in commands.items():
                runs[name].append(_timev(cmd, 300))
    finally:
        shutil.rmtree(sealed, ignore_errors=True)
    return _summarise(runs)


def bench_diff_process(rows: int, repeat: int) -> dict:
    """Whole `sovai diff` process on a synthetic pair (1 % added, 1 % removed, 2 % changed, no
    renames: the CLI takes redirects from the project) against a process that only reads both
    files with pyarrow, interleaved."""
    from synthetic import generate_release_pair

    folder = Path(tempfile.mkdtemp(prefix="sovai-bench-pair-"))
    try:
        pair = generate_release_pair(folder, rows, added=rows // 100, removed=rows // 100,
                                     changed=rows // 50, renamed=0)
        sovai = str(Path(sys.executable).parent / "sovai")
        read = ("import sys, pyarrow.parquet as pq; "
                "[pq.read_table(p) for p in sys.argv[1:]]")
        files = [str(d / f"{pair.table}.parquet") for d in (pair.old, pair.new)]
        commands = {"sovai diff OLD NEW": [sovai, "diff", str(pair.old), str(pair.new)],
                    "python: pyarrow reads both files": [sys.executable, "-c", read, *files]}
        runs: dict[str, list[dict]] = {k: [] for k in commands}
        for _ in range(repeat):
            for name, cmd in commands.items():
                runs[name].append(_timev(cmd, 600))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return _summarise(runs)


def _median(result: dict, stage: str) -> tuple[float | None, float | None, str | None]:
    done = [r["stages"][stage] for r in result.get("runs", []) if stage in r["stages"]]
    if not done:
        problem = next((r["problem"] for r in result.get("runs", []) if r["problem"]), None)
        return None, None, problem or (result["problems"][0] if result.get("problems")
                                       else "not run")
    return (statistics.median(d["seconds"] for d in done), max(d["peak_mib"] for d in done),
            None)


def print_table(results: list[dict]) -> None:
    header = "| stage | " + " | ".join(
        f"{r['claims_target']:,} claims: s (MiB) | ratio" for r in results) + " |"
    print("\n" + header)
    print("|---|" + "---|---|" * len(results))
    for stage in STAGES:
        cells, previous = [], None
        for r in results:
            seconds, peak, problem = _median(r, stage)
            if seconds is None:
                cells += [problem or "", ""]
                previous = None
                continue
            ratio = f"×{seconds / previous:.1f}" if previous else ""
            cells += [f"{seconds:.2f} ({peak:.0f})", ratio]
            previous = seconds
        print(f"| {stage} | " + " | ".join(cells) + " |")
    for name, label in (("process_check", "`sovai check` (whole process, 2 releases)"),
                        ("process_build", "`sovai build --release` second (whole process)")):
        cells, previous = [], None
        for r in results:
            p = r.get(name)
            if not p or "seconds" not in p:
                cells += [(p or {}).get("problem", "not run"), ""]
                previous = None
                continue
            ratio = f"×{p['seconds'] / previous:.1f}" if previous else ""
            cells += [f"{p['seconds']:.1f} ({p['peak_mib']:.0f}) rc {p['rc']}, load {p['load']}",
                      ratio]
            previous = p["seconds"]
        print(f"| {label} | " + " | ".join(cells) + " |")
    loads = [", ".join(str(run["load"]) for run in r.get("runs", [])) for r in results]
    print("| load (1-min average) after each run | " + " | ".join(f"{x} | " for x in loads)
          + "|")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cap", type=float, default=900, help="seconds per run")
    parser.add_argument("--processes", action="store_true",
                        help="also time whole sovai check/build processes and start-up")
    parser.add_argument("--skip-site", action="store_true")
    parser.add_argument("--diff-max", type=int, default=100_000,
                        help="above this many claims, build no first release (no diff)")
    parser.add_argument("--json", type=Path, help="write every measurement here")
    parser.add_argument("--keep", type=Path, help="generate into (and keep) this folder")
    parser.add_argument("--diff-rows", type=int, metavar="N",
                        help="only time whole `sovai diff` processes on an N-row pair")
    parser.add_argument("--table", nargs="+", type=Path, metavar="JSON",
                        help="only print the table of earlier --json files (scales merged)")
    parser.add_argument("--first", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--run", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.diff_rows:
        for name, r in bench_diff_process(args.diff_rows, max(3, args.repeat)).items():
            print(f"{name}: {r['median_seconds']:.2f} s (runs {r['runs']}, "
                  f"{r['peak_mib']:.0f} MiB, rc {r['rc']}, load {r['loads']})")
        return 0
    if args.table:
        merged = [r for path in args.table for r in json.loads(path.read_text())["scales"]]
        print_table(sorted(merged, key=lambda r: r["claims_target"]))
        return 0
    if args.first:
        build_first_release(Path(args.first[0]), Path(args.first[1]))
        return 0
    if args.run:
        run_stages(Path(args.run[0]), None if args.run[1] == "-" else Path(args.run[1]),
                   skip_site=args.skip_site)
        return 0

    info = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "nproc": os.cpu_count(),
            "python": sys.version.split()[0],
            "mem_total": Path("/proc/meminfo").read_text().splitlines()[0].split(":")[1].strip(),
            "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()}
    print(json.dumps(info))
    results = []
    for scale in (int(s) for s in args.scales.split(",")):
        results.append(bench_scale(scale, args.repeat, args.cap, args.keep, args.processes,
                                   args.skip_site, args.diff_max))
        print_table(results)
        if args.json:
            args.json.write_text(json.dumps({"machine": info, "scales": results}, indent=1))
    startup = bench_startup(max(3, args.repeat)) if args.processes else {}
    for name, s in startup.items():
        print(f"{name}: {s['median_seconds']:.2f} s (runs {s['runs']}, {s['peak_mib']:.0f} MiB, "
              f"rc {s['rc']}, load {s['loads']})")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "scales": results,
                                         "startup": startup}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
