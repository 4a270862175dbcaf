"""Run every suite as one Great Expectations Checkpoint over the staged files, and build
Data Docs whatever the outcome."""

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
    """Validate staged/<suite>.parquet with each suite, as one Checkpoint."""
    import great_expectations as gx
    import pandas as pd

    chosen = only if only is not None else suites()
    from great_expectations.data_context.types.base import ProgressBarsConfig

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
    definitions = []
    for s in chosen:
        asset = source.add_parquet_asset(s.name)
        batch = asset.add_batch_definition_path(s.name, path=s.file)
        suite = context.suites.add(gx.ExpectationSuite(name=s.name))
        for e in s.expectations:
            suite.add_expectation(e)
        definitions.append(
            context.validation_definitions.add(
                gx.ValidationDefinition(name=s.name, data=batch, suite=suite)
            )
        )
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name="worktape_night",
            validation_definitions=definitions,
            actions=[gx.checkpoint.UpdateDataDocsAction(name="docs", site_names=[SITE])],
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5},
        )
    )
    result = checkpoint.run()

    by_name = {s.name: s for s in chosen}
    out = GateResult(success=bool(result.success), evaluated=0)
    for vr in result.run_results.values():
        suite_name = vr.suite_name
        s = by_name[suite_name]
        passed = 0
        for r in vr.results:
            out.evaluated += 1
            if r.success:
                passed += 1
                continue
            cfg = r.expectation_config
            res = r.result or {}
            out.failures.append(
                Failure(
                    suite=suite_name,
                    gate=s.gate,
                    expectation=cfg.type,
                    kwargs={k: v for k, v in cfg.kwargs.items() if v is not None},
                    unexpected_count=int(res.get("unexpected_count") or 0),
                    examples=_examples(staged / s.file, s, cfg.kwargs, pd),
                )
            )
        out.per_suite[suite_name] = (passed, len(vr.results))
    index = docs_dir / "index.html"
    out.data_docs = index if index.exists() else None
    return out


def _examples(path: Path, s: Suite, kwargs: dict[str, Any], pd: Any) -> list[dict[str, Any]]:
    """A few failing rows, with the suite's id column, for the failure message."""
    df = pd.read_parquet(path)
    cols = [c for c in (kwargs.get("column"), kwargs.get("column_A"), kwargs.get("column_B")) if c]
    cols += list(kwargs.get("column_list") or [])
    if not cols:
        return []
    mask = pd.Series(False, index=df.index)
    col = kwargs.get("column")
    if "value_set" in kwargs and col:
        mask = df[col].notna() & ~df[col].isin(kwargs["value_set"])
    elif col and ("min_value" in kwargs or "max_value" in kwargs):
        v = df[col]
        lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
        if lo is not None:
            mask |= (v <= lo) if kwargs.get("strict_min") else (v < lo)
        if hi is not None:
            mask |= (v >= hi) if kwargs.get("strict_max") else (v > hi)
    elif kwargs.get("column_A"):
        mask = df[kwargs["column_A"]] != df[kwargs["column_B"]]
    elif col and "ToBeNull" in type(kwargs).__name__:
        mask = df[col].notna()
    elif col:
        mask = df[col].notna() if col == "finding" else df[col].duplicated(keep=False)
    keep = [s.id_column, *[c for c in cols if c != s.id_column]]
    keep += [s.examples[c] for c in cols if c in s.examples]
    keep = list(dict.fromkeys(keep))
    if "masked" in df.columns:
        keep += ["table", "column", "masked"]
    return df.loc[mask, [c for c in keep if c in df.columns]].head(5).to_dict("records")
