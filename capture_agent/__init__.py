"""The capture agent that runs on a contributor's laptop: consent, capture (frames,
input, windows, idle), on-laptop redaction, the spool and the upload.

It imports only the shared core (`worktape.core`: the bundle contract, storage and the
privacy rules), never the pipeline, and the laptop install (`pip install
'worktape[agent]'`) brings none of the pipeline's dependencies. `worktape agent …` reaches
it through the `worktape.commands` entry point (`capture_agent.cli:add_agent_parser`).
"""
