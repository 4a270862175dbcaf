"""`worktape agent ...`: what a contributor runs on their laptop."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from capture_agent import config as C

CONSENT_TEXT = f"""\
worktape capture agent — what it records (policy {C.POLICY_VERSION})

While recording, on this laptop:
  * screenshots of the monitor you are using: just before each click, typed run or
    shortcut, when the focused window changes, and every 30 s if the screen changed;
  * mouse moves (thinned), clicks, scrolls, and the keys you press;
  * the name of the focused app and its window title; when you are idle.
Before anything leaves this laptop:
  * e-mail addresses, card numbers, phone numbers, passwords and API keys you type are
    removed (the keys are recorded as "redacted"), and scrubbed from window titles;
  * password managers, banking sites and private/incognito windows are never recorded,
    only a gap; add your own with `worktape agent exclude PATTERN`.
You stay in control:
  * `worktape agent pause [--for 30m]` / `resume`, or the hotkey Ctrl+Alt+P;
  * `worktape agent status` shows whether it is recording;
  * your ids are pseudonymous (salted hashes), and you can ask for everything recorded
    about you to be erased.
"""


def _cfg(args: argparse.Namespace) -> tuple[C.AgentConfig, Path]:
    path = Path(args.config).expanduser() if args.config else C.config_path()
    return C.load(path), path


def _duration(text: str) -> timedelta:
    m = re.fullmatch(r"(\d+)\s*([smhd])", text.strip())
    if not m:
        raise argparse.ArgumentTypeError("use a duration like 30s, 30m, 2h or 1d")
    n, unit = int(m[1]), m[2]
    return timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[unit]: n})


def cmd_consent(args: argparse.Namespace) -> int:
    cfg, path = _cfg(args)
    if args.withdraw:
        cfg.consent = C.Consent()
        C.save(cfg, path)
        print(
            "Consent withdrawn: the agent will not record. Bundles already sealed stay in "
            "the spool until you delete them."
        )
        return 0
    print(CONSENT_TEXT)
    if not args.yes:
        if not sys.stdin.isatty():
            print("Run it in a terminal to answer, or pass --yes.", file=sys.stderr)
            return 2
        if input("Type 'yes' to opt in: ").strip().lower() != "yes":
            print("Not recorded. Nothing will be captured.")
            return 1
    cfg.consent = C.Consent(C.POLICY_VERSION, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    cfg.ensure_identity()
    C.save(cfg, path)
    print(f"Consent recorded ({C.POLICY_VERSION}). Config: {path}")
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    try:
        from capture_agent.agent import AgentError, run_foreground
    except ModuleNotFoundError as e:
        # a server install has the command but not the recorder's packages
        print(
            f"worktape agent: {e.name} is not installed; the agent needs the laptop install: "
            "pip install 'worktape[agent]'",
            file=sys.stderr,
        )
        return 2

    _, path = _cfg(args)
    try:
        run_foreground(path, duration=args.duration)
    except AgentError as e:
        print(f"worktape agent: {e}", file=sys.stderr)
        return 2
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from capture_agent.agent import status_path
    from capture_agent.spool import pending, spool_bytes

    cfg, path = _cfg(args)
    status: dict[str, object] = {}
    with contextlib.suppress(OSError, ValueError):
        status = json.loads(status_path(cfg).read_text())
    running = False
    pid = status.get("pid")
    if isinstance(pid, int) and status.get("state") != "stopped":
        try:
            os.kill(pid, 0)
            running = True
        except OSError:
            pass
    state = status.get("state") if running else "not running"
    if not cfg.has_consent:
        state = "no consent (run `worktape agent consent`)"
    elif cfg.paused():
        until = cfg.paused_until
        state = f"paused{'' if until == 'forever' else ' until ' + until}"
    spool = cfg.spool_path
    print(f"state:        {state}")
    print(
        f"spool:        {len(pending(spool))} bundle(s), {spool_bytes(spool) / 2**20:.1f} MiB "
        f"(quota {cfg.spool.quota_mb} MiB) in {spool}"
    )
    print(f"last upload:  {status.get('last_upload_at') or 'never'}")
    if status.get("last_upload_error"):
        print(f"upload error: {status['last_upload_error']}")
    print(f"uploads to:   {cfg.upload.storage_url or '(not configured: bundles stay local)'}")
    print(f"config:       {path}")
    return 0


def cmd_pause(args: argparse.Namespace) -> int:
    cfg, path = _cfg(args)
    cfg.paused_until = (
        "forever"
        if args.for_ is None
        else (datetime.now(UTC) + args.for_).isoformat(timespec="seconds")
    )
    C.save(cfg, path)
    print(
        "Paused"
        + ("" if args.for_ is None else f" until {cfg.paused_until}")
        + ". Nothing is recorded; `worktape agent resume` to continue."
    )
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    cfg, path = _cfg(args)
    cfg.paused_until = ""
    C.save(cfg, path)
    print("Resumed.")
    return 0


def cmd_exclude(args: argparse.Namespace) -> int:
    cfg, path = _cfg(args)
    if args.pattern not in cfg.privacy.excluded:
        cfg.privacy.excluded.append(args.pattern)
        C.save(cfg, path)
    print(f"Windows whose app or title contains {args.pattern!r} are no longer recorded.")
    return 0


def cmd_flush(args: argparse.Namespace) -> int:
    from capture_agent import courier
    from capture_agent.agent import flush_request_path

    cfg, path = _cfg(args)
    cfg.data_path.mkdir(parents=True, exist_ok=True)
    flush_request_path(cfg).touch()
    print("Asked the running agent to seal the current bundle and upload now.")
    # and what already waits, here and now (the agent may not be running): the courier
    # takes a lock, so it never runs beside the agent's own
    courier.run(path)
    report = courier.Report.read(cfg.data_path / courier.REPORT)
    if report is not None and (report.sealed or report.uploaded or report.error):
        print(
            f"Sealed {report.sealed} and uploaded {report.uploaded} waiting bundle(s)"
            + (f"; error: {report.error}" if report.error else ".")
        )
    return 0


def cmd_configure(args: argparse.Namespace) -> int:
    cfg, path = _cfg(args)
    if args.storage_url is not None:
        cfg.upload.storage_url = args.storage_url
    if args.endpoint_url is not None:
        cfg.upload.endpoint_url = args.endpoint_url
    if args.spool_quota_mb is not None:
        cfg.spool.quota_mb = args.spool_quota_mb
    if args.data_dir is not None:
        cfg.data_dir = args.data_dir
    C.save(cfg, path)
    print(C.dumps(cfg).split("[identity]")[0].rstrip())
    return 0


def add_agent_parser(sub: argparse._SubParsersAction) -> None:
    agent = sub.add_parser("agent", help="the capture agent on this laptop")
    agent.add_argument("--config", default=None, help=f"config file (default: {C.config_path()})")
    asub = agent.add_subparsers(dest="agent_command", required=True, metavar="SUBCOMMAND")
    c = asub.add_parser("consent", help="see what is captured and opt in (or --withdraw)")
    c.add_argument("--yes", action="store_true", help="opt in without the prompt")
    c.add_argument("--withdraw", action="store_true")
    c.set_defaults(func=cmd_consent)
    s = asub.add_parser("start", help="record in the foreground (systemd/launchd run this)")
    s.add_argument("--duration", type=float, default=None, help="stop after N seconds")
    s.set_defaults(func=cmd_start)
    asub.add_parser("status", help="recording or paused, spool, last upload").set_defaults(
        func=cmd_status
    )
    p = asub.add_parser("pause", help="stop recording (for a while)")
    p.add_argument(
        "--for",
        dest="for_",
        type=_duration,
        default=None,
        metavar="DURATION",
        help="e.g. 30m, 2h; without it, until `resume`",
    )
    p.set_defaults(func=cmd_pause)
    asub.add_parser("resume", help="record again").set_defaults(func=cmd_resume)
    e = asub.add_parser("exclude", help="never record apps or titles containing PATTERN")
    e.add_argument("pattern", metavar="APP_OR_TITLE_PATTERN")
    e.set_defaults(func=cmd_exclude)
    asub.add_parser("flush", help="seal the current bundle and upload now").set_defaults(
        func=cmd_flush
    )
    g = asub.add_parser("configure", help="where bundles go, spool quota, data dir")
    g.add_argument("--storage-url", default=None, help="s3://bucket/prefix or a folder")
    g.add_argument("--endpoint-url", default=None, help="an S3-compatible server")
    g.add_argument("--spool-quota-mb", type=int, default=None)
    g.add_argument("--data-dir", default=None)
    g.set_defaults(func=cmd_configure)
