"""The manifest's rules: its JSON schema, the format and version it names, its `files`
list (one entry a member), and a window that does not end before it starts."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any, cast

import fastjsonschema

from worktape.core.bundle import schema as S
from worktape.core.bundle.errors import BundleError, Reason
from worktape.core.timeutil import from_iso


@cache
def manifest_schema() -> dict[str, Any]:
    text = resources.files("worktape.core.bundle").joinpath("manifest.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _manifest_validator() -> Callable[[Any], Any]:
    # compiled to Python once: a bundle's manifest is checked in microseconds, not
    # milliseconds. The schema only uses keywords draft-07 shares with 2020-12. The
    # `files` entries, one per frame (thousands), are checked by `_check_files` instead:
    # the compiled check took 9 µs an entry, most of a small-frame bundle's parse.
    schema = {**manifest_schema(), "$schema": "http://json-schema.org/draft-07/schema#"}
    props = dict(schema["properties"])
    props["files"] = {k: v for k, v in props["files"].items() if k != "items"}
    return fastjsonschema.compile({**schema, "properties": props})


_SHA256_RE = re.compile(r"[0-9a-f]{64}")


def _check_files(files: list[Any]) -> None:
    """The schema's `files` items, checked as the schema says (same verdicts)."""
    for i, e in enumerate(files):
        if not isinstance(e, dict):
            raise BundleError(Reason.BAD_MANIFEST, f"manifest files[{i}] must be object")
        path, size, sha = e.get("path"), e.get("bytes"), e.get("sha256")
        if not (isinstance(path, str) and 1 <= len(path) <= 255):
            raise BundleError(Reason.BAD_MANIFEST, f"manifest files[{i}].path is not a path")
        is_int = type(size) is int or (isinstance(size, float) and size.is_integer())
        if not is_int or cast(float, size) < 0:
            raise BundleError(Reason.BAD_MANIFEST, f"manifest files[{i}].bytes is not >= 0")
        if not (isinstance(sha, str) and _SHA256_RE.fullmatch(sha)):
            raise BundleError(Reason.BAD_MANIFEST, f"manifest files[{i}].sha256 is not sha256")


def _parse_version(manifest: dict[str, Any]) -> int:
    if manifest.get("format") != S.FORMAT:
        raise BundleError(
            Reason.WRONG_FORMAT, f"format is {manifest.get('format')!r}, expected {S.FORMAT!r}"
        )
    version = manifest.get("format_version")
    try:
        major, minor = (int(p) for p in str(version).split("."))
    except ValueError:
        raise BundleError(
            Reason.BAD_MANIFEST, f"format_version {version!r} is not MAJOR.MINOR"
        ) from None
    if major != S.FORMAT_MAJOR:
        raise BundleError(
            Reason.UNSUPPORTED_VERSION,
            f"format_version {version} has major {major}; this reader knows {S.FORMAT_MAJOR}.x",
        )
    return minor


def parse_manifest(data: bytes) -> tuple[dict[str, Any], int, dict[str, dict[str, Any]]]:
    try:
        manifest = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BundleError(
            Reason.BAD_JSON, f"manifest.json is not valid JSON: {e}", member=S.MANIFEST
        ) from e
    if not isinstance(manifest, dict):
        raise BundleError(Reason.BAD_JSON, "manifest.json is not a JSON object", member=S.MANIFEST)
    minor = _parse_version(manifest)
    try:
        _manifest_validator()(manifest)
    except fastjsonschema.JsonSchemaValueException as e:
        raise BundleError(Reason.BAD_MANIFEST, f"manifest {e.message}", member=S.MANIFEST) from None
    _check_files(manifest["files"])
    files: dict[str, dict[str, Any]] = {}
    for entry in manifest["files"]:
        if entry["path"] in files or entry["path"] == S.MANIFEST:
            raise BundleError(Reason.BAD_MANIFEST, f"files lists {entry['path']!r} twice")
        files[entry["path"]] = entry
    for required in (S.EVENTS, S.SCREENSHOTS):
        if required not in files:
            raise BundleError(
                Reason.MISSING_MEMBER, f"files does not list {required}", member=required
            )
    if from_iso(manifest["ended_at"]) < from_iso(manifest["started_at"]):
        raise BundleError(Reason.BAD_MANIFEST, "ended_at is before started_at")
    return manifest, minor, files
