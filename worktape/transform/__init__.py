"""dbt, from Python: `dbt build` on an explicit warehouse (`dbt`), a night's days cut
into batches (`batches`), and the child process that runs them (`dbt_child`). Library
code: the nightly tasks and the erasure call it; it never imports `worktape.pipeline`."""
