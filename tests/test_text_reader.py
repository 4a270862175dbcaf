"""The text reader process (`capture_agent/text_reader.py`): the OCR runs in a child
of the capture process, and every way the child can fail drops the frame."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from capture_agent.text_reader import TextReader, TextReaderUnavailable, _buffer_dir
from tests.test_textmask import bgrx, read, screen
from worktape.core.privacy.reading import RedactionIncomplete

LINES = ["Quarterly review pending", "Contact: dana.whitfield@example.com today"]


@pytest.fixture
def reader():
    r = TextReader(deadline_seconds=5, answer_margin=2)
    r.start()
    yield r
    r.close()


def test_a_frame_is_masked_by_the_child_and_painted_by_the_capture_side(
    reader: TextReader,
) -> None:
    img = screen(LINES)
    px = bgrx(img)
    assert reader.mask(1, px, img.width, img.height) == {"email": 1}
    text = read(px, img.size)
    assert "whitfield" not in text and "Quarterly" in text and "today" in text
    assert reader.stats["frames"] == 1


def test_frames_of_two_sizes_reach_the_child_through_a_buffer_that_leaves_no_file(
    reader: TextReader,
) -> None:
    def buffers() -> set[Path]:
        return set(Path(_buffer_dir()).glob("worktape-frame-*"))

    before = buffers()
    small, large = screen(LINES), screen(LINES[::-1], size=(1000, 340))
    for img in (small, large, small):
        px = bgrx(img)
        assert reader.mask(1, px, img.width, img.height) == {"email": 1}
        assert "whitfield" not in read(px, img.size)
        # the child has mapped it: its name is gone, so a crash leaves nothing behind
        assert buffers() == before


def test_a_frame_whose_shared_buffer_cannot_be_made_is_dropped_and_the_next_is_masked(
    reader: TextReader, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The buffer's directory is gone (a full or missing /dev/shm): that frame is not
    read, so it raises for the caller to drop; once a buffer can be made again the
    next frame is masked."""
    import capture_agent.text_reader as T

    img = screen(LINES)
    monkeypatch.setattr(T, "_buffer_dir", lambda: str(tmp_path / "gone"))
    with pytest.raises(TextReaderUnavailable):
        reader.mask(1, bgrx(img), img.width, img.height)
    monkeypatch.undo()
    px = bgrx(img)
    assert reader.mask(1, px, img.width, img.height) == {"email": 1}
    assert "whitfield" not in read(px, img.size)


def test_a_child_that_died_drops_that_frame_and_a_new_one_reads_the_next_whole(
    reader: TextReader,
) -> None:
    img = screen(LINES)
    reader.mask(1, bgrx(img), img.width, img.height)
    first = reader.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    with pytest.raises(TextReaderUnavailable):
        reader.mask(1, bgrx(img), img.width, img.height)
    # the same screen again: a new child has no previous frame, so it reads it all
    px = bgrx(img)
    assert reader.mask(1, px, img.width, img.height) == {"email": 1}
    assert reader.pid not in (None, first)
    assert "whitfield" not in read(px, img.size)
    assert reader.stats["frames"] == 2  # the counts go on across children


def test_a_child_that_hangs_misses_the_deadline_and_is_replaced(reader: TextReader) -> None:
    img = screen(LINES)
    reader.mask(1, bgrx(img), img.width, img.height)
    hung = reader.pid
    assert hung is not None
    os.kill(hung, signal.SIGSTOP)
    started = time.monotonic()
    with pytest.raises(RedactionIncomplete):
        reader.mask(1, bgrx(img), img.width, img.height)
    assert time.monotonic() - started < 5 + 2 + 5
    with pytest.raises(ProcessLookupError):  # killed, and reaped
        os.kill(hung, 0)
    px = bgrx(img)
    assert reader.mask(1, px, img.width, img.height) == {"email": 1}


def test_the_capture_process_never_loads_the_ocr() -> None:
    code = (
        "import sys, capture_agent.agent, capture_agent.text_reader;"
        "print(sorted(m for m in ('numpy', 'cv2', 'onnxruntime', 'rapidocr_onnxruntime')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
