"""Each distinct episode shape (main app, title words) and its workflow. The method
lives in worktape.workflows (tested there); this model feeds it the distinct shapes with
how often each occurs, which stays small however long the history grows."""

import pyarrow as pa


def model(dbt, session):
    dbt.config(materialized="table")
    from worktape.workflows import DEFAULT_THRESHOLD, ShapeCount, cluster_shapes

    rows = (
        dbt.ref("int_episodes_shaped")
        .aggregate("main_app, words_key, any_value(words) AS words, count(*) AS n")
        .fetchall()
    )
    shapes = [ShapeCount(app, frozenset(words), n) for app, _, words, n in rows]
    assigned = cluster_shapes(shapes, threshold=DEFAULT_THRESHOLD)
    out = sorted((app, key, assigned[(app, frozenset(words))]) for app, key, words, _ in rows)
    return pa.table(
        {
            "main_app": [r[0] for r in out],
            "words_key": [r[1] for r in out],
            "workflow_id": [r[2] for r in out],
        }
    )
