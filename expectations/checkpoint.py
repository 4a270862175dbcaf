"""Run every suite over the staged files, one Great Expectations Checkpoint a suite in one
run, and build Data Docs whatever the outcome."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from expectations.suites import Suite, suites

log = logging.getLogger(__name__)
SITE = "worktape_gate"


@dataclass
class Failure:
    suite: str
    gate: str
    expectation: str
    kwargs: dict[str, Any]
    unexpected_count: int
    examples: list[dict[str, Any]]

    def describe(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.kwargs.items() if k not in ("batch_id",))
        rows = "; ".join(str(e) for e in self.examples[:5])
        return (
            f"[{self.gate}] {self.suite}: {self.expectation}({args}) failed on "
            f"{self.unexpected_count} row(s), e.g. {rows}"
        )


@dataclass
class GateResult:
    success: bool
    evaluated: int
    failures: list[Failure] = field(default_factory=list)
    data_docs: Path | None = None
    per_suite: dict[str, tuple[int, int]] = field(default_factory=dict)  # passed, total

    def message(self) -> str:
        if self.success:
            return f"quality gate passed: {self.evaluated} expectations"
        lines = [f"quality gate failed: {len(self.failures)} of {self.evaluated} expectations"]
        lines += ["  " + f.describe() for f in self.failures]
        if self.data_docs:
            lines.append(f"  Data Docs: {self.data_docs}")
        return "\n".join(lines)


def run_gate(staged: Path, docs_dir: Path, only: list[Suite] | None = None) -> GateResult:
    """Validate staged/<suite>.parquet with each suite, one Checkpoint a suite in one run
    (GX asks for the failing rows' id columns per Checkpoint, and each suite has its own),
    and build Data Docs whatever the outcome."""
    from datetime import UTC, datetime

    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig

    chosen = only if only is not None else suites()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    docs_dir.mkdir(parents=True, exist_ok=True)
    context.add_data_docs_site(
        site_name=SITE,
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(docs_dir),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    source = context.data_sources.add_pandas_filesystem("staged", base_directory=staged)
    run_id = RunIdentifier(run_name="worktape_night", run_time=datetime.now(UTC))
    out = GateResult(success=True, evaluated=0)
    for s in chosen:
        asset = source.add_parquet_asset(s.name)
        batch = asset.add_batch_definition_path(s.name, path=s.file)
        suite = context.suites.add(gx.ExpectationSuite(name=s.name))
        for e in s.expectations:
            suite.add_expectation(e)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=s.name, data=batch, suite=suite)
        )
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=f"worktape_night_{s.name}",
                validation_definitions=[definition],
                actions=[gx.checkpoint.UpdateDataDocsAction(name="docs", site_names=[SITE])],
                result_format={
                    "result_format": "SUMMARY",
                    "partial_unexpected_count": 5,
                    "unexpected_index_column_names": _id_columns(staged / s.file, s),
                },
            )
        )
        result = checkpoint.run(run_id=run_id)
        out.success = out.success and bool(result.success)
        for vr in result.run_results.values():
            passed = 0
            for r in vr.results:
                out.evaluated += 1
                if r.success:
                    passed += 1
                    continue
                cfg = r.expectation_config
                assert cfg is not None  # a checkpoint's results carry their expectation
                res = r.result or {}
                out.failures.append(
                    Failure(
                        suite=s.name,
                        gate=s.gate,
                        expectation=cfg.type,
                        kwargs={k: v for k, v in cfg.kwargs.items() if v is not None},
                        unexpected_count=int(res.get("unexpected_count") or 0),
                        examples=list(res.get("partial_unexpected_index_list") or [])[:5],
                    )
                )
            out.per_suite[s.name] = (passed, len(vr.results))
    index = docs_dir / "index.html"
    out.data_docs = index if index.exists() else None
    return out


def _id_columns(path: Path, s: Suite) -> list[str]:
    """The columns GX reports with each failing row, besides the checked ones: the
    suite's id column, the columns naming an example (an event id), and for a privacy
    finding where it was (table, column, the masked text; never the text itself)."""
    import pyarrow.parquet as pq

    present = set(pq.read_schema(path).names)
    keep = [s.id_column, *s.examples.values()]
    if "masked" in present:
        keep += ["table", "column", "masked"]
    return [c for c in dict.fromkeys(keep) if c in present]
