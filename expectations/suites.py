"""What the night's data must satisfy before anything is published.

Three gates, each a set of suites over files staged from the warehouse:
- raw: the night's raw events (types, known kinds, coordinates on the screen, time
  order per device);
- marts: what is published (positive durations, a step for every action, no frame from
  after its action or from before its episode, coordinates in [0, 1], no duplicate
  episodes, workflow counts that add up);
- privacy: no e-mail, card (Luhn), phone or token in any text of a publishable table,
  and no window the agent's denylist covers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import great_expectations.expectations as gxe

from worktape.bundle.schema import EVENT_KINDS

# a step's frame_before may be the screen as the episode began: taken at most this long
# before the episode's first action
FRAME_GRACE_S = 60.0


@dataclass(frozen=True)
class Suite:
    name: str  # also the staged file's stem
    gate: str  # raw | marts | privacy
    id_column: str  # reported with failing rows
    expectations: list[Any] = field(default_factory=list)

    @property
    def file(self) -> str:
        return f"{self.name}.parquet"


def suites(frame_grace_s: float = FRAME_GRACE_S) -> list[Suite]:
    def between(column: str, lo: float | None = None, hi: float | None = None, **kw: Any) -> Any:
        return gxe.ExpectColumnValuesToBeBetween(column=column, min_value=lo, max_value=hi, **kw)

    return [
        Suite(
            "raw_events",
            "raw",
            "event_id",
            [
                gxe.ExpectColumnValuesToNotBeNull(column="event_id"),
                gxe.ExpectColumnValuesToBeUnique(column="event_id"),
                gxe.ExpectColumnValuesToBeInSet(column="kind", value_set=list(EVENT_KINDS)),
                # types: GX 1.24 cannot type-check pandas 3 string and timestamp columns
                # (it reports "str" and "Timestamp" against any list); the raw tables'
                # DDL types them, and the numbers are checked here
                gxe.ExpectColumnValuesToNotBeNull(column="ts"),
                gxe.ExpectColumnValuesToBeInTypeList(column="x_on_screen", type_list=["float64"]),
                gxe.ExpectColumnValuesToBeInTypeList(column="ts_step_s", type_list=["float64"]),
                # pointer positions on the monitor they name: 0 is its left/top edge, 1
                # its right/bottom edge
                between("x_on_screen", 0, 1),
                between("y_on_screen", 0, 1),
                # within a device, in bundle and seq order, time never runs backwards
                between("ts_step_s", 0),
            ],
        ),
        Suite(
            "gate_episodes",
            "marts",
            "episode_id",
            [
                gxe.ExpectColumnValuesToBeUnique(column="episode_id"),
                gxe.ExpectCompoundColumnsToBeUnique(column_list=["device_id", "started_at"]),
                # one action has no extent; two or more take time
                between("duration_s", 0),
                between("multi_action_duration_s", 0, strict_min=True),
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
                # ...nor from before its episode (beyond the screen it began on)
                between("frame_before_age_in_episode_s", hi=frame_grace_s),
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
    ]
