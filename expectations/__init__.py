"""The quality and privacy gate: Great Expectations Core 1.x suites as code.

`suites.py` says what must hold, per staged Parquet file (the gate never reads DuckDB
through SQLAlchemy: that route is broken in GX 1.x); `checkpoint.py` runs all of them in
one run, one Checkpoint a suite (GX names each suite's failing rows by its id column),
and builds Data Docs, pass or fail. `worktape.publish.stage` writes the
files the suites read.
"""
