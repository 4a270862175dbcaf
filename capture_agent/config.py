"""The agent's configuration: one TOML file in the platform config dir.

Linux: $XDG_CONFIG_HOME/worktape/agent.toml (~/.config/worktape/agent.toml); macOS:
~/Library/Application Support/worktape/agent.toml. WORKTAPE_AGENT_CONFIG overrides it.
The CLI edits it (consent, pause, exclude); the running agent re-reads it when it changes.
Every default is written out on first use, so the file documents itself.
"""

from __future__ import annotations

import hashlib
import os
import platform
import secrets
import sys
import tomllib
from dataclasses import MISSING, asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from worktape.core.privacy.policy import Privacy

POLICY_VERSION = "2026-11"


def config_path() -> Path:
    if p := os.environ.get("WORKTAPE_AGENT_CONFIG"):
        return Path(p).expanduser()
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    elif os.name == "nt":
        base = Path(os.environ.get("APPDATA", Path.home()))
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "worktape" / "agent.toml"


def default_data_dir() -> Path:
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "worktape" / "agent"
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "worktape" / "agent"


@dataclass
class Consent:
    policy_version: str = ""
    granted_at: str = ""  # ISO UTC; empty until the contributor opts in


@dataclass
class Capture:
    bundle_seconds: int = 3600  # seal a bundle every hour, on the UTC hour
    checkpoint_seconds: float = 10.0  # events reach the disk at least this often
    keyframe_seconds: float = 30.0  # a frame every N s, only if the screen changed
    idle_seconds: float = 60.0
    move_min_interval_ms: int = 40  # mouse moves are thinned to keep the path's shape
    move_min_distance_px: int = 8
    typing_run_gap_seconds: float = 2.0  # a pause this long ends a typed run
    # frames are stored at this scale: 0.5 turns 1920x1080 into 960x540, a quarter of the
    # bytes and of the encoding time; 1.0 keeps full resolution
    frame_scale: float = 0.5
    # an action within this many seconds of the last stored frame reuses it
    min_frame_interval_seconds: float = 1.0
    focus_poll_seconds: float = 0.5
    # ask the accessibility tree (Linux: AT-SPI) which element each click and typed run
    # acts on: its role, name and bounds go on the event
    elements: bool = True
    # ask applications to expose their tree, as a screen reader does (Chromium builds it
    # only then); it costs those applications some memory and CPU
    request_accessibility: bool = True


@dataclass
class Upload:
    storage_url: str = ""  # s3://bucket/prefix or a folder; empty: keep bundles in the spool
    endpoint_url: str = ""  # an S3-compatible server; empty: AWS
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 300.0


@dataclass
class Spool:
    dir: str = ""  # default: <data dir>/spool
    quota_mb: int = 2048  # over this, capture pauses until uploads catch up


@dataclass
class Identity:
    salt: str = ""  # random, made once; never leaves this laptop
    device_id: str = ""
    contributor_id: str = ""


@dataclass
class AgentConfig:
    consent: Consent = field(default_factory=Consent)
    capture: Capture = field(default_factory=Capture)
    privacy: Privacy = field(default_factory=Privacy)
    upload: Upload = field(default_factory=Upload)
    spool: Spool = field(default_factory=Spool)
    identity: Identity = field(default_factory=Identity)
    paused_until: str = ""  # "forever", an ISO UTC time, or empty
    data_dir: str = ""

    # -- derived ----------------------------------------------------------------
    @property
    def has_consent(self) -> bool:
        return bool(self.consent.granted_at and self.consent.policy_version == POLICY_VERSION)

    def paused(self, now: datetime | None = None) -> bool:
        if not self.paused_until:
            return False
        if self.paused_until == "forever":
            return True
        now = now or datetime.now(UTC)
        return now < datetime.fromisoformat(self.paused_until)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser() if self.data_dir else default_data_dir()

    @property
    def spool_path(self) -> Path:
        return Path(self.spool.dir).expanduser() if self.spool.dir else self.data_path / "spool"

    def ensure_identity(self, contributor_hint: str | None = None) -> bool:
        """Pseudonymous ids: salted hashes of the machine and the user, never the raw
        names. Returns True when it changed something (then save)."""
        if self.identity.salt and self.identity.device_id and self.identity.contributor_id:
            return False
        salt = self.identity.salt or secrets.token_hex(16)
        user = contributor_hint or os.environ.get("USER") or os.environ.get("USERNAME") or "?"
        machine = _machine_id()
        self.identity = Identity(
            salt=salt,
            device_id="d" + hashlib.sha256(f"{salt}:device:{machine}".encode()).hexdigest()[:16],
            contributor_id="c" + hashlib.sha256(f"{salt}:user:{user}".encode()).hexdigest()[:16],
        )
        return True


def _machine_id() -> str:
    for p in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            return Path(p).read_text().strip()
        except OSError:
            continue
    return platform.node()


# -- TOML ----------------------------------------------------------------------------
def _from_dict(cls: type, data: dict[str, Any], where: str = "") -> Any:
    known = {f.name for f in fields(cls)}
    if unknown := sorted(set(data) - known):
        # a misspelt setting would be ignored without a word: `mask_pattern` for
        # `mask_patterns` would leave the contributor's secrets unmasked
        raise ValueError(f"unknown setting {where}{unknown[0]}")
    kwargs = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        if isinstance(value, dict) and f.default_factory is not MISSING:
            value = _from_dict(type(f.default_factory()), value, f"{where}{f.name}.")
        kwargs[f.name] = value
    return cls(**kwargs)


class ConfigError(ValueError):
    """The config file cannot be read or applied, said with its path."""


def load(path: Path | None = None) -> AgentConfig:
    path = path or config_path()
    if not path.exists():
        return AgentConfig()
    try:
        with path.open("rb") as f:
            return _from_dict(AgentConfig, tomllib.load(f))
    except (ValueError, TypeError) as e:  # TOML syntax, an unknown key, a bad pattern
        raise ConfigError(f"{path}: {e}") from None


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def dumps(cfg: AgentConfig) -> str:
    data = asdict(cfg)
    lines = ["# worktape capture agent. Edit freely; `worktape agent --help` changes it too.", ""]
    for k, v in data.items():
        if not isinstance(v, dict):
            lines.append(f"{k} = {_toml_value(v)}")
    for k, v in data.items():
        if isinstance(v, dict):
            lines += ["", f"[{k}]"] + [f"{kk} = {_toml_value(vv)}" for kk, vv in v.items()]
    return "\n".join(lines) + "\n"


def save(cfg: AgentConfig, path: Path | None = None) -> Path:
    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(dumps(cfg))
    os.chmod(tmp, 0o600)  # the salt lives here
    os.replace(tmp, path)
    return path
