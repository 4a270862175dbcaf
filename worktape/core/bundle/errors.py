"""The one error a bundle reader raises, with a stable reason code per rule broken.

Reason codes are part of the contract: the loader writes them into
`quarantine/<key>.reason.json` and the `raw.quarantine` table, and dashboards group by
them. Add codes; never rename one.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    # archive level
    NOT_A_TAR = "not_a_tar"
    TRUNCATED = "truncated"
    TRAILING_DATA = "trailing_data"
    TOO_LARGE = "too_large"
    TOO_MANY_MEMBERS = "too_many_members"
    # member names and types
    ABSOLUTE_PATH = "absolute_path"
    PARENT_PATH = "parent_path"
    LINK_MEMBER = "link_member"
    SPECIAL_MEMBER = "special_member"
    BAD_MEMBER_NAME = "bad_member_name"
    DUPLICATE_MEMBER = "duplicate_member"
    MISSING_MEMBER = "missing_member"
    UNLISTED_MEMBER = "unlisted_member"
    SIZE_MISMATCH = "size_mismatch"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    # manifest
    MISSING_MANIFEST = "missing_manifest"
    BAD_JSON = "bad_json"
    BAD_MANIFEST = "bad_manifest"
    WRONG_FORMAT = "wrong_format"
    UNSUPPORTED_VERSION = "unsupported_version"
    COUNT_MISMATCH = "count_mismatch"
    # tables
    BAD_PARQUET = "bad_parquet"
    BAD_SCHEMA = "bad_schema"
    SEQ_GAP = "seq_gap"
    TS_OUT_OF_WINDOW = "ts_out_of_window"
    UNKNOWN_KIND = "unknown_kind"
    DANGLING_SCREENSHOT = "dangling_screenshot"
    DUPLICATE_SCREENSHOT = "duplicate_screenshot"
    UNSCOPED_ID = "unscoped_id"
    TS_BACKWARDS = "ts_backwards"
    OFF_SCREEN = "off_screen"
    # loader level (raised by the pipeline, not by the reader)
    CONFLICT = "conflict"
    KEY_MISMATCH = "key_mismatch"
    OVERLAPPING_BUNDLE = "overlapping_bundle"
    UNREDACTED_SECRET = "unredacted_secret"
    DENYLISTED_WINDOW = "denylisted_window"
    ERASED_CONTRIBUTOR = "erased_contributor"


class BundleError(Exception):
    """A bundle broke the contract. `reason` is stable, `message` is for people."""

    def __init__(self, reason: Reason, message: str, *, member: str | None = None) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.message = message
        self.member = member

    def to_dict(self) -> dict[str, str | None]:
        return {"reason": self.reason.value, "message": self.message, "member": self.member}
