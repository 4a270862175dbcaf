"""The corpus web apps, served from localhost: `/<app>/` is an app, `/static/` its
scripts, and `POST /layout` is where a page says what it shows and where its targets
are, so that a scripted user can point the real mouse at them."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

WEB = Path(__file__).with_name("web")
APPS = ("ledgerly", "orbit", "helpdesk", "postbox", "quill", "banter")


@dataclass
class Layout:
    app: str
    view: str
    seq: int
    visible: bool
    chrome: tuple[float, float]  # the page's left and top offset inside the browser window
    targets: dict[str, tuple[float, float, float, float]]  # x, y, width, height in the page


class Layouts:
    """The latest layout each app's page reported."""

    def __init__(self) -> None:
        self._by_app: dict[str, Layout] = {}
        self._changed = threading.Condition()

    def put(self, layout: Layout) -> None:
        with self._changed:
            self._by_app[layout.app] = layout
            self._changed.notify_all()

    def wait(self, app: str, view: str, timeout: float = 20.0, after: int = 0) -> Layout:
        """The layout of `app` once it shows `view` (and is newer than seq `after`)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                got = self._by_app.get(app)
                if got and got.view == view and got.seq > after and got.visible:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = f"{got.view} (seq {got.seq})" if got else "nothing"
                    raise TimeoutError(f"{app} did not show {view!r} within {timeout:g} s: {seen}")
                self._changed.wait(left)

    def wait_any(self, app: str, timeout: float = 20.0) -> Layout:
        """The first layout `app` reports, whatever it shows."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while app not in self._by_app:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{app} reported no layout within {timeout:g} s")
                self._changed.wait(left)
            return self._by_app[app]

    def latest(self, app: str) -> Layout | None:
        with self._changed:
            return self._by_app.get(app)


def _handler(layouts: Layouts) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            parts = self.path.split("?")[0].strip("/").split("/")
            if parts[0] == "static" and len(parts) == 2 and parts[1] in ("shell.js", "apps.js"):
                self._send(WEB / parts[1], "text/javascript")
            elif parts[0] in APPS:
                self._send(WEB / "app.html", "text/html")
            else:
                self.send_error(HTTPStatus.NOT_FOUND)

        def do_POST(self) -> None:
            if self.path != "/layout":
                self.send_error(HTTPStatus.NOT_FOUND)
                return
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
            layouts.put(
                Layout(
                    app=body["app"],
                    view=body["view"],
                    seq=int(body["seq"]),
                    visible=bool(body["visible"]),
                    chrome=(float(body["chrome"][0]), float(body["chrome"][1])),
                    targets={k: tuple(v) for k, v in body["targets"].items()},
                )
            )
            self.send_response(HTTPStatus.NO_CONTENT)
            self.end_headers()

        def _send(self, path: Path, kind: str) -> None:
            data = path.read_bytes()
            self.send_response(HTTPStatus.OK)
            self.send_header("content-type", f"{kind}; charset=utf-8")
            self.send_header("content-length", str(len(data)))
            self.send_header("cache-control", "no-store")
            self.end_headers()
            self.wfile.write(data)

    return Handler


class WebApps:
    """The apps on a free localhost port, served from a thread."""

    def __init__(self) -> None:
        self.layouts = Layouts()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.layouts))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, app: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/{app}/"

    def __enter__(self) -> WebApps:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
