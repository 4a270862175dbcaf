"""`make corpus`: record the corpus (what is not cached yet), run a night on it and score
the episodes and workflows against the drivers' ground truth.

    python -m bench.corpus [all|record|night|evaluate] [--dir DIR] [--minutes M]
        [--contributors ana,ben,chloe] [--seed N]

The recordings stay under DIR (default $WORKTAPE_HOME/corpus): the bucket the agents
uploaded to, with the truth next to the bundles, one `recorded.json` per contributor,
and the night's warehouse. A contributor is recorded again only when the corpus scripts
or the requested length changed."""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.corpus import record as R
from bench.corpus.scripts import QUERIES, SCRIPTS
from worktape.evaluate import ProcedureScore

SOURCES = Path(__file__).parent
_NOT_RECORDED = ("__main__.py", "scripts.py")


def sources_digest(minutes: float, seed: int) -> str:
    h = hashlib.sha256(f"{minutes}:{seed}".encode())
    for path in sorted(SOURCES.rglob("*")):
        # what the drivers do and the apps show; not the scoring (scripts.py, this file)
        if path.suffix in (".py", ".js", ".html") and path.name not in _NOT_RECORDED:
            h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()[:16]


def _paths(root: Path) -> tuple[Path, Path]:
    return root / "bucket", root / "warehouse" / "worktape.duckdb"


def cmd_record(args: argparse.Namespace) -> list[R.Recording]:
    root: Path = args.dir
    bucket, _ = _paths(root)
    names = args.contributors.split(",")
    recs: dict[str, R.Recording] = {}
    todo = []
    for i, name in enumerate(names):
        digest = sources_digest(args.minutes, args.seed + i)
        rec = R.load(root / name / "recorded.json")
        if rec and rec.digest == digest:
            recs[name] = rec
        else:
            todo.append((name, args.seed + i, digest))
    if todo:
        print(f"recording {', '.join(n for n, _, _ in todo)} for {args.minutes:g} min each")
        _forget(bucket, [n for n, _, _ in todo], root)
        procs = []
        for name, seed, digest in todo:
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "bench.corpus",
                        "record-one",
                        *("--dir", str(root), "--minutes", str(args.minutes)),
                        *("--contributors", name, "--seed", str(seed), "--digest", digest),
                    ]
                )
            )
            time.sleep(3)  # one browser starting at a time: they are slow to start together
        failed = [name for (name, _, _), p in zip(todo, procs, strict=True) if p.wait() != 0]
        if failed:
            raise SystemExit(f"corpus: recording failed for {', '.join(failed)}")
        for name, _, _ in todo:
            rec = R.load(root / name / "recorded.json")
            assert rec is not None
            recs[name] = rec
    else:
        print("corpus: every contributor is recorded and cached")
    for name in names:
        r = recs[name]
        print(
            f"  {name}: {r.active_minutes:.1f} active min of {r.minutes:.1f}, {r.tasks} tasks, "
            f"{r.episodes} episodes of truth ({r.started} to {r.ended})"
        )
    total = sum(r.active_minutes for r in recs.values())
    print(f"  in all: {total:.1f} min of recorded activity")
    return [recs[n] for n in names]


def _forget(bucket: Path, names: list[str], root: Path) -> None:
    """Drops what earlier recordings of these contributors left in the bucket."""
    from worktape.core.storage import open_storage

    storage = open_storage(bucket)
    for name in names:
        rec = R.load(root / name / "recorded.json")
        if rec:
            for info in list(storage.list("")):
                if f"device={rec.device_id}/" in info.key:
                    storage.delete(info.key)


def cmd_record_one(args: argparse.Namespace) -> None:
    root: Path = args.dir
    bucket, _ = _paths(root)
    bucket.mkdir(parents=True, exist_ok=True)
    name = args.contributors
    rec = R.record(name, args.minutes, root / name, str(bucket), args.seed, args.digest)
    R.save(rec, root / name / "recorded.json")


def _env(root: Path) -> dict[str, str]:
    bucket, warehouse = _paths(root)
    return {
        **os.environ,
        "WORKTAPE_STORAGE_URL": str(bucket),
        "WORKTAPE_WAREHOUSE": str(warehouse),
        "WORKTAPE_HOME": str(root / "home"),
        "WORKTAPE_ANALYST_DB": str(root / "home" / "published.duckdb"),
    }


def _worktape() -> str:
    return str(Path(sys.executable).with_name("worktape"))


def cmd_night(args: argparse.Namespace) -> None:
    root: Path = args.dir
    recs = [R.load(root / n / "recorded.json") for n in args.contributors.split(",")]
    if not all(recs):
        raise SystemExit("corpus: not recorded yet: run `make corpus` (or this with `record`)")
    days = sorted({d for r in recs if r for d in R.recorded_days(r)})
    _, warehouse = _paths(root)
    for stale in warehouse.parent.glob("worktape.duckdb*"):
        stale.unlink()
    first, last = days[0], days[-1]
    print(f"night over {first} to {last}")
    done = subprocess.run(
        [_worktape(), "pipeline", "run", "--date", str(first), "--to", str(last)],
        env=_env(root),
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit("corpus: the night failed")


def cmd_evaluate(args: argparse.Namespace) -> None:
    bucket, warehouse = _paths(args.dir)
    done = subprocess.run(
        [_worktape(), "evaluate", "--truth", str(bucket), "--warehouse", str(warehouse)],
        env=_env(args.dir),
    )
    if done.returncode != 0:
        raise SystemExit("corpus: evaluate failed")
    print("procedures against the drivers' scripts (alignment score; search rank by plain words):")
    print(f"{'workflow':18} {'score':>5} {'opt ok':>6} {'rank':>4}  query")
    for r in procedure_report(args.dir):
        print(
            f"{r.score.workflow:18} {r.score.score:5.3f} {r.score.optional_as_optional!s:>6} "
            f"{r.search_rank if r.search_rank is not None else '-':>4}  {r.query!r}"
        )


@dataclass(frozen=True)
class ProcedureRow:
    score: ProcedureScore
    query: str
    search_rank: int | None  # of the workflow's procedure among the procedure hits, 1-based


def procedure_report(root: Path) -> list[ProcedureRow]:
    """Per scripted workflow: its procedure's alignment with the script, and where
    `worktape search` ranks it for plain words that are not its title (in the analyst
    file the night published)."""
    from worktape.core.storage import open_storage
    from worktape.evaluate import load_truth, procedure_scores
    from worktape.publish.search import search

    bucket, warehouse = _paths(root)
    scores = procedure_scores(warehouse, load_truth(open_storage(bucket)), SCRIPTS)
    analyst = Path(_env(root)["WORKTAPE_ANALYST_DB"])
    out = []
    for s in scores:
        query = QUERIES[s.workflow]
        hits = [h for h in search(analyst, query).hits if h.kind == "procedure"]
        ids = [h.procedure_id for h in hits]
        rank = ids.index(s.procedure_id) + 1 if s.procedure_id in ids else None
        out.append(ProcedureRow(s, query, rank))
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.corpus", description=__doc__.split("\n")[0])
    p.add_argument(
        "command",
        nargs="?",
        default="all",
        choices=["all", "record", "night", "evaluate", "score", "record-one"],
    )
    home = Path(os.environ.get("WORKTAPE_HOME", "state"))
    p.add_argument("--dir", type=Path, default=home / "corpus")
    p.add_argument("--minutes", type=float, default=22.0, help="per contributor")
    p.add_argument("--contributors", default=",".join(R.CONTRIBUTORS))
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--digest", default="", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.dir = args.dir.resolve()
    t0 = time.monotonic()
    if args.command == "record-one":
        cmd_record_one(args)
        return
    if args.command == "score":  # make evaluate: the corpus's scores if it is recorded
        if not all(R.load(args.dir / n / "recorded.json") for n in args.contributors.split(",")):
            print(f"corpus: not recorded under {args.dir}; `make corpus` records it (~25 min)")
            return
        args.command = "night+evaluate"
    if args.command == "night+evaluate":
        print(f"source: recorded corpus ({args.dir})")
    if args.command in ("all", "record"):
        recs = cmd_record(args)
        print(
            f"recorded in {time.monotonic() - t0:.0f} s: {[asdict(r)['contributor'] for r in recs]}"
        )
    if args.command in ("all", "night", "night+evaluate"):
        t1 = time.monotonic()
        cmd_night(args)
        print(f"night in {time.monotonic() - t1:.0f} s")
    if args.command in ("all", "evaluate", "night+evaluate"):
        cmd_evaluate(args)
    print(f"corpus: {time.monotonic() - t0:.0f} s in all")


if __name__ == "__main__":
    main()
