"""A fake wecom-relay for the tests: records every request, answers as told.

It listens on 127.0.0.1 on a free port. By default it answers like the real
relay, ``202 {"id": "ntf-<n>", "status": "queued"}``; `FakeRelay.answer`
scripts the next replies (any status and body, a delay, or closing the
connection without a word).
"""

import collections
import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Request = collections.namedtuple("Request", "method path headers body")


class Reply:
    """How the fake relay answers one request.

    *body* is a dict (sent as JSON), bytes, or None for the relay's usual
    answer; *delay* (seconds) is cut short by `FakeRelay.release_all`;
    *close* closes the connection instead of answering.
    """

    def __init__(self, status=202, body=None, headers=None, delay=0.0,
                 close=False):
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.delay = delay
        self.close = close


class FakeRelay:
    """A ``ThreadingHTTPServer`` playing the relay; a context manager."""

    def __init__(self, default=None):
        self.default = default or Reply()
        self._requests = []
        self._changed = threading.Condition()
        self._script = collections.deque()
        self._released = threading.Event()
        self._sockets = set()
        self._server = ThreadingHTTPServer(
            ("127.0.0.1", 0), _handler_for(self)
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
        )
        self._thread.start()

    @property
    def url(self):
        """Base URL, e.g. ``http://127.0.0.1:41234``."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def requests(self):
        """The requests received so far, oldest first."""
        with self._changed:
            return list(self._requests)

    def answer(self, *replies):
        """Use *replies* for the next requests, then the default again."""
        with self._changed:
            self._script.extend(replies)

    def wait_for_requests(self, count, timeout=5.0):
        """Wait until *count* requests arrived; return them (maybe fewer)."""
        with self._changed:
            self._changed.wait_for(
                lambda: len(self._requests) >= count, timeout
            )
            return list(self._requests)

    def release_all(self):
        """End every delay now, and any later one at once."""
        self._released.set()

    def drop_connections(self):
        """Close the server side of every open (keep-alive) connection."""
        with self._changed:
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        """Stop serving and free the port."""
        self.release_all()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _record(self, request):
        with self._changed:
            self._requests.append(request)
            reply = self._script.popleft() if self._script else self.default
            self._changed.notify_all()
            return reply, len(self._requests)

    def _track(self, sock, is_open):
        with self._changed:
            if is_open:
                self._sockets.add(sock)
            else:
                self._sockets.discard(sock)


def _handler_for(relay):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def setup(self):
            super().setup()
            relay._track(self.connection, True)

        def finish(self):
            relay._track(self.connection, False)
            super().finish()

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            request = Request("POST", self.path, self.headers, body)
            reply, number = relay._record(request)
            if reply.delay:
                relay._released.wait(reply.delay)
            if reply.close:
                self.close_connection = True
                return
            payload = reply.body
            if payload is None:
                payload = {"id": f"ntf-{number}", "status": "queued"}
            if isinstance(payload, dict):
                payload = json.dumps(payload).encode("utf-8")
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except OSError:  # the client gave up waiting, as some tests do
                self.close_connection = True

        def log_message(self, format, *args):  # noqa: A002
            pass

    return Handler


def relay_free_environment(**extra):
    """A copy of ``os.environ`` without WECOM_RELAY_* settings, + *extra*."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("WECOM_RELAY_")
    }
    env.update(extra)
    return env


def unused_port():
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout=5.0, interval=0.01):
    """Poll *predicate* until true or *timeout* s pass; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)
