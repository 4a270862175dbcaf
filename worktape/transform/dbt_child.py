"""One dbt process for all of a night's batches: `python -m worktape.transform.dbt_child`.

A night that loaded a backfill builds it a few days at a time
(`worktape.transform.dbt.build`). Each `dbt build` as its own process paid about 14 s
before its first model: importing dbt (4-5 s) and parsing the project again (7-13 s:
a new `days` var defeats partial parsing). Here dbt is imported once, the project
parsed once, and every batch runs with that manifest through dbt's programmatic API
(`dbtRunner`); `days` is applied when each node is compiled. It is still a child of
the task, so that DuckDB's single writer and dbt's memory end with it.

Input, as JSON on argv[1]: {"project": dir, "batches": [[day, ...], ...],
"full_refresh_first": bool}. Output: one JSON line per batch on stdout, prefixed
`BATCH `; the exit status is 1 at the first batch that fails (its errors are printed).
"""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from dbt.contracts.graph.manifest import Manifest

PREFIX = "BATCH "


def _failures(result: Any) -> list[str]:
    out = []
    for r in getattr(result, "results", None) or []:
        status = str(getattr(r, "status", ""))
        if status in ("error", "fail", "runtime error"):
            out.append(f"{r.node.unique_id}: {status}: {(r.message or '').strip()[:2000]}")
    return out


def run(project: str, batches: list[list[str]], full_refresh_first: bool) -> int:
    from dbt.cli.main import dbtRunner

    common = ["--project-dir", project, "--profiles-dir", project]
    # parsed with a batch's days, so that refs made only when days are given (the
    # in_work_dates macro) are in the manifest
    first = json.dumps({"days": batches[0] if batches else []})
    parsed = dbtRunner().invoke(["parse", *common, "--vars", first])
    if not parsed.success:
        print(f"dbt parse failed: {parsed.exception}", file=sys.stderr)
        return 1
    runner = dbtRunner(manifest=cast("Manifest", parsed.result))
    for i, days in enumerate(batches):
        args = ["build", *common, "--vars", json.dumps({"days": days})]
        if full_refresh_first and i == 0:
            args.append("--full-refresh")
        started = time.perf_counter()
        res = runner.invoke(args)
        failures = _failures(res.result)
        ok = res.success and not failures
        summary = {
            "days": days,
            "seconds": round(time.perf_counter() - started, 1),
            "ok": ok,
            "failures": failures,
            "error": None if res.exception is None else str(res.exception),
        }
        print(PREFIX + json.dumps(summary), flush=True)
        if not ok:
            return 1
    return 0


def main() -> int:
    spec = json.loads(sys.argv[1])
    return run(spec["project"], spec["batches"], bool(spec.get("full_refresh_first")))


if __name__ == "__main__":
    sys.exit(main())
