"""`worktape`: the one command line in front of everything a person runs."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import urlparse

from worktape import __version__

if TYPE_CHECKING:
    from worktape.settings import Settings


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    raise AssertionError


def _settings() -> Settings:
    """The server's settings, read when a command starts (a laptop install, which runs
    only `worktape agent` and has no pydantic, never gets here)."""
    from worktape.settings import Settings

    return Settings()


def _bundle_sources(paths: Sequence[str]) -> Iterator[tuple[str, object]]:
    """(label, opener) for every bundle named: files, folders (recursively, *.tar) and
    storage URLs (every .tar key under the prefix)."""
    from worktape.core.storage import open_storage

    for p in paths:
        if urlparse(p).scheme == "s3":
            parsed = urlparse(p)
            storage = open_storage(f"s3://{parsed.netloc}")
            prefix = parsed.path.lstrip("/")
            for info in storage.list(prefix):
                if info.key.endswith(".tar"):
                    yield f"s3://{parsed.netloc}/{info.key}", (storage, info.key)
            continue
        path = Path(p)
        if path.is_dir():
            for f in sorted(path.rglob("*.tar")):
                yield str(f), f
        else:
            yield str(path), path


def cmd_bundle_verify(args: argparse.Namespace) -> int:
    from worktape.core.bundle import BundleError, Limits, read_bundle

    limits = Limits(max_bytes=args.max_bytes) if args.max_bytes else Limits()
    failed = total = 0
    for label, src in _bundle_sources(args.paths):
        total += 1
        try:
            if isinstance(src, tuple):
                storage, key = src
                with storage.open(key) as body:
                    b = read_bundle(body, limits=limits)
            else:
                b = read_bundle(src, limits=limits)
        except BundleError as e:
            failed += 1
            print(f"{label}: {e.reason.value}: {e.message}")
        except OSError as e:
            failed += 1
            print(f"{label}: unreadable: {e}")
        else:
            if not args.quiet:
                print(f"{label}: ok ({b.events.num_rows} events, {b.screenshots.num_rows} frames)")
    if total == 0:
        print("no bundles found", file=sys.stderr)
        return 1
    if args.quiet or failed:
        print(f"{total - failed} ok, {failed} failed")
    return 1 if failed else 0


def cmd_bundle_show(args: argparse.Namespace) -> int:
    import pyarrow.compute as pc

    from worktape.core.bundle import BundleError, read_bundle

    try:
        b = read_bundle(args.path)
    except BundleError as e:
        print(f"{args.path}: {e.reason.value}: {e.message}", file=sys.stderr)
        return 1
    print(json.dumps(b.manifest, indent=2, sort_keys=True))
    kinds = pc.value_counts(b.events["kind"]).to_pylist()
    print(f"\nevents: {b.events.num_rows}")
    for kv in sorted(kinds, key=lambda kv: -kv["counts"]):
        print(f"  {kv['values']:<13} {kv['counts']}")
    print(f"screenshots: {b.screenshots.num_rows}")
    print(f"bytes: {b.bytes}  sha256: {b.sha256}")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from worktape.simulate import progress_bar, simulate

    args.out = args.out or _settings().storage_url
    res = simulate(
        args.out,
        contributors=args.contributors,
        days=args.days,
        seed=args.seed,
        frames=args.frames,
        start=args.start,
        jobs=args.jobs,
        hours=args.hours,
        progress=None if args.quiet else progress_bar("simulating"),
    )
    print(
        f"simulated {args.contributors} contributor(s) x {args.days} day(s) into {args.out}: "
        f"{res.bundles} bundles ({res.skipped} already there), {res.events:,} events, "
        f"{res.frames:,} frames, {_human(res.bytes)}, {res.episodes:,} episodes of ground truth"
    )
    return 0


def cmd_pipeline_run(args: argparse.Namespace) -> int:
    from worktape.pipeline.runner import bundles_on, preflight, run_night
    from worktape.pipeline.summary import print_night

    settings = _settings()
    day, last = args.date, args.to or args.date
    if last < day:
        raise ValueError("--to is before --date")
    preflight(settings)
    failed = False
    while day <= last:
        results = run_night(day, settings=settings)
        for r in results:
            print_night(r, settings)
            failed |= not r.ok
        if not failed and len(results) == 2 and not bundles_on(day, settings):
            # nothing was loaded, nothing rebuilt, nothing published: say why
            if day == last == args.date:
                print(
                    f"worktape: error: no bundles for {day} in the bucket "
                    f"({_storage_url(settings)}): nothing to do; is the date right?",
                    file=sys.stderr,
                )
                return 1
            print(f"  no bundles for {day}: nothing to do")
        if failed:
            print(
                f"worktape: error: the night of {day} failed (see above); rerun it with "
                f"worktape pipeline run --date {day}",
                file=sys.stderr,
            )
            break
        day += timedelta(days=1)
    return 1 if failed else 0


def _storage_url(settings: Settings) -> str:
    from worktape.pipeline import resources

    return resources.storage(settings).url


def cmd_evaluate(args: argparse.Namespace) -> int:
    from worktape.core.storage import open_storage
    from worktape.evaluate import by_workflow, evaluate, load_truth, report, report_by_workflow

    settings = _settings()
    warehouse = settings.warehouse_settings(Path(args.warehouse) if args.warehouse else None)
    if not warehouse.path.exists():
        raise RuntimeError(f"no warehouse at {warehouse.path}: run a night first")
    storage = open_storage(args.truth or settings.storage_url)
    print(f"source: {storage.url}")
    print(report(*evaluate(warehouse, storage, args.tolerance)))
    print(report_by_workflow(by_workflow(warehouse, load_truth(storage), args.tolerance)))
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    import duckdb

    from worktape.publish.analyst import query

    settings = _settings()
    path = Path(args.db) if args.db else settings.analyst_db
    if not path.exists():
        raise RuntimeError(f"no analyst file at {path}: has a night been published?")
    try:
        cols, rows = query(args.sql, path, settings.warehouse_settings())
    except duckdb.Error as e:
        if "read-only" in str(e):
            raise RuntimeError(
                "the analyst file is read-only: worktape query runs queries, not changes"
            ) from e
        raise RuntimeError(f"query failed: {one_line(e)}") from e
    if cols:
        widths = [
            max(len(c), *(len(str(r[i])) for r in rows[:200])) if rows else len(c)
            for i, c in enumerate(cols)
        ]
        widths = [min(w, 60) for w in widths]
        print("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
        for r in rows[: args.limit]:
            print("  ".join(str(v)[:60].ljust(w) for v, w in zip(r, widths, strict=True)))
        if len(rows) > args.limit:
            print(f"... {len(rows) - args.limit} more row(s)")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from worktape.publish.search import search

    settings = _settings()
    path = Path(args.db) if args.db else settings.analyst_db
    if not path.exists():
        raise RuntimeError(f"no analyst file at {path}: has a night been published?")
    if not args.text.strip():
        raise ValueError('search for some words, e.g. worktape search "expense report"')
    if args.limit < 0:
        raise ValueError("--limit is a number of episodes, 0 or more")
    try:
        base = _storage_url(settings)  # links as the nightly report makes them
    except Exception:  # no storage to name: the links stay relative to the version
        base = None
    result = search(
        path, args.text, limit=args.limit, base_url=base, settings=settings.warehouse_settings()
    )
    if args.json:
        hits = [asdict(h) for h in result.hits]
        print(
            json.dumps({"query": result.query, "version": result.version, "hits": hits}, indent=2)
        )
        return 0
    if not result.hits:
        print(f"no hits for {args.text!r} in version {result.version or '?'}")
        return 0
    for heading, hits in (("procedures", result.procedures), ("episodes", result.episodes)):
        if not hits:
            continue
        print(f"{heading}:")
        for i, h in enumerate(hits, 1):
            score = f"score {h.score:.2f}" if h.score is not None else "of the top procedure"
            detail = f" ({h.detail})" if h.detail else ""
            print(f"  {i}. {h.title}{detail}  [{score}]")
            if h.href:
                print(f"     {h.href}")
            elif h.kind == "episode":
                print(f"     no viewer page (episode {h.episode_id})")
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    from worktape.pipeline.tasks import forget_contributor

    if not args.yes:
        print(
            f"this erases contributor {args.contributor_id} from the bucket, the warehouse and "
            "every published version; rerun with --yes to go ahead",
            file=sys.stderr,
        )
        return 1
    r = forget_contributor(args.contributor_id, _settings())
    print(
        f"erasure {r['erasure_id']}: {r['bundles']} bundle(s), {r['bucket_objects']} "
        f"bucket object(s), {r['warehouse_rows']:,} warehouse row(s), {r['frame_shards']} "
        f"frame shard(s) removed; {len(r['versions_rewritten'])} version(s) rewritten; "
        "later uploads of theirs will be refused"
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from worktape.pipeline import resources
    from worktape.publish.formats.export import export_version, open_target

    r = export_version(
        resources.storage(_settings()), args.format, open_target(args.out), args.version
    )
    print(
        f"exported version {r.version} as {r.format} to {r.url}: {r.files} file(s), "
        f"{_human(r.bytes)}"
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from worktape.demo import run_demo

    return run_demo(_settings(), contributors=args.contributors, seed=args.seed)


class _Parser(argparse.ArgumentParser):
    """Bad arguments are one line, naming the command's --help (argparse's default
    prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def one_line(e: BaseException) -> str:
    """An exception as one line a person can act on."""
    text = " ".join(str(e).split()) or type(e).__name__
    try:
        from botocore.exceptions import ConnectionError as S3ConnectionError
        from botocore.exceptions import NoCredentialsError
    except ImportError:  # pragma: no cover - a laptop install without boto3
        return text
    if isinstance(e, S3ConnectionError):
        return f"cannot reach the bucket: {text}"
    if isinstance(e, NoCredentialsError):
        return f"no S3 credentials: {text} (AWS_* variables or ~/.aws/credentials)"
    return text


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="worktape", description=__doc__)
    p.add_argument("--version", action="version", version=f"worktape {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    bundle = sub.add_parser("bundle", help="verify and inspect capture bundles")
    bsub = bundle.add_subparsers(dest="bundle_command", required=True, metavar="SUBCOMMAND")
    v = bsub.add_parser("verify", help="check bundles against the format-1 contract")
    v.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="bundle files, folders of them, or s3://bucket/prefix",
    )
    v.add_argument("--max-bytes", type=int, default=0, help="reject bundles larger than this")
    v.add_argument("-q", "--quiet", action="store_true", help="print failures and a total only")
    v.set_defaults(func=cmd_bundle_verify)
    s = bsub.add_parser("show", help="print a bundle's manifest and counts")
    s.add_argument("path", metavar="PATH")
    s.set_defaults(func=cmd_bundle_show)

    sim = sub.add_parser("simulate", help="write a simulated team's workdays as real bundles")
    sim.add_argument("--contributors", type=int, default=3, metavar="N")
    sim.add_argument("--days", type=int, default=1, metavar="D", help="workdays (Mon-Fri)")
    sim.add_argument("--seed", type=int, default=0, metavar="S")
    sim.add_argument(
        "--out",
        default=None,
        metavar="URL",
        help="storage: a folder or s3://bucket/prefix (default: WORKTAPE_STORAGE_URL, else "
        "$WORKTAPE_HOME/bucket)",
    )
    sim.add_argument("--frames", choices=("none", "tiny", "real"), default="real")
    sim.add_argument(
        "--start",
        type=date.fromisoformat,
        default=date(2026, 11, 2),
        metavar="YYYY-MM-DD",
        help="first day (default: %(default)s)",
    )
    sim.add_argument(
        "--hours", type=float, default=None, help="length of each workday (default: about 8)"
    )
    sim.add_argument("--jobs", type=int, default=None, help="processes (default: all cores)")
    sim.add_argument("-q", "--quiet", action="store_true")
    sim.set_defaults(func=cmd_simulate)

    pipe = sub.add_parser("pipeline", help="run the nightly pipeline locally (Airflow dag.test)")
    psub = pipe.add_subparsers(dest="pipeline_command", required=True, metavar="SUBCOMMAND")
    run = psub.add_parser("run", help="run the night of a day (and backfill a range)")
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    run.add_argument(
        "--date",
        type=date.fromisoformat,
        default=yesterday,
        metavar="YYYY-MM-DD",
        help="the UTC day whose bundles to process (default: yesterday)",
    )
    run.add_argument(
        "--to",
        type=date.fromisoformat,
        default=None,
        metavar="YYYY-MM-DD",
        help="backfill every night from --date to this day, in order",
    )
    run.set_defaults(func=cmd_pipeline_run)

    ev = sub.add_parser("evaluate", help="score episodes against the simulator's ground truth")
    ev.add_argument(
        "--truth",
        default=None,
        metavar="URL",
        help="the storage the simulator wrote to (default: WORKTAPE_STORAGE_URL, else "
        "$WORKTAPE_HOME/bucket)",
    )
    ev.add_argument("--warehouse", default=None, help="the DuckDB file (default: settings)")
    ev.add_argument("--tolerance", type=float, default=3.0, help="seconds (default: 3)")
    ev.set_defaults(func=cmd_evaluate)

    q = sub.add_parser("query", help="run SQL on the analyst file (read-only)")
    q.add_argument("sql", metavar="SQL")
    q.add_argument("--db", default=None, help="the analyst file (default: published.duckdb)")
    q.add_argument("--limit", type=int, default=50, help="rows to print (default: 50)")
    q.set_defaults(func=cmd_query)

    se = sub.add_parser(
        "search", help="find procedures and episodes by what they do (the analyst file)"
    )
    se.add_argument("text", metavar="WORDS", help='what to look for, e.g. "expense report"')
    se.add_argument("--limit", type=int, default=5, help="episodes to show (default: 5)")
    se.add_argument("--json", action="store_true", help="print the hits as JSON")
    se.add_argument("--db", default=None, help="the analyst file (default: published.duckdb)")
    se.set_defaults(func=cmd_search)

    fg = sub.add_parser(
        "forget", help="erase a contributor from the bucket, warehouse and published versions"
    )
    fg.add_argument("contributor_id", metavar="CONTRIBUTOR_ID")
    fg.add_argument("--yes", action="store_true", help="go ahead without asking")
    fg.set_defaults(func=cmd_forget)

    ex = sub.add_parser(
        "export", help="write a published version as Hugging Face Parquet, WebDataset or JSONL"
    )
    ex.add_argument(
        "--format",
        required=True,
        choices=("hf", "wds", "agentnet"),
        help="hf: Parquet with images embedded; wds: WebDataset tars; agentnet: "
        "episodes.jsonl and its frame shards",
    )
    ex.add_argument(
        "--out", required=True, metavar="DIR", help="an empty folder, or s3://bucket/prefix"
    )
    ex.add_argument(
        "--version", default=None, metavar="V", help="the published version (default: LATEST)"
    )
    ex.set_defaults(func=cmd_export)

    _add_plugin_commands(sub)

    demo = sub.add_parser("demo", help="run the main job end to end on embedded defaults")
    demo.add_argument("--contributors", type=int, default=3)
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(func=cmd_demo)
    return p


def _add_plugin_commands(sub: argparse._SubParsersAction) -> None:
    """Commands other parts add through the `worktape.commands` entry points: the laptop's
    `worktape agent` (capture_agent), so that the server side never imports it."""
    from importlib.metadata import entry_points

    for ep in sorted(entry_points(group="worktape.commands"), key=lambda e: e.name):
        ep.load()(sub)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        # a person gets one line; WORKTAPE_DEBUG=1 shows the traceback. Read here, not
        # from Settings: this front also runs `worktape agent` on laptops without pydantic
        if os.environ.get("WORKTAPE_DEBUG"):
            raise
        print(f"worktape: error: {one_line(e)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
