"""Instructions and step annotations written by a language model, when one is configured.

The default is the templates (dbt: each step's `step_text`, each episode's
`instruction`), which need nothing. With `WORKTAPE_LLM_BASE_URL` and
`WORKTAPE_LLM_MODEL`, an OpenAI-compatible chat endpoint (vLLM, Ollama, a llama.cpp
server, or a hosted API) writes, per episode, the instruction and AgentNet's per-step
`observation`, `thought` and `reflection`, from the template texts (and the frames, only
when `WORKTAPE_LLM_SEND_FRAMES` allows it).

- Answers are cached by the hash of the request, so a rerun asks nothing and publishes
  the same bytes.
- A failing, slow or malformed answer leaves that episode on its templates; the
  publisher's card says how many episodes each source wrote, and why any fell back.
- Generated text is held to the privacy rules before it is used (an answer that
  contains a secret is not used), and the publish gate scans it again like every other
  published text.

Talks plain HTTP with httpx: the chat-completions call is one JSON POST, the same on
every server named above.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worktape.core.privacy.policy import finding

log = logging.getLogger(__name__)

# frames sent per episode, at most (the first steps' frames), when frames may be sent
MAX_FRAMES = 6
_SYSTEM = (
    "You annotate recordings of people working on a computer, to train computer-use "
    "agents. You get one task: the application and page, and its steps as short "
    "descriptions of what was done. Answer with one JSON object: "
    '{"instruction": "<the task as a person would ask for it, one sentence>", '
    '"steps": [{"observation": "<what the screen shows before the step>", '
    '"thought": "<why the step is taken>", '
    '"reflection": "<what the step achieved>"}, ...]} '
    "with exactly one entry in steps per step given, in order. Keep text that reads "
    "<redacted:...> as it is, and never invent names, numbers or addresses."
)


@dataclass(frozen=True)
class Endpoint:
    """An OpenAI-compatible chat endpoint: `base_url` up to `/v1`."""

    base_url: str
    model: str
    api_key: str = ""
    timeout_s: float = 60.0
    send_frames: bool = False

    @property
    def label(self) -> str:
        """What the card names: the model and the server, never the key."""
        return f"{self.model} at {self.base_url}"


@dataclass(frozen=True)
class Episode:
    """What the model is told of an episode: the template texts."""

    episode_id: str
    place: str  # the app, and the site or page
    instruction: str  # the template's
    steps: tuple[str, ...]  # each step's template text
    frames: tuple[str | None, ...] = ()  # the screenshot id before each step


@dataclass(frozen=True)
class Narration:
    instruction: str
    observations: tuple[str, ...]
    thoughts: tuple[str, ...]
    reflections: tuple[str, ...]


@dataclass
class NarrationStats:
    """What the card says about who wrote the texts."""

    endpoint: str | None = None
    episodes: int = 0
    generated: int = 0  # by the model, this night
    cached: int = 0  # by the model, on an earlier run
    fell_back: Counter[str] = field(default_factory=Counter)  # reason -> episodes

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": "model" if self.endpoint else "templates",
            "endpoint": self.endpoint,
            "episodes": self.episodes,
            "generated": self.generated,
            "cached": self.cached,
            "fell_back": dict(sorted(self.fell_back.items())),
        }


class NarrationError(Exception):
    """An answer that cannot be used (its reason is the card's)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class Narrator:
    """Asks `endpoint` for each episode's narration, through a cache in `cache_dir`.
    After `max_failures` failed calls in a row it stops asking for the rest of the run
    (an endpoint that is down costs one timeout per episode otherwise)."""

    def __init__(
        self,
        endpoint: Endpoint,
        cache_dir: Path,
        *,
        frame_bytes: Callable[[str], bytes | None] | None = None,
        max_failures: int = 3,
        client: Any = None,
    ) -> None:
        self.endpoint = endpoint
        self.cache_dir = cache_dir
        self.frame_bytes = frame_bytes
        self.max_failures = max_failures
        self.stats = NarrationStats(endpoint=endpoint.label)
        self._failures = 0
        self._client = client

    def narrate_all(self, episodes: Sequence[Episode]) -> dict[str, Narration]:
        out: dict[str, Narration] = {}
        for ep in episodes:
            got = self.narrate(ep)
            if got is not None:
                out[ep.episode_id] = got
        return out

    def narrate(self, ep: Episode) -> Narration | None:
        """The model's narration of `ep`, or None (the templates stay)."""
        self.stats.episodes += 1
        if self._failures >= self.max_failures:
            self.stats.fell_back["endpoint_unavailable"] += 1
            return None
        body = self._request(ep)
        key = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        path = self.cache_dir / key[:2] / f"{key}.json"
        try:
            if path.exists():
                answer = json.loads(path.read_text())
                cached = True
            else:
                answer = self._call(body)
                cached = False
            narration = parse(answer, len(ep.steps))
        except NarrationError as e:
            self.stats.fell_back[e.reason] += 1
            log.warning("episode %s keeps its templates: %s", ep.episode_id, e)
            return None
        self._failures = 0
        if not cached:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(answer, sort_keys=True))
        if any(finding(t) for t in _texts(narration)):
            # the model wrote something that looks like a secret: not published
            self.stats.fell_back["privacy_rule"] += 1
            return None
        if cached:
            self.stats.cached += 1
        else:
            self.stats.generated += 1
        return narration

    def _request(self, ep: Episode) -> dict[str, Any]:
        task = {
            "place": ep.place,
            "draft_instruction": ep.instruction,
            "steps": [f"{i + 1}. {s}" for i, s in enumerate(ep.steps)],
        }
        content: Any = json.dumps(task, ensure_ascii=False)
        if self.endpoint.send_frames and self.frame_bytes is not None:
            parts: list[dict[str, Any]] = [{"type": "text", "text": content}]
            for sid in [f for f in ep.frames if f][:MAX_FRAMES]:
                data = self.frame_bytes(sid)
                if data:
                    url = "data:image/webp;base64," + base64.b64encode(data).decode()
                    parts.append({"type": "image_url", "image_url": {"url": url}})
            content = parts
        return {
            "model": self.endpoint.model,
            "temperature": 0,
            "response_format": {"type": "json_object"},
            "messages": [
                {"role": "system", "content": _SYSTEM},
                {"role": "user", "content": content},
            ],
        }

    def _call(self, body: dict[str, Any]) -> dict[str, Any]:
        import httpx

        headers = {"Content-Type": "application/json"}
        if self.endpoint.api_key:
            headers["Authorization"] = f"Bearer {self.endpoint.api_key}"
        url = self.endpoint.base_url.rstrip("/") + "/chat/completions"
        try:
            client = self._client or httpx
            r = client.post(url, json=body, headers=headers, timeout=self.endpoint.timeout_s)
        except httpx.TimeoutException as e:
            self._failures += 1
            raise NarrationError("timeout", str(e)) from None
        except httpx.HTTPError as e:
            self._failures += 1
            raise NarrationError("unreachable", str(e)) from None
        if r.status_code != 200:
            self._failures += 1
            raise NarrationError("http_error", f"HTTP {r.status_code}: {r.text[:200]}")
        try:
            answer: dict[str, Any] = r.json()
        except ValueError:
            self._failures += 1
            raise NarrationError("bad_answer", "not JSON") from None
        return answer


def parse(answer: dict[str, Any], n_steps: int) -> Narration:
    """A chat-completions answer as a Narration; NarrationError when it is not one."""
    try:
        content = answer["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise NarrationError("bad_answer", "no message") from None
    if not isinstance(content, str):
        raise NarrationError("bad_answer", "no text")
    # some servers wrap JSON in a code fence even when asked for a JSON object
    match = re.search(r"\{.*\}", content, re.S)
    try:
        data = json.loads(match.group(0) if match else content)
    except ValueError:
        raise NarrationError("bad_answer", "the message is not a JSON object") from None
    if not isinstance(data, dict):
        raise NarrationError("bad_answer", "the message is not a JSON object")
    instruction = data.get("instruction")
    steps = data.get("steps")
    if not isinstance(instruction, str) or not instruction.strip():
        raise NarrationError("bad_answer", "no instruction")
    if not isinstance(steps, list) or len(steps) != n_steps:
        raise NarrationError("wrong_step_count", f"{n_steps} steps asked")

    def text(step: Any, key: str) -> str:
        value = step.get(key) if isinstance(step, dict) else None
        return " ".join(value.split()) if isinstance(value, str) else ""

    return Narration(
        instruction=" ".join(instruction.split()),
        observations=tuple(text(s, "observation") for s in steps),
        thoughts=tuple(text(s, "thought") for s in steps),
        reflections=tuple(text(s, "reflection") for s in steps),
    )


def _texts(n: Narration) -> list[str]:
    return [n.instruction, *n.observations, *n.thoughts, *n.reflections]
