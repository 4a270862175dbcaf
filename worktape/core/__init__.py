"""The contract the laptop and the server share, and nothing else.

The bundle format (names, schema, journal, writer, reader), the bucket layout, storage,
the privacy rules and frame hashing. Both `capture_agent` and the pipeline import it; it
imports neither, and needs only the base install (pyarrow, numpy, boto3, pillow).
"""
