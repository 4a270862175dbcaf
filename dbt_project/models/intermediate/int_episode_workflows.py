"""Each episode's workflow: recurring episodes clustered by app and window-title words.
The method lives in worktape.workflows (tested there); this model feeds it the episodes.
Rebuilt whole each night: it reads one row per episode and word, not the raw events."""

import pyarrow as pa


def model(dbt, session):
    dbt.config(materialized="table")
    from worktape.workflows import DEFAULT_THRESHOLD, EpisodeShape, cluster_workflows

    threshold = float(dbt.config.get("workflow_threshold") or DEFAULT_THRESHOLD)
    episodes = dbt.ref("episodes").select("episode_id, main_app").fetchall()
    words: dict[str, set[str]] = {}
    for episode_id, token in dbt.ref("int_episode_tokens").select("episode_id, token").fetchall():
        words.setdefault(episode_id, set()).add(token)
    shapes = [EpisodeShape(e, app or "", frozenset(words.get(e, ()))) for e, app in episodes]
    assigned = cluster_workflows(shapes, threshold=threshold)
    ids = sorted(assigned)
    return pa.table({"episode_id": ids, "workflow_id": [assigned[i] for i in ids]})
