"""Each recurring workflow's newest instances as procedure units, aligned to the usual
path (worktape.procedures, tested there), and the path itself. procedure_steps and
procedures summarise it; it is not published.

Rows with `is_path_step` are the path: one per canonical step, with its share of
instances and whether it is optional, its text and what it acted on from the newest
instance that has it. The other rows are the instances' units, each with the path step
it matched (`path_index`, null for a step of its own) and how long it took (until the
next unit, the last until its episode ended).

Only workflows whose sample of instances changed are aligned again: a workflow whose
`fingerprint` (its id, its sampled episodes and the method's source) is the one this
table already holds keeps its rows."""

import hashlib
from pathlib import Path

import pyarrow as pa


def model(dbt, session):
    dbt.config(materialized="table")
    from worktape import procedures
    from worktape.procedures import (
        MAX_INSTANCES,
        Step,
        align,
        named_keys,
        shown_name,
        unit_text,
        units,
        usual_path,
    )

    # named views of the refs for the SQL below
    dbt.ref("workflows").create_view("procedure_workflows")
    dbt.ref("workflow_instances").create_view("procedure_instances")
    dbt.ref("steps").create_view("procedure_steps_in")
    sampled = session.sql(
        f"""
        select i.workflow_id, i.episode_id, i.ended_at
        from procedure_instances as i
        semi join (select workflow_id from procedure_workflows where is_recurring)
            using (workflow_id)
        qualify row_number() over (
            partition by i.workflow_id order by i.started_at desc, i.episode_id desc
        ) <= {MAX_INSTANCES}
        """
    ).fetchall()
    per_workflow: dict[str, list[tuple[str, object]]] = {}
    for workflow_id, episode_id, ended_at in sampled:
        per_workflow.setdefault(workflow_id, []).append((episode_id, ended_at))
    # the method's own source is part of it: a new method aligns every workflow again
    method = Path(procedures.__file__).read_bytes()
    fingerprints = {
        w: hashlib.sha256(method + "\n".join([w, *sorted(e for e, _ in eps)]).encode()).hexdigest()[
            :16
        ]
        for w, eps in per_workflow.items()
    }

    columns = [
        "workflow_id",
        "fingerprint",
        "is_path_step",
        "episode_id",
        "unit_index",
        "path_index",
        "unit_key",
        "verb",
        "step_text",
        "element_role",
        "element_name",
        "keys",
        "app",
        "page",
        "first_step_id",
        "started_at",
        "duration_s",
        "path_share",
        "is_optional",
    ]
    kept: list[dict] = []
    try:
        previous = session.sql(f"select * from {dbt.this}")
        if set(columns) <= set(previous.columns):
            rows = previous.fetchall()
            names = previous.columns
            kept = [
                r
                for r in (dict(zip(names, row, strict=True)) for row in rows)
                if fingerprints.get(r["workflow_id"]) == r["fingerprint"]
            ]
    except Exception:  # the first build has no table to reuse
        kept = []
    reused = {r["workflow_id"] for r in kept}
    todo = sorted(w for w in per_workflow if w not in reused)

    out: list[dict] = list(kept)
    if todo:
        wanted = pa.table(
            {
                "workflow_id": [w for w in todo for _ in per_workflow[w]],
                "episode_id": [e for w in todo for e, _ in per_workflow[w]],
            }
        )
        session.register("procedure_wanted", wanted)
        rows = session.sql(
            """
            select w.workflow_id, s.episode_id, s.step_id, s.started_at, s.action_type,
                   s.action_code, s.element_role, s.element_name, s.app, s.window_title
            from procedure_steps_in as s inner join procedure_wanted as w using (episode_id)
            order by w.workflow_id, s.episode_id, s.step_index
            """
        ).fetchall()
        by_episode: dict[tuple[str, str], list[Step]] = {}
        for workflow_id, episode_id, *step in rows:
            by_episode.setdefault((workflow_id, episode_id), []).append(Step(*step))
        for w in todo:
            eps = sorted(per_workflow[w], key=lambda e: e[0])
            inst = {e: units(by_episode.get((w, e), [])) for e, _ in eps}
            named = dict(
                zip(
                    [e for e, _ in eps],
                    named_keys([[u.key for u in inst[e]] for e, _ in eps]),
                    strict=True,
                )
            )
            path = usual_path([named[e] for e, _ in eps])
            keys = [p.key for p in path]
            base = {"workflow_id": w, "fingerprint": fingerprints[w]}
            first_unit: dict[int, object] = {}
            for e, ended_at in eps:
                aligned = align(keys, inst[e], named[e])
                for i, a in enumerate(aligned):
                    u = a.unit
                    nxt = aligned[i + 1].unit.started_at if i + 1 < len(aligned) else ended_at
                    duration = max(0.0, (nxt - u.started_at).total_seconds()) if nxt else None
                    out.append(
                        {
                            **base,
                            "is_path_step": False,
                            "episode_id": e,
                            "unit_index": i + 1,
                            "path_index": None if a.path_index is None else a.path_index + 1,
                            "unit_key": named[e][i],
                            "verb": u.verb,
                            "step_text": u.text,
                            "element_role": u.element_role,
                            "element_name": u.element_name,
                            "keys": u.keys,
                            "app": u.app,
                            "page": u.page,
                            "first_step_id": u.step_id,
                            "started_at": u.started_at,
                            "duration_s": duration,
                            "path_share": None,
                            "is_optional": None,
                        }
                    )
                    if a.path_index is not None:
                        seen = first_unit.get(a.path_index)
                        # the newest instance's unit that names what the step acted
                        # on tells the step's words
                        rank = (u.key == keys[a.path_index], u.started_at, u.step_id)
                        if seen is None or rank > (
                            seen.key == keys[a.path_index],
                            seen.started_at,
                            seen.step_id,
                        ):
                            first_unit[a.path_index] = u
            for k, p in enumerate(path):
                u = first_unit.get(k)
                out.append(
                    {
                        **base,
                        "is_path_step": True,
                        "episode_id": None,
                        "unit_index": None,
                        "path_index": k + 1,
                        "unit_key": p.key,
                        "verb": p.key.partition(":")[0],
                        # a step whose control is named by data ("click:") is told
                        # by its role, not by one instance's data
                        "step_text": (
                            u.text
                            if p.key.partition(":")[2] or u.verb == "press"
                            else unit_text(u.verb, u.element_role, None, u.keys)
                        )
                        if u
                        else p.key,
                        "element_role": u.element_role if u else None,
                        # as the step's words show it: no record's data after an id
                        "element_name": shown_name(u.element_name)
                        if u and u.element_name and p.key.partition(":")[2]
                        else None,
                        "keys": u.keys if u else None,
                        "app": u.app if u else None,
                        "page": u.page if u else None,
                        "first_step_id": u.step_id if u else None,
                        "started_at": u.started_at if u else None,
                        "duration_s": None,
                        "path_share": p.share,
                        "is_optional": p.is_optional,
                    }
                )
    out.sort(
        key=lambda r: (
            r["workflow_id"],
            not r["is_path_step"],
            r["episode_id"] or "",
            r["unit_index"] or 0,
            r["path_index"] or 0,
        )
    )
    schema = pa.schema(
        [
            ("workflow_id", pa.string()),
            ("fingerprint", pa.string()),
            ("is_path_step", pa.bool_()),
            ("episode_id", pa.string()),
            ("unit_index", pa.int64()),
            ("path_index", pa.int64()),
            ("unit_key", pa.string()),
            ("verb", pa.string()),
            ("step_text", pa.string()),
            ("element_role", pa.string()),
            ("element_name", pa.string()),
            ("keys", pa.string()),
            ("app", pa.string()),
            ("page", pa.string()),
            ("first_step_id", pa.string()),
            ("started_at", pa.timestamp("us", tz="UTC")),
            ("duration_s", pa.float64()),
            ("path_share", pa.float64()),
            ("is_optional", pa.bool_()),
        ]
    )
    return pa.Table.from_pylist(out, schema=schema)
