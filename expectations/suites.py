"""What the night's data must satisfy before anything is published.

Three gates, each a set of suites over files staged from the warehouse
(`worktape/publish/stage.py`):
- raw: the night's raw events, one row per bundle (known kinds, coordinates on the
  screen, time order within a bundle and across a device's bundles, unique ids): a rule
  for every event is a rule for its bundle's extremes and counts;
- marts: what the night rebuilt (positive durations, a step for every action, no frame
  from after its action or from before its episode, coordinates in [0, 1], no duplicate
  episodes, workflow counts that add up);
- privacy: no e-mail, card (Luhn), phone or token in any text of a publishable table,
  no window the agent's denylist covers, and no row of an erased contributor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import great_expectations.expectations as gxe

# a step's frame_before is taken at most this long before its action (dbt's var
# frame_max_age_s: the agent stores no frame while the screen is unchanged, so the
# screen before an action can be an older frame, up to this bound)
FRAME_MAX_AGE_S = 600.0


@dataclass(frozen=True)
class Suite:
    name: str  # also the staged file's stem
    gate: str  # raw | marts | privacy
    id_column: str  # reported with failing rows
    expectations: list[Any] = field(default_factory=list)
    # a checked column -> the column naming an example of what broke it (an event id)
    examples: dict[str, str] = field(default_factory=dict)

    @property
    def file(self) -> str:
        return f"{self.name}.parquet"


def suites(frame_max_age_s: float = FRAME_MAX_AGE_S) -> list[Suite]:
    def between(column: str, lo: float | None = None, hi: float | None = None, **kw: Any) -> Any:
        return gxe.ExpectColumnValuesToBeBetween(column=column, min_value=lo, max_value=hi, **kw)

    return [
        Suite(
            "raw_bundles",
            "raw",
            "bundle_id",
            [
                gxe.ExpectColumnValuesToNotBeNull(column="bundle_id"),
                gxe.ExpectColumnValuesToBeUnique(column="bundle_id"),
                # every event id once, every kind known, every event timed
                between("duplicate_event_ids", 0, 0),
                between("unknown_kinds", 0, 0),
                between("null_ts", 0, 0),
                gxe.ExpectColumnValuesToBeInTypeList(
                    column="min_x_on_screen", type_list=["float64"]
                ),
                # pointer positions on the monitor they name: 0 is its left/top edge, 1
                # its right/bottom edge
                between("min_x_on_screen", 0, 1),
                between("max_x_on_screen", 0, 1),
                between("min_y_on_screen", 0, 1),
                between("max_y_on_screen", 0, 1),
                # in seq order time never runs backwards, nor from a device's bundle to
                # its next
                between("min_ts_step_s", 0),
                between("gap_after_previous_bundle_s", 0),
            ],
            examples={
                "unknown_kinds": "unknown_kind_example",
                "min_x_on_screen": "off_screen_example",
                "max_x_on_screen": "off_screen_example",
                "min_y_on_screen": "off_screen_example",
                "max_y_on_screen": "off_screen_example",
                "min_ts_step_s": "backwards_example",
            },
        ),
        Suite(
            "gate_episodes",
            "marts",
            "episode_id",
            [
                gxe.ExpectColumnValuesToBeUnique(column="episode_id"),
                gxe.ExpectCompoundColumnsToBeUnique(column_list=["device_id", "started_at"]),
                # never negative. Two or more actions may take no time at all: clocks
                # are coarse (Windows stamps input at about 15.6 ms) and a burst of
                # input can share one instant, which is valid data, not a fault
                between("duration_s", 0),
                between("step_count", 1),
                gxe.ExpectColumnPairValuesToBeEqual(column_A="step_count", column_B="action_count"),
            ],
        ),
        Suite(
            "gate_steps",
            "marts",
            "step_id",
            [
                gxe.ExpectColumnValuesToBeUnique(column="step_id"),
                # the frame before a step is never from after the action starts...
                between("frame_before_lead_s", hi=0),
                # ...nor older than the bound a frame is trusted for
                between("frame_before_age_s", hi=frame_max_age_s),
                between("frame_after_lag_s", lo=0),
                between("x_norm", 0, 1),
                between("y_norm", 0, 1),
                between("end_x_norm", 0, 1),
                between("end_y_norm", 0, 1),
            ],
        ),
        Suite(
            "gate_workflows",
            "marts",
            "workflow_id",
            [
                gxe.ExpectColumnValuesToBeUnique(column="workflow_id"),
                gxe.ExpectColumnValuesToNotBeNull(column="workflow_name"),
                between("instance_count", 1),
                gxe.ExpectColumnPairValuesToBeEqual(
                    column_A="instance_count", column_B="counted_instances"
                ),
            ],
        ),
        Suite(
            "gate_texts",
            "privacy",
            "ref",
            [
                # `finding` is the first rule of worktape's secret scanner (the agent's,
                # Luhn check included) that matches the text; it must find nothing
                gxe.ExpectColumnValuesToBeNull(column="finding"),
            ],
        ),
        Suite(
            "gate_windows",
            "privacy",
            "ref",
            [gxe.ExpectColumnValuesToBeInSet(column="is_denylisted", value_set=[False])],
        ),
        Suite(
            "gate_frames",
            "privacy",
            "ref",
            # the text read in a sample of the frames published for the first time
            # (worktape/publish/frame_check.py) breaks no rule
            [gxe.ExpectColumnValuesToBeNull(column="finding")],
        ),
        Suite(
            "gate_erased",
            "privacy",
            "ref",
            # no row of a contributor whose tombstone says they were erased
            [between("erased_rows", 0, 0)],
        ),
    ]
