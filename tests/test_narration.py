"""The model-written instructions and step annotations (worktape.publish.narration),
against a fake server that speaks the OpenAI chat-completions API over real HTTP: the
same request every OpenAI-compatible server (vLLM, Ollama, llama.cpp) takes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from worktape.publish.narration import Endpoint, Episode, Narrator


class FakeChatServer:
    """Answers POST /v1/chat/completions with `reply(body)` (a message text, or an int
    for an HTTP error), and records every request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.reply: Any = _good_reply
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(
                    {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                )
                out = fake.reply(body)
                if isinstance(out, int):
                    self.send_response(out)
                    self.end_headers()
                    self.wfile.write(b"{}")
                    return
                data = json.dumps(
                    {
                        "id": "chatcmpl-1",
                        "object": "chat.completion",
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": out},
                            }
                        ],
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True  # a request left hanging does not hold close()
        self.server.block_on_close = False
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _good_reply(body: dict[str, Any]) -> str:
    task = json.loads(
        body["messages"][1]["content"]
        if isinstance(body["messages"][1]["content"], str)
        else body["messages"][1]["content"][0]["text"]
    )
    steps = [
        {
            "observation": f"The screen before step {i + 1}.",
            "thought": f"Step {i + 1} moves the task on.",
            "reflection": f"Step {i + 1} is done.",
        }
        for i in range(len(task["steps"]))
    ]
    # as some servers do: the JSON object in a code fence
    return (
        "```json\n"
        + json.dumps({"instruction": "File a taxi expense in Expenses.", "steps": steps})
        + "\n```"
    )


@pytest.fixture
def fake_server() -> Iterator[FakeChatServer]:
    s = FakeChatServer()
    yield s
    s.close()


EPISODE = Episode(
    episode_id="e1",
    place="Expenses (chromium)",
    instruction="In Expenses, click 'New expense', fill in Merchant and Amount, and click 'Save'",
    steps=("Click 'New expense'", "Type 'Taxi' into 'Merchant'", "Click 'Save'"),
    frames=("b1-000001", None, "b1-000002"),
)


def test_a_fake_server_writes_the_instruction_and_step_annotations_cached_by_request(
    fake_server: FakeChatServer, tmp_path: Path
) -> None:
    endpoint = Endpoint(fake_server.url, "qwen2.5-vl", api_key="sk-test-key")
    first = Narrator(endpoint, tmp_path / "cache").narrate(EPISODE)
    assert first is not None
    assert first.instruction == "File a taxi expense in Expenses."
    assert first.thoughts == (
        "Step 1 moves the task on.",
        "Step 2 moves the task on.",
        "Step 3 moves the task on.",
    )
    (req,) = fake_server.requests
    assert req["path"] == "/v1/chat/completions"
    assert req["auth"] == "Bearer sk-test-key"
    assert req["body"]["model"] == "qwen2.5-vl" and req["body"]["temperature"] == 0
    assert isinstance(req["body"]["messages"][1]["content"], str)  # no frames: not allowed

    again = Narrator(endpoint, tmp_path / "cache")
    assert again.narrate(EPISODE) == first
    assert len(fake_server.requests) == 1  # a rerun asks nothing
    assert again.stats.as_dict() == {
        "source": "model",
        "endpoint": f"qwen2.5-vl at {fake_server.url}",
        "episodes": 1,
        "generated": 0,
        "cached": 1,
        "fell_back": {},
    }


def test_frames_go_to_a_fake_server_only_when_allowed(
    fake_server: FakeChatServer, tmp_path: Path
) -> None:
    frames = {"b1-000001": b"RIFF-one", "b1-000002": b"RIFF-two"}
    endpoint = Endpoint(fake_server.url, "m", send_frames=True)
    got = Narrator(endpoint, tmp_path / "cache", frame_bytes=frames.get).narrate(EPISODE)
    assert got is not None
    parts = fake_server.requests[0]["body"]["messages"][1]["content"]
    urls = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    assert [u.split(",")[0] for u in urls] == ["data:image/webp;base64"] * 2


@pytest.mark.parametrize(
    "reply,reason",
    [
        (lambda body: 500, "http_error"),
        (lambda body: "no JSON here", "bad_answer"),
        (lambda body: json.dumps({"instruction": "x", "steps": []}), "wrong_step_count"),
        (
            lambda body: json.dumps(
                {
                    "instruction": "Mail the receipt to jane.doe@example.com",
                    "steps": [{"observation": "", "thought": "", "reflection": ""}] * 3,
                }
            ),
            "privacy_rule",
        ),
    ],
)
def test_an_answer_a_fake_server_gets_wrong_leaves_the_templates(
    fake_server: FakeChatServer, tmp_path: Path, reply: Any, reason: str
) -> None:
    fake_server.reply = reply
    n = Narrator(Endpoint(fake_server.url, "m"), tmp_path / "cache")
    assert n.narrate(EPISODE) is None
    assert n.stats.fell_back == {reason: 1}
    assert n.stats.generated == 0


def test_an_unreachable_or_slow_endpoint_is_given_up_after_a_few_episodes_fake_server(
    fake_server: FakeChatServer, tmp_path: Path
) -> None:
    slow = threading.Event()

    def hang(body: dict[str, Any]) -> str:
        slow.wait(5)
        return "late"

    fake_server.reply = hang
    n = Narrator(Endpoint(fake_server.url, "m", timeout_s=0.2), tmp_path / "cache", max_failures=2)
    episodes = [Episode(f"e{i}", "x", "y", ("Click 'OK'",)) for i in range(5)]
    assert n.narrate_all(episodes) == {}
    slow.set()
    assert n.stats.fell_back == {"timeout": 2, "endpoint_unavailable": 3}
    down = Narrator(
        Endpoint("http://127.0.0.1:9/v1", "m", timeout_s=1), tmp_path / "c2", max_failures=1
    )
    assert down.narrate_all(episodes[:2]) == {}
    assert down.stats.fell_back == {"unreachable": 1, "endpoint_unavailable": 1}
