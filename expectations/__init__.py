"""The quality and privacy gate: Great Expectations Core 1.x suites as code.

`suites.py` says what must hold, per staged Parquet file (the gate never reads DuckDB
through SQLAlchemy: that route is broken in GX 1.x); `checkpoint.py` runs all of them as
one Checkpoint and builds Data Docs, pass or fail. `worktape.publish.stage` writes the
files the suites read.
"""
