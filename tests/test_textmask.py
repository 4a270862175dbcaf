"""Secrets shown on screen are found by the agent's OCR and painted out; a frame that
cannot be read is dropped, never stored unmasked. The recogniser is the real one
(RapidOCR); the screens are rendered with Pillow."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from capture_agent import frames as F
from capture_agent.session import BundleSession, FrameEncoder
from worktape.core.privacy.screen_text import RedactionIncomplete, TextMasker, pixel_spans

FONT = "DejaVuSansMono.ttf"


def screen(lines: list[str], size: tuple[int, int] = (900, 300)) -> Image.Image:
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, 16)
    for i, line in enumerate(lines):
        d.text((12, 12 + 26 * i), line, font=font, fill="black")
    return img


def bgrx(img: Image.Image) -> bytearray:
    return bytearray(img.convert("RGBA").tobytes("raw", "BGRA"))


def read(pixels: bytearray, size: tuple[int, int]) -> str:
    """All the text the recogniser reads in a BGRX screen."""
    img = Image.frombuffer("RGBA", size, bytes(pixels), "raw", "BGRA", 0, 1).convert("RGB")
    return " ".join(TextMasker().lines(np.asarray(img)[:, :, ::-1]))


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("Email: dana.whitfieldenorthwind-example.com Tier", "email"),  # "@" read as "e"
        ("Schedule: hana.lena @example.com today", "email"),  # a space before "@"
        ("Ticket:5 5153914726746692 0rder:", "card"),  # a stray digit before the card
        ("Account:(322) 440-3742Order:", "phone"),  # a word glued on
        ("Contract: (426) 446 -2959 Summary", "phone"),  # separators doubled
        # the line typed below read into it as an underscore (an agent test's frame)
        ("Phone +1 415_555 0199 Notest prefers morning calls", "phone"),
        ("Key: ghp_WJAs SxvPuOkzA3LIhm7YaCU8wK81 ok", "token"),  # a space inside
    ],
)
def test_secrets_are_found_in_text_as_the_recogniser_reads_it(text: str, rule: str) -> None:
    assert [r for _, _, r in pixel_spans(text)] == [rule]


@pytest.mark.parametrize(
    "text",
    [
        "see mail.google.com/mail/u/0 for the thread",
        "Year 2024 total 1200 units, 37 open",
        "tarfile.TarFile.open(name) returns a report.final.pdf",
        "@property def name(self): return self._name",
        "2026-12-03 22:48:24 INFO nightly run started",  # a log line's timestamp
        "192.168. 100.200:8080/tickets",  # an address bar, a space read in it
    ],
)
def test_ordinary_screen_text_is_left_alone(text: str) -> None:
    assert pixel_spans(text) == []


def test_an_email_on_screen_is_painted_and_the_words_around_it_stay() -> None:
    img = screen(["Quarterly review pending", "Contact: dana.whitfield@example.com today"])
    px = bgrx(img)
    found = TextMasker().mask(1, px, img.width, img.height)
    assert found == {"email": 1}
    text = read(px, img.size)
    assert "whitfield" not in text and "Quarterly" in text and "today" in text


def test_only_changed_rows_are_read_again_and_earlier_boxes_are_repainted() -> None:
    masker = TextMasker(["EMP-[0-9]{6}"])
    lines = ["Employee EMP-204417 on leave", "Status: approved", "Notes: none"]
    img = screen(lines)
    masker.mask(1, bgrx(img), img.width, img.height)
    first = masker.stats["lines_read"]
    lines[2] = "Notes: call back on Monday"
    img = screen(lines)
    px = bgrx(img)
    found = masker.mask(1, px, img.width, img.height)
    assert found == {"pattern": 1}  # the unchanged line's box, painted again unread
    assert masker.stats["lines_read"] - first == 1  # only the changed line
    text = read(px, img.size)
    assert "204417" not in text and "Monday" in text


@pytest.mark.parametrize(
    ("typed", "secret"),
    [
        ("jane.doe@example.org today", "jane.doe"),
        ("card 4539 1488 0343 6467 ok", "0343"),  # four groups: read across the spaces
    ],
)
def test_text_typed_onto_a_line_is_read_around_the_change_without_detecting(
    typed: str, secret: str
) -> None:
    """Typing into a line the detector already found reads that line's rows around the
    change only (the changed word and the words either side): what is typed there is
    masked once it is whole, and an address earlier on the same line, outside what is
    read, stays masked."""
    masker = TextMasker()
    head = "Reply to dana.whitfield@example.com and copy the notes for the team, then "
    size = (1400, 120)
    img = screen(["Inbox", head], size)
    masker.mask(1, bgrx(img), *size)
    detected = masker.stats["bands"] - masker.stats["bands_in_line"]
    for n in range(1, len(typed) + 1):
        img = screen(["Inbox", head + typed[:n]], size)
        px = bgrx(img)
        masker.mask(1, px, *size)
    assert masker.stats["bands"] - masker.stats["bands_in_line"] == detected
    assert masker.stats["bands_in_line"] == len(typed.replace(" ", ""))  # a space shows nothing
    assert masker.stats["words_reused"] > 0  # the words before the change were read once
    text = read(px, size)
    assert "whitfield" not in text and secret not in text, text
    assert "Inbox" in text, text


def terminal(
    lines: list[str], size: tuple[int, int] = (1920, 300), bottom: int = 250
) -> Image.Image:
    """A terminal's last lines in a small font, above the black of the root window."""
    img = Image.new("RGB", size, "black")
    d = ImageDraw.Draw(img)
    d.rectangle((0, 0, size[0], bottom), fill="white")
    font = ImageFont.truetype(FONT, 11)
    top = bottom - 4 - 13 * len(lines)
    for i, line in enumerate(lines):
        d.text((6, top + 13 * i), line, font=font, fill="black")
    return img


def test_a_long_line_typed_at_a_terminals_bottom_is_read_as_it_grows() -> None:
    """Typing at a person's pace onto a terminal's last line, a dozen characters between
    frames, until the line is longer than half the screen and ends in an address. Read
    in a thin strip above the black below the window, the detector used to lose such a
    line whole, and the address was stored; the line is read around each change."""
    masker = TextMasker()
    head = [f"{n:5d}  total = compute(value, other) + 1  # note" for n in range(10)]
    typed = (
        "'Return True if it is a block device.' the quarterly report lists revenue by "
        "region the open tickets by priority and the pull requests waiting for review "
        "mail it to dana.whitfield@example.com today"
    )
    img = terminal([*head, " 1599  "])
    masker.mask(1, bgrx(img), *img.size)
    for n in range(12, len(typed) + 12, 12):
        img = terminal([*head, " 1599  " + typed[:n]])
        px = bgrx(img)
        found = masker.mask(1, px, *img.size)
    assert found == {"email": 1}
    text = read(px, img.size)
    assert "whitfield" not in text and "requests" in text, text
    assert masker.stats["bands_in_line"] >= masker.stats["frames"] - 2  # no detection
    assert masker.stats["words_reused"] > masker.stats["frames"]


def test_a_card_typed_a_group_a_frame_is_masked_from_words_read_before() -> None:
    """Each group of a card number typed between two frames: when the last one shows,
    the first three come from the word cache (their pixels were read in earlier
    frames) and the card is found across them."""
    masker = TextMasker()
    size = (1400, 120)
    head = "Reply to the customer about the refund, then charge "
    masker.mask(1, bgrx(screen(["Inbox", head], size)), *size)
    typed = ""
    for group in ["4539", "1488", "0343", "6467 today"]:
        typed += group + " "
        img = screen(["Inbox", head + typed], size)
        px = bgrx(img)
        found = masker.mask(1, px, *size)
    # a box per word the card spans (and the phone number its first groups made a
    # frame before, kept while its pixels show the same)
    assert found["card"] >= 1
    assert masker.stats["words_reused"] >= 3
    text = read(px, size)
    assert not any(g in text for g in ("4539", "1488", "0343", "6467")), text
    assert "refund" in text and "today" in text, text


def test_a_card_typed_again_is_masked_from_the_word_cache_without_recognising() -> None:
    """A line typed, erased and typed again (a command retyped in a terminal): the
    second time every group of the card shows the pixels of a word read the first
    time, so nothing is recognised, and the card is still found across the cached
    words."""
    masker = TextMasker()
    size = (1400, 120)
    head = "Reply to the customer about the refund, then charge "
    masker.mask(1, bgrx(screen(["Inbox", head], size)), *size)

    def type_card() -> tuple[bytearray, Counter[str]]:
        typed = ""
        for group in ["4539", "1488", "0343", "6467"]:
            typed += group + " "
            px = bgrx(screen(["Inbox", head + typed], size))
            found = masker.mask(1, px, *size)
        return px, found

    type_card()
    masker.mask(1, bgrx(screen(["Inbox", head], size)), *size)  # erased
    recognised = masker.stats["lines_read"]
    px, found = type_card()
    assert masker.stats["lines_read"] == recognised, masker.stats
    assert found["card"] >= 1
    text = read(px, size)
    assert not any(g in text for g in ("4539", "1488", "0343", "6467")), text
    assert "refund" in text, text


@pytest.mark.parametrize("address", ["george_hana@contoso.org", "george.hana@contoso.org"])
def test_an_address_typed_after_a_word_read_before_is_masked_across_its_underscore_or_dot(
    address: str,
) -> None:
    """The name before an address's "_" or "." was typed, and read, a frame before the
    rest. Told apart by the line's middle rows only, "_" and "." are blank: the name
    came from the word cache as a word of its own, the text was joined with a space,
    and only the part after it matched as an address."""
    masker = TextMasker()
    size = (1400, 120)
    head = "Forward the signed invoice to: "
    masker.mask(1, bgrx(screen(["Inbox", head], size)), *size)
    for typed in ["george", address[:14], address]:
        px = bgrx(screen(["Inbox", head + typed], size))
        found = masker.mask(1, px, *size)
    assert found["email"] >= 1
    text = read(px, size)
    assert "george" not in text.lower() and "contoso" not in text, text
    assert "invoice" in text, text


def test_a_change_in_one_column_reads_only_that_column_of_its_rows() -> None:
    """Two columns side by side (a list and a detail pane): when the detail pane
    changes, the list's text on the same rows shows what it showed and is not read
    again; the address that appeared in the pane is masked."""

    def two_columns(detail: list[str]) -> Image.Image:
        img = Image.new("RGB", (1200, 200), "white")
        d = ImageDraw.Draw(img)
        font = ImageFont.truetype(FONT, 16)
        for i, name in enumerate(["Quarterly review", "Vendor onboarding", "Payroll run"]):
            d.text((12, 12 + 26 * i), name, font=font, fill="black")
        for i, line in enumerate(detail):
            d.text((700, 12 + 26 * i), line, font=font, fill="black")
        return img

    masker = TextMasker()
    img = two_columns(["Owner: finance team", "Due: Friday", "Status: open"])
    masker.mask(1, bgrx(img), img.width, img.height)
    before = masker.stats["lines_read"]
    img = two_columns(["Owner: dana.whitfield@example.com", "Due: Monday", "Status: late"])
    px = bgrx(img)
    assert masker.mask(1, px, img.width, img.height)["email"] == 1
    assert masker.stats["lines_read"] - before <= 3, masker.stats  # the pane's lines only
    text = read(px, img.size)
    assert "whitfield" not in text and "Vendor" in text and "Monday" in text, text


@pytest.mark.parametrize("direction", ["up", "down"])
def test_a_scrolled_screen_reads_only_the_rows_scrolled_in(direction: str) -> None:
    """A terminal scrolls by a line (a list back by one): the frame is the previous one
    moved, so only the line scrolled in is read; the address that moved stays masked
    where it went, and the card that scrolled in is masked too."""
    lines = [f"{n:3d}  log line {n} of the nightly job: step done" for n in range(30)]
    lines[12] = " 12  mail sent to dana.whitfield@example.com by the job"
    size = (900, 12 + 26 * 31)
    masker = TextMasker()
    masker.mask(1, bgrx(screen(lines, size)), *size)
    full = masker.stats["rows_read"]
    card = " 30  charged card 4539 1488 0343 6467 for the order"
    lines = [*lines[1:], card] if direction == "up" else [card, *lines[:-1]]
    img = screen(lines, size)
    px = bgrx(img)
    masker.mask(1, px, *size)
    assert masker.stats["scrolls"] == 1
    assert masker.stats["rows_read"] - full < 120, masker.stats  # the new line, padded
    text = read(px, size)
    assert "whitfield" not in text and "0343" not in text, text
    assert "nightly" in text, text


def test_a_box_across_the_edge_of_what_scrolled_is_tried_both_where_it_was_and_moved() -> None:
    """A box only partly inside the changed region may have moved with it or stayed:
    both places are tried, and the pixels keep the one that still shows the secret."""
    from worktape.core.privacy.screen_text import Hit, _moved

    region = (0, 100, 500, 400)  # left, top, right, bottom
    across = Hit((450, 200, 560, 220), "email", (205, 215))
    assert _moved(across, 26, region) == [across, Hit((450, 174, 560, 194), "email", (179, 189))]
    outside = Hit((600, 200, 700, 220), "card", (205, 215))
    assert _moved(outside, 26, region) == [outside]
    off_top = Hit((10, 100, 200, 120), "phone", (105, 115))
    assert _moved(off_top, 26, region) == [off_top]  # scrolled out of the region: gone


def test_a_frame_not_read_in_time_raises() -> None:
    img = screen(["Contact: dana.whitfield@example.com"])
    with pytest.raises(RedactionIncomplete):
        TextMasker(deadline_seconds=-1).mask(1, bgrx(img), img.width, img.height)


class _FailingMaskerFake(TextMasker):
    def mask(self, monitor: int, pixels: bytearray, width: int, height: int):  # type: ignore[override]  # a fake that fails
        raise RuntimeError("onnxruntime could not run")


def _session(tmp_path: Path, enc: FrameEncoder, now: datetime) -> BundleSession:
    """An open bundle on one 64x32 screen whose frames go through `enc`."""
    from capture_agent.session import BundleSession

    return BundleSession(
        spool=tmp_path,
        device_id="d1",
        contributor_id="c1",
        started_at=now,
        screens=[{"monitor": 1, "left": 0, "top": 0, "width": 64, "height": 32}],
        consent={"policy_version": "2026-11", "granted_at": "2026-11-01T00:00:00.000000Z"},
        utc_offset_minutes=0,
        encoder=enc,
    )


def test_a_frame_whose_reading_fails_is_dropped_and_counted_fake_masker(tmp_path: Path) -> None:
    """The encoder drops a frame the masker fails on; sealing drops its event."""
    enc = FrameEncoder("webp", 0.5, _FailingMaskerFake())
    enc.start()
    now = datetime(2026, 12, 1, 9, tzinfo=UTC)
    sess = _session(tmp_path, enc, now)
    grab = F.Grab(1, 64, 32, bytearray(64 * 32 * 4))
    sid = sess.frame(grab, "action", now)
    assert sid is not None
    work = sess.close(now)
    enc.stop()
    enc.join(5)
    assert sess.frame_changes["frames_dropped_text_error"] == 1
    assert not list(work.rglob("*.webp"))  # nothing stored unmasked


def test_a_frame_queued_across_a_switch_of_masking_is_dropped_placeholder_masker(
    tmp_path: Path,
) -> None:
    """A frame grabbed while text masking was on (queued full size, to be masked) that
    the worker reaches after it was turned off is not stored unmasked: it was counted
    as masked. (The placeholder only makes the session queue it full size.)"""
    enc = FrameEncoder("webp", 0.5)
    enc.masker = object()  # type: ignore[assignment]  # masking on when the frame is grabbed
    now = datetime(2026, 12, 1, 9, tzinfo=UTC)
    sess = _session(tmp_path, enc, now)
    assert sess.frame(F.Grab(1, 64, 32, bytearray(64 * 32 * 4)), "action", now) is not None
    enc.masker = None  # turned off before the worker reaches the frame
    enc.start()
    work = sess.close(now)
    enc.stop()
    enc.join(5)
    assert sess.frame_changes["frames_dropped_text_error"] == 1
    assert not list(work.rglob("*.webp"))


def test_an_invalid_mask_pattern_stops_the_agent_with_one_line(tmp_path: Path) -> None:
    from tests.agentkit import cli

    config = tmp_path / "agent.toml"
    config.write_text('[privacy]\nmask_patterns = ["EMP-[0-9"]\n')
    r = cli("start", env={"WORKTAPE_AGENT_CONFIG": str(config)})
    assert r.returncode != 0
    assert r.stderr.strip() == (
        f"worktape: error: {config}: privacy.mask_patterns: 'EMP-[0-9' is not a regular "
        "expression (unterminated character set at position 4)"
    )
