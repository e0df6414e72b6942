#!/usr/bin/env python3
"""darkerserver: a small user service, as companies run it, with WeCom news.

A runnable example of the server the integration targets: ``http.server``
(``ThreadingHTTPServer``) with a ``MyHandler`` whose ``POST /add_user``
takes ``{"user": {...}}`` and calls ``add_users(new_user)``. The
integration is two lines: the ``wecom_notify`` import and the
``notify_user_added(new_user)`` call after a successful ``add_users``.

Endpoints:

* ``POST /add_user`` with ``{"user": {"username": "alice", ...}}``. As in
  the original server the answer is ``200 {"success": true, "output":
  <add_users result>}`` whenever the request was well formed, *also when
  add_users refused the user* (a duplicate username): ``output.success``
  tells the outcome. A malformed request (no or bad Content-Length, not
  JSON, no ``user``, wrong field types or values) gets
  ``400 {"error": "..."}``; a body over 64 KiB gets 413.
* ``GET /users``: ``{"users": [...]}``, in the order they were added.

Run: ``python3 darkerserver.py [--port 8000] [--host 127.0.0.1]
[--data FILE] [--quiet]``.
"""

import argparse
import datetime
import functools
import json
import logging
import os
import re
import signal
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from wecom_notify import notify_user_added

logger = logging.getLogger("darkerserver")

#: Largest request body accepted, in bytes.
MAX_BODY_BYTES = 64 * 1024
#: Longest username, in characters.
USERNAME_MAX_CHARS = 64
#: Longest value of an optional field, in characters.
FIELD_MAX_CHARS = 256
#: Optional string fields a user may have besides ``username``.
OPTIONAL_FIELDS = ("display_name", "email", "phone", "department", "title")

_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
# Optional fields may hold tabs and line breaks (a multi-line title or
# department arrives as it was typed); other control characters never mean
# anything in a user record.
_FIELD_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_PHONE = re.compile(r"\+?[0-9][0-9 ()\-]*")


def validate_user(user):
    """None when *user* is acceptable, else a message naming the field."""
    if not isinstance(user, dict):
        return f"'user' must be a JSON object, got {_json_type(user)}"
    unknown = sorted(set(user) - {"username", *OPTIONAL_FIELDS})
    if unknown:
        allowed = ", ".join(("username",) + OPTIONAL_FIELDS)
        return (
            f"unknown field(s) in 'user': {', '.join(unknown)} "
            f"(allowed: {allowed})"
        )
    username = user.get("username")
    if username is None:
        return "'user.username' is required"
    if not isinstance(username, str):
        return f"'user.username' must be a string, got {_json_type(username)}"
    if not username.strip():
        return "'user.username' must not be empty"
    if username != username.strip() or _CONTROL_CHARS.search(username):
        return (
            "'user.username' must not have surrounding spaces or control "
            "characters"
        )
    if len(username) > USERNAME_MAX_CHARS:
        return (
            f"'user.username' is longer than {USERNAME_MAX_CHARS} characters"
        )
    for field in OPTIONAL_FIELDS:
        if field not in user:
            continue
        value = user[field]
        if not isinstance(value, str):
            return f"'user.{field}' must be a string, got {_json_type(value)}"
        if len(value) > FIELD_MAX_CHARS:
            return (
                f"'user.{field}' is longer than {FIELD_MAX_CHARS} characters"
            )
        if _FIELD_CONTROL_CHARS.search(value):
            return (
                f"'user.{field}' must not contain control characters "
                "other than tabs and line breaks"
            )
    if user.get("email") and not _EMAIL.fullmatch(user["email"]):
        return "'user.email' must look like name@example.com"
    if user.get("phone") and not _PHONE.fullmatch(user["phone"]):
        return (
            "'user.phone' may hold only digits, spaces, '+', '-', '(' and ')'"
        )
    return None


def _json_type(value):
    """The JSON name of *value*'s type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


class StoreError(Exception):
    """The data file cannot be used (unreadable or corrupt)."""


class UserStore:
    """Users kept in memory and appended to a JSON Lines file.

    One user a line: appending keeps an add O(1) however many users exist,
    and a crash in the middle of a write can only leave a partial last line,
    which the next start drops. One lock makes "check for a duplicate,
    write, remember" atomic. A line is handed to the OS before the add is
    reported, so it survives the process dying; it is not fsync'ed (that
    costs milliseconds per user under the lock), so an OS crash may lose
    the last few users.
    """

    def __init__(self, path):
        self.path = os.path.abspath(path)
        self._lock = threading.Lock()
        self._users = {}
        self._load()

    def _load(self):
        try:
            with open(self.path, "rb") as file:
                data = file.read()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StoreError(f"cannot read {self.path}: {exc}") from exc
        complete = data.rfind(b"\n") + 1
        if complete < len(data):
            logger.warning(
                "%s: dropping an incomplete last line (%d bytes) left by an "
                "interrupted write",
                self.path,
                len(data) - complete,
            )
            with open(self.path, "r+b") as file:
                file.truncate(complete)
        lines = data[:complete].splitlines()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                username = record["username"]
                if not isinstance(username, str):
                    raise TypeError("username is not a string")
            except (ValueError, KeyError, TypeError) as exc:
                raise StoreError(
                    f"{self.path} line {number} is not a user record "
                    f"({exc}); fix or move the file"
                ) from exc
            self._users.setdefault(username, record)

    def add(self, user):
        """Add *user*; return ``{"success": bool, "message": str, ...}``."""
        problem = validate_user(user)
        if problem is not None:
            return {"success": False, "message": problem}
        names = ("username",) + OPTIONAL_FIELDS
        fields = {key: user[key] for key in names if key in user}
        username = fields["username"]
        record = dict(fields, created_at=_now())
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            if username in self._users:
                return _failure(f"user {username!r} already exists")
            try:
                with open(self.path, "a", encoding="utf-8") as file:
                    file.write(line)
            except OSError as exc:
                logger.error(
                    "cannot save user %r to %s: %s", username, self.path, exc
                )
                return _failure(f"could not save user {username!r}")
            self._users[username] = record
        return {
            "success": True,
            "message": f"user {username!r} added",
            "user": fields,
        }

    def list(self):
        """All users, oldest first."""
        with self._lock:
            return list(self._users.values())


def _failure(message):
    return {"success": False, "message": message}


def _now():
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.isoformat(timespec="seconds")


_store = None


def open_store(path):
    """Open (or create) the data file `add_users` uses; return the store."""
    global _store
    _store = UserStore(path)
    return _store


def add_users(new_user):
    """Add *new_user* to the open store.

    Returns ``{"success": bool, "message": str}``, plus ``"user"`` (the
    stored fields) on success.
    """
    if _store is None:
        return _failure("no user store is open")
    return _store.add(new_user)


class BadRequest(Exception):
    """A request answered with a 4xx and ``{"error": message}``."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def _answer_500_on_error(method):
    """Turn an unexpected exception in a handler method into a JSON 500."""

    @functools.wraps(method)
    def guarded(self):
        try:
            method(self)
        except Exception:
            self._internal_error()

    return guarded


class MyHandler(BaseHTTPRequestHandler):
    """darkerserver's HTTP API."""

    # Keep-alive: every reply carries a Content-Length.
    protocol_version = "HTTP/1.1"
    server_version = "darkerserver/1.0"
    # Seconds an idle keep-alive connection may hold a thread.
    timeout = 60
    # Headers and body leave in two writes; with Nagle's algorithm on, a
    # keep-alive client's delayed ACK would stall every reply by ~40 ms.
    disable_nagle_algorithm = True

    def _send_response(self, code, obj):
        """Reply *code* with *obj* as JSON."""
        body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _read_json_body(self):
        """The request body parsed as JSON, or `BadRequest`."""
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise BadRequest(
                400, "send the body with a Content-Length, not chunked"
            )
        length = self.headers.get("Content-Length")
        if length is None:
            self.close_connection = True
            raise BadRequest(400, "missing Content-Length header")
        if not length.strip().isdigit():
            self.close_connection = True
            raise BadRequest(400, f"invalid Content-Length header: {length!r}")
        length = int(length)
        if length > MAX_BODY_BYTES:
            # The unread body must not be taken for the next request.
            self.close_connection = True
            raise BadRequest(413, f"request body over {MAX_BODY_BYTES} bytes")
        raw = self.rfile.read(length)
        if len(raw) < length:
            self.close_connection = True
            raise BadRequest(400, "request body shorter than Content-Length")
        try:
            return json.loads(raw.decode("utf-8"))
        except ValueError as exc:  # includes UnicodeDecodeError
            raise BadRequest(
                400, f"request body is not valid UTF-8 JSON: {exc}"
            ) from exc

    def _new_user_from_request(self):
        """The ``user`` of a well-formed ``/add_user`` request."""
        body = self._read_json_body()
        if not isinstance(body, dict):
            raise BadRequest(
                400, f"the body must be a JSON object, got {_json_type(body)}"
            )
        if "user" not in body:
            raise BadRequest(
                400, 'missing "user": send {"user": {"username": "..."}}'
            )
        problem = validate_user(body["user"])
        if problem is not None:
            raise BadRequest(400, problem)
        return body["user"]

    @_answer_500_on_error
    def do_POST(self):
        """``POST /add_user``."""
        if urllib.parse.urlsplit(self.path).path == "/add_user":
            try:
                new_user = self._new_user_from_request()
            except BadRequest as exc:
                self._send_response(exc.status, {"error": exc.message})
                return
            resulting = add_users(new_user)
            if resulting.get('success'):
                notify_user_added(new_user)
            # As in the original server: 200 with add_users' result as
            # "output", also when it refused the user.
            self._send_response(200, {"success": True, "output": resulting})
        else:
            self.close_connection = True  # the body was not read
            self._send_response(404, _no_such_endpoint("POST", self.path))

    @_answer_500_on_error
    def do_GET(self):
        """``GET /users``."""
        if urllib.parse.urlsplit(self.path).path == "/users":
            users = _store.list() if _store is not None else []
            self._send_response(200, {"users": users})
        else:
            self._send_response(404, _no_such_endpoint("GET", self.path))

    def _internal_error(self):
        logger.exception("error while handling %s %s", self.command, self.path)
        self.close_connection = True
        try:
            self._send_response(
                500, {"error": "internal server error (see the server log)"}
            )
        except OSError:
            pass

    def log_message(self, format, *args):  # noqa: A002 (the base's name)
        """Access log through `logging`, unless the server is ``quiet``."""
        if not getattr(self.server, "quiet", False):
            logger.info("%s %s", self.address_string(), format % args)

    def log_error(self, format, *args):  # noqa: A002
        """Protocol errors (bad request line, timeouts), even when quiet."""
        logger.warning("%s %s", self.address_string(), format % args)


def _no_such_endpoint(method, path):
    return {"error": f"no such endpoint: {method} {path}"}


class DarkerHTTPServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` with a listen backlog fit for bursts."""

    # socketserver's default of 5 drops connection attempts from a burst of
    # clients; each dropped SYN costs that client a 1 s retransmission.
    request_queue_size = 128


def make_server(host="127.0.0.1", port=8000, data_path="users.jsonl",
                quiet=False):
    """Open the data file and bind the server (port 0: any free port)."""
    open_store(data_path)
    server = DarkerHTTPServer((host, port), MyHandler)
    server.quiet = quiet
    return server


def serve_until_signalled(server):
    """Serve until SIGTERM or SIGINT, then stop and close the socket."""
    stopping = threading.Event()

    def stop(signum, frame):
        if not stopping.is_set():
            stopping.set()
            name = signal.Signals(signum).name
            logger.info("received %s, shutting down", name)
            # shutdown() waits for serve_forever(), running in this thread.
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def main(argv=None):
    """Command line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        description="darkerserver (example) with WeCom notifications"
    )
    parser.add_argument(
        "--host", default="127.0.0.1",
        help="address to listen on (default 127.0.0.1)",
    )
    parser.add_argument(
        "--port", type=int, default=8000,
        help="port (default 8000; 0 picks a free one)",
    )
    parser.add_argument(
        "--data", default="users.jsonl",
        help="user data file, JSON Lines (default users.jsonl)",
    )
    parser.add_argument("--quiet", action="store_true", help="no access log")
    parser.add_argument(
        "--log-level", default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
    )
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        server = make_server(args.host, args.port, args.data, args.quiet)
    except (StoreError, OSError) as exc:
        print(f"darkerserver: {exc}", file=sys.stderr)
        return 1
    host, port = server.server_address[:2]
    print(
        f"darkerserver listening on http://{host}:{port} "
        f"(data: {_store.path})",
        flush=True,
    )
    serve_until_signalled(server)
    print("darkerserver stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
