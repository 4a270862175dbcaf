"""Build valid bundles small enough for tests, and take them apart to make hostile ones."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from worktape.core.bundle import BundleWriter, SealedBundle

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SCREENS = [{"monitor": 1, "left": 0, "top": 0, "width": 1920, "height": 1080}]
CONSENT = {"policy_version": "2026-11", "granted_at": "2026-10-30T08:00:00.000000Z"}


def write_small(
    path: Path,
    *,
    bundle_id: str = "btest0001",
    n_frames: int = 2,
    device_id: str = "dtest",
    contributor_id: str = "ctest",
    start: datetime = T0,
    app: str = "xterm",
    title: str = "bash",
    images: list[bytes] | None = None,
    image_size: tuple[int, int] = (4, 3),
) -> SealedBundle:
    """A valid bundle: a focus change, then per frame a click. Frames are a few bytes
    each unless `images` (encoded images of `image_size`) are given."""
    with BundleWriter(
        path,
        bundle_id=bundle_id,
        device_id=device_id,
        contributor_id=contributor_id,
        started_at=start,
        screens=SCREENS,
        consent=CONSENT,
    ) as w:
        t = start + timedelta(seconds=1)
        w.add_event(t, "focus_change", app=app, window_title=title)
        for i in range(n_frames):
            t += timedelta(seconds=2)
            sid = w.add_frame(
                ts=t,
                monitor=1,
                width=image_size[0],
                height=image_size[1],
                trigger="action",
                data=images[i] if images else f"frame-{i}".encode() * 10,
                phash="00ff00ff00ff00ff",
            )
            w.add_event(t, "screenshot", screenshot_id=sid, monitor=1)
            t += timedelta(milliseconds=5)
            w.add_event(t, "mouse_down", x=100 + i, y=200, button="left", monitor=1)
            t += timedelta(milliseconds=80)
            w.add_event(t, "mouse_up", x=100 + i, y=200, button="left", monitor=1)
        w.add_event(t + timedelta(seconds=1), "key_down", key="a")
        w.add_event(t + timedelta(seconds=1, milliseconds=50), "key_up", key="a")
        return w.seal(start + timedelta(hours=1))


# the elements write_with_elements names: a button pressed, a field typed into
BUTTON = {
    "element_role": "push button",
    "element_name": "New expense",
    "element_x": 150,
    "element_y": 180,
    "element_width": 96,
    "element_height": 32,
}
FIELD = {
    "element_role": "entry",
    "element_name": "Merchant",
    "element_x": 400,
    "element_y": 300,
    "element_width": 480,
    "element_height": 28,
}


def write_with_elements(
    path: Path,
    *,
    bundle_id: str = "belem0001",
    device_id: str = "delem",
    contributor_id: str = "celem",
    start: datetime = T0,
    field: dict[str, Any] = FIELD,
) -> SealedBundle:
    """A format 1.1 bundle as an agent that reads the accessibility tree writes it: a
    click on a button (its press names BUTTON, its release nothing), a click into a field
    (FIELD) and a typed run into it (its first key names FIELD, the later ones nothing),
    a scroll and a click where the application exposed nothing. A frame before each."""
    with BundleWriter(
        path,
        bundle_id=bundle_id,
        device_id=device_id,
        contributor_id=contributor_id,
        started_at=start,
        screens=SCREENS,
        consent=CONSENT,
    ) as w:
        t = start + timedelta(seconds=1)
        w.add_event(t, "focus_change", app="chrome", window_title="Expenses - Chromium")

        def frame(i: int) -> None:
            sid = w.add_frame(
                ts=t,
                monitor=1,
                width=4,
                height=3,
                trigger="action",
                data=f"frame-{i}".encode() * 10,
                phash="00ff00ff00ff00ff",
            )
            w.add_event(t, "screenshot", screenshot_id=sid, monitor=1)

        def click(x: int, y: int, element: dict[str, Any]) -> None:
            nonlocal t
            t += timedelta(milliseconds=5)
            w.add_event(t, "mouse_down", x=x, y=y, button="left", monitor=1, **element)
            t += timedelta(milliseconds=80)
            w.add_event(t, "mouse_up", x=x, y=y, button="left", monitor=1)

        t += timedelta(seconds=2)
        frame(0)
        click(190, 195, BUTTON)
        t += timedelta(seconds=2)
        frame(1)
        click(600, 310, field)
        t += timedelta(seconds=1)
        for i, ch in enumerate("Uber"):
            t += timedelta(milliseconds=150)
            w.add_event(t, "key_down", key=ch, **(field if i == 0 else {}))
            w.add_event(t + timedelta(milliseconds=40), "key_up", key=ch)
        t += timedelta(seconds=3)
        frame(2)
        for _ in range(3):
            t += timedelta(milliseconds=100)
            w.add_event(t, "scroll", x=900, y=600, dx=0, dy=-1, monitor=1)
        t += timedelta(seconds=3)
        frame(3)
        click(1500, 900, {})
        return w.seal(start + timedelta(hours=1))


def as_format_1_0(sealed: Path, out: Path) -> Path:
    """`sealed` as a 1.0 writer would have written it: no element columns."""
    from worktape.core.bundle.schema import EVENT_FIELDS_SINCE

    manifest, members = explode(sealed)
    manifest["format_version"] = "1.0"
    edit_table(members, "events.parquet", lambda t: t.drop_columns(list(EVENT_FIELDS_SINCE)))
    refresh_files(manifest, members)
    out.write_bytes(assemble(manifest, members))
    return out


def explode(path: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    members: dict[str, bytes] = {}
    with tarfile.open(path) as tar:
        for ti in tar:
            f = tar.extractfile(ti)
            assert f is not None
            members[ti.name] = f.read()
    manifest = json.loads(members.pop("manifest.json"))
    return manifest, members


def refresh_files(manifest: dict[str, Any], members: dict[str, bytes]) -> None:
    """Make manifest `files` describe `members` exactly (so only the planted fault shows)."""
    manifest["files"] = [
        {"path": n, "bytes": len(b), "sha256": hashlib.sha256(b).hexdigest()}
        for n, b in members.items()
    ]


def tarinfo(
    name: str, size: int = 0, kind: bytes = tarfile.REGTYPE, linkname: str = ""
) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.size = size
    ti.type = kind
    ti.linkname = linkname
    ti.mode = 0o644
    return ti


def assemble(
    manifest: dict[str, Any] | bytes,
    members: dict[str, bytes],
    *,
    extra: list[tuple[tarfile.TarInfo, bytes]] = (),  # type: ignore[assignment]  # an empty tuple stands for no members
    manifest_first: bool = True,
    fmt: int = tarfile.USTAR_FORMAT,
) -> bytes:
    buf = io.BytesIO()
    mbytes = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        entries = [(tarinfo("manifest.json", len(mbytes)), mbytes)]
        entries += [(tarinfo(n, len(b)), b) for n, b in members.items()]
        entries += list(extra)
        if not manifest_first:
            entries = entries[1:] + entries[:1]
        for ti, data in entries:
            tar.addfile(ti, io.BytesIO(data) if ti.isreg() else None)
    return buf.getvalue()


def edit_table(
    members: dict[str, bytes], name: str, change: Callable[[pa.Table], pa.Table]
) -> None:
    table = pq.read_table(pa.BufferReader(members[name]))
    out = io.BytesIO()
    pq.write_table(change(table), out)
    members[name] = out.getvalue()
