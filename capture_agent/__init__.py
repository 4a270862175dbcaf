"""The capture agent that runs on a contributor's laptop.

Only the redaction rules live here so far; the agent itself (consent, capture, spool,
upload) is issue #3. The simulator redacts with these same rules, so simulated bundles
look like real ones.
"""
