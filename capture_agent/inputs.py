"""pynput listeners, translated into the recorder's vocabulary."""

from __future__ import annotations

from typing import Any

from capture_agent.recorder import MODIFIERS, Recorder


def normalize_key(k: Any) -> tuple[str, object, bool]:
    """(key, key_id, is_char) for a pynput key: characters as themselves, named keys by
    their base name ("ctrl_l" -> "ctrl"), space as a character of the typed run."""
    from pynput.keyboard import KeyCode

    if isinstance(k, KeyCode):
        ch = k.char
        if ch is None:
            return (f"vk{k.vk}", k.vk, False)
        if len(ch) == 1 and ord(ch) < 32:  # ctrl+letter arrives as a control character
            ch = chr(ord(ch) + 96)
        return (ch, k.vk if k.vk is not None else ch, ch.isprintable())
    name = getattr(k, "name", str(k))
    base = name.split("_")[0]
    if base in MODIFIERS or base == "alt":
        return (base, base, False)
    if name == "space":
        return (" ", "space", True)
    return (name, name, False)


def _button(b: Any) -> str:
    return getattr(b, "name", str(b))


class InputListeners:
    def __init__(
        self, recorder: Recorder, on_hotkey: Any = None, hotkey: str | None = None
    ) -> None:
        from pynput import keyboard, mouse

        self.rec = recorder
        self._hotkey = None
        if hotkey and on_hotkey:
            self._hotkey = keyboard.HotKey(keyboard.HotKey.parse(hotkey), on_hotkey)
        self._mouse = mouse.Listener(
            on_move=lambda x, y: recorder.on_move(int(x), int(y)),
            on_click=lambda x, y, b, p: recorder.on_click(int(x), int(y), _button(b), p),
            on_scroll=lambda x, y, dx, dy: recorder.on_scroll(int(x), int(y), int(dx), int(dy)),
        )
        self._keyboard = keyboard.Listener(on_press=self._press, on_release=self._release)

    def _press(self, k: Any) -> None:
        if self._hotkey is not None:
            self._hotkey.press(self._keyboard.canonical(k))
        key, key_id, is_char = normalize_key(k)
        self.rec.on_key(key, key_id, True, is_char=is_char)

    def _release(self, k: Any) -> None:
        if self._hotkey is not None:
            self._hotkey.release(self._keyboard.canonical(k))
        key, key_id, is_char = normalize_key(k)
        self.rec.on_key(key, key_id, False, is_char=is_char)

    def start(self) -> None:
        self._mouse.start()
        self._keyboard.start()
        self._mouse.wait()
        self._keyboard.wait()

    def stop(self) -> None:
        self._mouse.stop()
        self._keyboard.stop()
