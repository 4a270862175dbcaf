"""Orchestration glue: the task bodies the DAGs call, and the local runner behind
`worktape pipeline run`. Task bodies only compose library functions (loader, transform,
publish, ...); no library module imports this package (tests/test_install.py)."""
