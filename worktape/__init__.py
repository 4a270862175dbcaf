"""worktape: laptop work captured with consent, turned into agent training data and tables."""

__version__ = "0.1.0"
