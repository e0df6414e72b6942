"""Tests of the example darkerserver, alone and with a fake relay."""

import http.client
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from unittest import mock

import darkerserver
import wecom_notify
from fake_relay import (
    FakeRelay,
    Reply,
    relay_free_environment,
    unused_port,
    wait_until,
)

HERE = os.path.dirname(os.path.abspath(__file__))
DEADLINE = 10.0
TOKEN = "tok-darker-5a5a"


def http_request(port, method, path, body=None):
    """One request to 127.0.0.1:*port*; (status, raw body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE)
    try:
        conn.request(method, path, body=body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class RunningServer:
    """An in-process darkerserver on a free port with an empty data file."""

    def __init__(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.data_path = os.path.join(self._tmp.name, "users.jsonl")
        self._server = darkerserver.make_server(
            "127.0.0.1", 0, self.data_path, quiet=True
        )
        self.port = self._server.server_address[1]
        threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
        ).start()

    def request(self, method, path, body=None):
        """(status, raw body); *body* may be bytes or a JSON-able object."""
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode("utf-8")
        return http_request(self.port, method, path, body)

    def close(self):
        """Stop serving and delete the data file."""
        self._server.shutdown()
        self._server.server_close()
        self._tmp.cleanup()


class ServerTestCase(unittest.TestCase):
    """A fresh `RunningServer` per test, with no relay configured."""

    def setUp(self):
        patcher = mock.patch.dict(
            os.environ, relay_free_environment(), clear=True
        )
        patcher.start()
        self.addCleanup(patcher.stop)
        # The one-time warning is tested in test_wecom_notify.
        warned = mock.patch.object(wecom_notify._no_url_warning, "given", True)
        warned.start()
        self.addCleanup(warned.stop)
        self.server = RunningServer()
        self.addCleanup(self.server.close)
        self.data_path = self.server.data_path
        self.port = self.server.port
        self.request = self.server.request

    def add_user(self, user_or_body, raw=False):
        """POST /add_user with {"user": ...} (or *raw*): (status, JSON)."""
        body = user_or_body if raw else {"user": user_or_body}
        status, data = self.request("POST", "/add_user", body)
        return status, json.loads(data)

    def users(self):
        """The usernames GET /users lists."""
        status, data = self.request("GET", "/users")
        self.assertEqual(status, 200)
        return [user["username"] for user in json.loads(data)["users"]]

    def assert_bad_request(self, body, expected, status=400):
        """/add_user answers *status* with an error containing *expected*."""
        code, reply = self.add_user(body, raw=True)
        self.assertEqual(code, status, reply)
        self.assertEqual(list(reply), ["error"])
        self.assertIn(expected, reply["error"])


class AddUserTest(ServerTestCase):
    def test_happy_path(self):
        user = {
            "username": "alice",
            "display_name": "Alice",
            "email": "alice@example.com",
        }
        status, reply = self.add_user(user)
        self.assertEqual(status, 200)
        output = {
            "success": True,
            "message": "user 'alice' added",
            "user": user,
        }
        self.assertEqual(reply, {"success": True, "output": output})
        _, data = self.request("GET", "/users")
        [listed] = json.loads(data)["users"]
        self.assertEqual(listed["username"], "alice")
        self.assertIn("created_at", listed)

    def test_line_breaks_quotes_chinese_and_emoji_are_kept(self):
        user = {
            "username": "王小明\"🚀'",
            "display_name": 'Bob "the builder" O\'Neil',
            "department": "研发部\t🌟",
            "title": "Lead\nEngineer\r\n(第二行)",
        }
        status, reply = self.add_user(user)
        self.assertEqual(status, 200)
        self.assertEqual(reply["output"]["user"], user)
        [stored] = darkerserver.UserStore(self.data_path).list()
        self.assertEqual(stored["title"], user["title"])

    def test_users_persist_across_restarts(self):
        self.add_user({"username": "alice"})
        self.add_user({"username": "bob", "department": "R&D"})
        reopened = darkerserver.UserStore(self.data_path)
        names = [user["username"] for user in reopened.list()]
        self.assertEqual(names, ["alice", "bob"])
        self.assertFalse(reopened.add({"username": "bob"})["success"])

    def test_duplicate_is_200_with_success_false_output(self):
        self.add_user({"username": "alice"})
        status, reply = self.add_user(
            {"username": "alice", "display_name": "Other"}
        )
        self.assertEqual(status, 200)
        output = {"success": False, "message": "user 'alice' already exists"}
        self.assertEqual(reply, {"success": True, "output": output})
        self.assertEqual(self.users(), ["alice"])

    def test_concurrent_adds_of_one_username_keep_one(self):
        results = []

        def add():
            _, reply = self.add_user({"username": "racer"})
            results.append(reply["output"]["success"])

        threads = [threading.Thread(target=add) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(DEADLINE)
        self.assertEqual(sorted(results), [False] * 7 + [True])
        stored = darkerserver.UserStore(self.data_path).list()
        self.assertEqual(len(stored), 1)

    def test_bad_json(self):
        self.assert_bad_request(b'{"user": ', "not valid UTF-8 JSON")
        self.assert_bad_request(b"\xff\xfe", "not valid UTF-8 JSON")
        self.assert_bad_request(b"", "not valid UTF-8 JSON")

    def test_missing_user(self):
        self.assert_bad_request({"username": "alice"}, 'missing "user"')
        self.assert_bad_request({}, 'missing "user"')

    def test_wrong_types(self):
        def user(**fields):
            return {"user": dict({"username": "a"}, **fields)}

        cases = [
            ([user()], "body must be a JSON object"),
            ("alice", "body must be a JSON object"),
            ({"user": "alice"}, "'user' must be a JSON object"),
            ({"user": None}, "'user' must be a JSON object"),
            ({"user": {}}, "'user.username' is required"),
            ({"user": {"username": 5}}, "'user.username' must be a string"),
            ({"user": {"username": ""}}, "'user.username' must not be empty"),
            ({"user": {"username": " al"}}, "surrounding spaces"),
            ({"user": {"username": "a" * 65}}, "longer than 64"),
            (user(email=["x"]), "'user.email' must be a string"),
            (user(phone=None), "'user.phone' must be a string"),
            (user(email="nope"), "'user.email' must look like"),
            (user(phone="call me"), "'user.phone' may hold"),
            (user(role="admin"), "unknown field(s) in 'user': role"),
            (user(title="a\x00b"), "'user.title' must not contain control"),
            ({"user": {"username": "a\nb"}}, "control characters"),
        ]
        for body, expected in cases:
            with self.subTest(body=body):
                self.assert_bad_request(body, expected)
        self.assertEqual(self.users(), [])

    def test_missing_content_length(self):
        address = ("127.0.0.1", self.port)
        with socket.create_connection(address, timeout=DEADLINE) as sock:
            sock.sendall(b"POST /add_user HTTP/1.1\r\nHost: x\r\n\r\n")
            response = http.client.HTTPResponse(sock)
            response.begin()
            self.assertEqual(response.status, 400)
            self.assertEqual(
                json.loads(response.read()),
                {"error": "missing Content-Length header"},
            )

    def test_body_too_large(self):
        big = {"user": {"username": "a", "display_name": "x" * 70_000}}
        self.assert_bad_request(big, "over 65536 bytes", status=413)

    def test_unknown_endpoints(self):
        status, data = self.request("GET", "/nope")
        self.assertEqual(status, 404)
        self.assertIn("no such endpoint", json.loads(data)["error"])
        status, _ = self.request("POST", "/users", {"user": {"username": "a"}})
        self.assertEqual(status, 404)

    def test_unexpected_error_is_a_json_500(self):
        with mock.patch.object(
            darkerserver, "add_users", side_effect=RuntimeError("boom")
        ), self.assertLogs("darkerserver", "ERROR"):
            status, reply = self.add_user({"username": "alice"})
        self.assertEqual(status, 500)
        self.assertIn("internal server error", reply["error"])

    def test_add_users_refuses_bad_input_when_called_directly(self):
        for user in (None, "alice", {"username": 1}):
            with self.subTest(user=user):
                self.assertFalse(darkerserver.add_users(user)["success"])


class UserStoreTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.path = os.path.join(self.tmp.name, "users.jsonl")

    def write(self, text):
        with open(self.path, "w", encoding="utf-8") as file:
            file.write(text)

    def test_incomplete_last_line_is_dropped(self):
        self.write('{"username": "alice"}\n{"username": "bo')
        with self.assertLogs("darkerserver", "WARNING"):
            store = darkerserver.UserStore(self.path)
        self.assertTrue(store.add({"username": "bob"})["success"])
        stored = darkerserver.UserStore(self.path).list()
        self.assertEqual([u["username"] for u in stored], ["alice", "bob"])

    def test_corrupt_line_stops_start_up(self):
        for bad in ("not json", "[1]", '{"username": ["x"]}'):
            with self.subTest(bad=bad):
                self.write(f'{{"username": "alice"}}\n{bad}\n')
                with self.assertRaisesRegex(darkerserver.StoreError, "line 2"):
                    darkerserver.UserStore(self.path)


class NotificationTest(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.relay = FakeRelay()
        self.addCleanup(self.relay.close)
        self.addCleanup(
            lambda: self.assertTrue(wecom_notify.flush(DEADLINE))
        )
        os.environ["WECOM_RELAY_URL"] = self.relay.url
        os.environ["WECOM_RELAY_TOKEN"] = TOKEN

    def test_added_user_is_forwarded_to_the_relay(self):
        user = {"username": "alice", "display_name": "Alice"}
        with self.assertLogs("wecom_notify", "INFO") as logs:
            self.add_user(user)
            self.assertTrue(wecom_notify.flush(DEADLINE))
        [request] = self.relay.requests
        self.assertEqual(request.path, "/notify/user-added")
        self.assertEqual(json.loads(request.body), {"user": user})
        self.assertEqual(request.headers["Authorization"], "Bearer " + TOKEN)
        self.assertEqual(
            request.headers["Idempotency-Key"],
            wecom_notify.idempotency_key("alice"),
        )
        self.assertIn("accepted by the relay", logs.output[0])

    def test_only_successful_adds_notify(self):
        self.add_user({"username": "alice"})
        self.add_user({"username": "alice"})  # duplicate
        self.add_user({"username": 5})  # 400
        self.request("POST", "/add_user", b"junk")  # 400
        self.assertTrue(wecom_notify.flush(DEADLINE))
        self.assertEqual(len(self.relay.requests), 1)

    def test_add_user_does_not_wait_for_a_slow_relay(self):
        self.relay.default = Reply(delay=3.0)
        started = time.monotonic()
        status, reply = self.add_user({"username": "alice"})
        self.assertLess(time.monotonic() - started, 0.5)
        self.assertEqual(status, 200)
        self.assertTrue(reply["output"]["success"])
        self.assertEqual(len(self.relay.wait_for_requests(1)), 1)
        self.relay.release_all()


class SameAnswerTest(unittest.TestCase):
    """/add_user answers the same, byte for byte, whatever the relay does."""

    REQUESTS = [
        {"user": {"username": "alice", "email": "a@example.com"}},
        {"user": {"username": "alice"}},  # duplicate
        {"user": {"username": "张三", "department": "研发"}},
        {"user": {"username": 7}},  # 400
    ]

    def answers(self, **env):
        """REQUESTS on a fresh server with *env*: (answers, log lines)."""
        logs = _ListHandler()
        previous_level = wecom_notify.logger.level
        wecom_notify.logger.addHandler(logs)
        wecom_notify.logger.setLevel(logging.INFO)
        environment = relay_free_environment(**env)
        with mock.patch.dict(os.environ, environment, clear=True):
            server = RunningServer()
            try:
                answers = [
                    server.request("POST", "/add_user", body)
                    for body in self.REQUESTS
                ]
                self.assertTrue(wecom_notify.flush(DEADLINE))
                return answers, logs.lines
            finally:
                server.close()
                wecom_notify.logger.removeHandler(logs)
                wecom_notify.logger.setLevel(previous_level)

    @mock.patch.object(wecom_notify._no_url_warning, "given", True)
    def test_byte_identical_answers(self):
        refusal = Reply(401, {"error": "bad token"})
        with FakeRelay() as relay, FakeRelay(refusal) as refusing:
            off, off_log = self.answers()
            on, on_log = self.answers(
                WECOM_RELAY_URL=relay.url, WECOM_RELAY_TOKEN=TOKEN
            )
            down, down_log = self.answers(
                WECOM_RELAY_URL=f"http://127.0.0.1:{unused_port()}"
            )
            refused, refused_log = self.answers(WECOM_RELAY_URL=refusing.url)
            # alice and 张三, once each
            self.assertEqual(len(relay.requests), 2)
            self.assertEqual(len(refusing.requests), 2)
        self.assertEqual([status for status, _ in off], [200, 200, 200, 400])
        self.assertEqual(on, off)
        self.assertEqual(down, off)
        self.assertEqual(refused, off)
        # ...and the outcome of each notification is in the log.
        self.assertEqual(off_log, [])
        self.assert_all_lines(on_log, "accepted by the relay")
        self.assert_all_lines(down_log, "connection refused")
        self.assert_all_lines(refused_log, "HTTP 401: bad token")

    def assert_all_lines(self, lines, expected):
        self.assertEqual(len(lines), 2, lines)
        for line in lines:
            self.assertIn(expected, line)


class _ListHandler(logging.Handler):
    """Keeps log messages in memory."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


class CommandLineTest(unittest.TestCase):
    """``python3 darkerserver.py``: URL printed, notifies, stops on SIGTERM."""

    def test_run_notify_and_stop_on_sigterm(self):
        with tempfile.TemporaryDirectory() as tmp, FakeRelay() as relay:
            proc, port = self.start_darkerserver(
                tmp, WECOM_RELAY_URL=relay.url, WECOM_RELAY_TOKEN=TOKEN
            )
            body = b'{"user":{"username":"alice"}}'
            status, _ = http_request(port, "POST", "/add_user", body)
            self.assertEqual(status, 200)
            self.assertTrue(wait_until(lambda: relay.requests, DEADLINE))

            proc.send_signal(signal.SIGTERM)
            stdout, stderr = proc.communicate(timeout=DEADLINE)
        self.assertEqual(proc.returncode, 0, stderr)
        self.assertIn("darkerserver stopped", stdout)
        self.assertIn("received SIGTERM", stderr)
        self.assertIn("accepted by the relay: id=ntf-1", stderr)
        self.assertNotIn(TOKEN, stderr + stdout)

    def test_sigterm_waits_briefly_for_a_notification_in_flight(self):
        with tempfile.TemporaryDirectory() as tmp, \
                FakeRelay(Reply(delay=0.5)) as relay:
            proc, port = self.start_darkerserver(
                tmp, WECOM_RELAY_URL=relay.url
            )
            body = b'{"user":{"username":"late"}}'
            status, _ = http_request(port, "POST", "/add_user", body)
            self.assertEqual(status, 200)
            relay.wait_for_requests(1)  # being sent, answer due in 0.5 s
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=DEADLINE)
        self.assertEqual(proc.returncode, 0, stderr)
        self.assertIn("'late' accepted by the relay", stderr)

    def test_unusable_data_file_is_a_clear_error(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "users.jsonl")
            with open(path, "w", encoding="utf-8") as file:
                file.write("garbage\n")
            proc = subprocess.run(
                [sys.executable, "darkerserver.py", "--port", "0",
                 "--data", path],
                cwd=HERE, capture_output=True, text=True, timeout=DEADLINE,
            )
        self.assertEqual(proc.returncode, 1)
        self.assertIn("line 1 is not a user record", proc.stderr)

    def start_darkerserver(self, data_dir, **env):
        """Run ``darkerserver.py --port 0`` with *env*: (process, port)."""
        proc = subprocess.Popen(
            [sys.executable, "darkerserver.py", "--port", "0",
             "--data", os.path.join(data_dir, "users.jsonl")],
            cwd=HERE, env=relay_free_environment(**env), text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self.addCleanup(_stop, proc)
        first_line = _read_line(proc.stdout, DEADLINE)
        prefix = "darkerserver listening on http://127.0.0.1:"
        if not first_line.startswith(prefix):
            proc.kill()
            _, stderr = proc.communicate()
            self.fail(f"darkerserver did not start: {first_line!r} {stderr}")
        return proc, int(first_line[len(prefix):].split()[0])


def _read_line(stream, timeout):
    """The next line of *stream*, or '' after *timeout* seconds."""
    lines = []
    reader = threading.Thread(
        target=lambda: lines.append(stream.readline()), daemon=True
    )
    reader.start()
    reader.join(timeout)
    return lines[0] if lines else ""


def _stop(proc):
    """Kill *proc* if it still runs, and close its pipes."""
    if proc.poll() is None:
        proc.kill()
    proc.communicate()


if __name__ == "__main__":
    unittest.main()
