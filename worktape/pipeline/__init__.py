"""Orchestration glue: the task bodies the DAGs call, and the local runner behind
`worktape pipeline run`."""
