"""Tests of wecom_notify against a fake relay on 127.0.0.1."""

import hashlib
import json
import logging
import os
import time
import unittest
from unittest import mock

import wecom_notify
from fake_relay import FakeRelay, Reply, relay_free_environment, unused_port

TOKEN = "tok-S3cr3t-9f8e7d"
DEADLINE = 10.0  # seconds any background send may take in these tests


def expected_key(username):
    digest = hashlib.sha256(username.encode("utf-8")).hexdigest()
    return "user-added:" + digest


class NotifyTestCase(unittest.TestCase):
    """A fresh fake relay per test, and no WECOM_RELAY_* in the environment."""

    def setUp(self):
        patcher = mock.patch.dict(
            os.environ, relay_free_environment(), clear=True
        )
        patcher.start()
        self.addCleanup(patcher.stop)
        self.relay = FakeRelay()
        self.addCleanup(self.relay.close)
        # Runs before relay.close (cleanups are LIFO): nothing left in flight.
        self.addCleanup(self._drain)

    def _drain(self):
        self.relay.release_all()
        self.assertTrue(
            wecom_notify.flush(DEADLINE), "background sends did not finish"
        )

    def notify(self, user, **kwargs):
        """notify_user_added with this test's relay and token by default."""
        kwargs.setdefault("relay_url", self.relay.url)
        kwargs.setdefault("token", TOKEN)
        return wecom_notify.notify_user_added(user, **kwargs)

    def notify_and_log(self, user, level="INFO", **kwargs):
        """Notify, wait for the background send: (queued, log text)."""
        with self.assertLogs("wecom_notify", level) as logs:
            queued = self.notify(user, **kwargs)
            self.assertTrue(wecom_notify.flush(DEADLINE))
        text = "\n".join(logs.output)
        self.assertNotIn(TOKEN, text)
        return queued, text


class RequestShapeTest(NotifyTestCase):
    def test_posts_user_with_bearer_and_idempotency_key(self):
        user = {
            "username": "alice",
            "display_name": "Alice",
            "email": "alice@example.com",
        }
        queued, log = self.notify_and_log(user)

        self.assertTrue(queued)
        [request] = self.relay.requests
        self.assertEqual(request.method, "POST")
        self.assertEqual(request.path, "/notify/user-added")
        self.assertEqual(json.loads(request.body), {"user": user})
        headers = request.headers
        self.assertEqual(headers["Authorization"], "Bearer " + TOKEN)
        self.assertEqual(headers["Idempotency-Key"], expected_key("alice"))
        self.assertTrue(headers["Content-Type"].startswith("application/json"))
        self.assertIn("accepted by the relay: id=ntf-1", log)

    def test_unicode_username_key_and_body(self):
        user = {"username": "张三", "department": "研发"}
        self.notify_and_log(user)
        [request] = self.relay.requests
        self.assertEqual(json.loads(request.body.decode()), {"user": user})
        self.assertEqual(
            request.headers["Idempotency-Key"], expected_key("张三")
        )

    def test_same_user_same_key_other_user_other_key(self):
        self.notify_and_log({"username": "bob"})
        self.notify_and_log({"username": "bob", "display_name": "Bob again"})
        self.notify_and_log({"username": "carol"})
        keys = [r.headers["Idempotency-Key"] for r in self.relay.requests]
        self.assertEqual(keys[0], keys[1])
        self.assertNotEqual(keys[0], keys[2])

    def test_settings_from_environment(self):
        os.environ["WECOM_RELAY_URL"] = self.relay.url + "/"
        os.environ["WECOM_RELAY_TOKEN"] = TOKEN + "\n"  # as read from a file
        with self.assertLogs("wecom_notify", "INFO"):
            queued = wecom_notify.notify_user_added({"username": "dave"})
            self.assertTrue(wecom_notify.flush(DEADLINE))
        self.assertTrue(queued)
        [request] = self.relay.requests
        self.assertEqual(request.path, "/notify/user-added")
        self.assertEqual(request.headers["Authorization"], "Bearer " + TOKEN)

    def test_arguments_win_over_environment(self):
        os.environ["WECOM_RELAY_URL"] = f"http://127.0.0.1:{unused_port()}"
        os.environ["WECOM_RELAY_TOKEN"] = "env-token"
        self.notify_and_log({"username": "erin"})
        [request] = self.relay.requests
        self.assertEqual(request.headers["Authorization"], "Bearer " + TOKEN)

    def test_relay_under_a_path_prefix(self):
        self.notify_and_log(
            {"username": "frank"}, relay_url=self.relay.url + "/wecom/"
        )
        [request] = self.relay.requests
        self.assertEqual(request.path, "/wecom/notify/user-added")

    def test_no_token_no_authorization_header(self):
        self.notify_and_log({"username": "gina"}, token="")
        [request] = self.relay.requests
        self.assertIsNone(request.headers.get("Authorization"))

    def test_user_is_serialised_when_called(self):
        dispatcher = wecom_notify._Dispatcher(workers=1, max_pending=10)
        with mock.patch.object(wecom_notify, "_dispatcher", dispatcher):
            self.relay.answer(Reply(delay=30))
            self.notify({"username": "blocker"})  # holds the only worker
            self.relay.wait_for_requests(1)
            user = {"username": "hank"}
            self.notify(user)
            user["username"] = "changed"  # before any worker could see it
            self.relay.release_all()
            self.assertTrue(dispatcher.flush(DEADLINE))
        body = json.loads(self.relay.requests[1].body)
        self.assertEqual(body, {"user": {"username": "hank"}})

    def test_reconnects_when_a_kept_alive_connection_was_closed(self):
        dispatcher = wecom_notify._Dispatcher(workers=1, max_pending=10)
        with mock.patch.object(wecom_notify, "_dispatcher", dispatcher):
            self.notify_and_log({"username": "ivan"})
            self.relay.drop_connections()
            _, log = self.notify_and_log({"username": "judy"})
        self.assertEqual(len(self.relay.requests), 2)
        self.assertIn("'judy' accepted by the relay", log)


class CallerNeverWaitsTest(NotifyTestCase):
    def test_returns_at_once_while_relay_takes_3_seconds(self):
        self.relay.default = Reply(delay=3.0)
        started = time.monotonic()
        queued = self.notify({"username": "slow"}, timeout=5.0)
        elapsed = time.monotonic() - started

        self.assertTrue(queued)
        self.assertLess(elapsed, 0.5)
        # The send really is under way in the background.
        self.assertEqual(len(self.relay.wait_for_requests(1)), 1)
        self.assertFalse(wecom_notify.flush(0.05))
        with self.assertLogs("wecom_notify", "INFO") as logs:
            self.relay.release_all()  # don't make the test last 3 s
            self.assertTrue(wecom_notify.flush(DEADLINE))
        self.assertIn("accepted by the relay", "\n".join(logs.output))

    def test_a_burst_does_not_wait_either(self):
        self.relay.default = Reply(delay=3.0)
        started = time.monotonic()
        for number in range(50):
            self.notify({"username": f"burst-{number}"})
        self.assertLess(time.monotonic() - started, 0.5)

    def test_full_queue_drops_with_a_clear_message(self):
        dispatcher = wecom_notify._Dispatcher(workers=1, max_pending=1)
        self.relay.default = Reply(delay=30)
        with mock.patch.object(wecom_notify, "_dispatcher", dispatcher):
            self.assertTrue(self.notify({"username": "first"}))  # sending
            self.relay.wait_for_requests(1)
            self.assertTrue(self.notify({"username": "second"}))  # waiting
            with self.assertLogs("wecom_notify", "ERROR") as logs:
                self.assertFalse(self.notify({"username": "third"}))
            self.relay.release_all()
            self.assertTrue(dispatcher.flush(DEADLINE))
        self.assertIn("'third' dropped", logs.output[0])
        self.assertIn("local queue full", logs.output[0])
        self.assertEqual(len(self.relay.requests), 2)


class RelayFailuresTest(NotifyTestCase):
    def test_401_logs_status_and_relay_error(self):
        self.relay.default = Reply(
            401, {"error": "missing or wrong bearer token"}
        )
        queued, log = self.notify_and_log({"username": "kim"}, "ERROR")
        self.assertTrue(queued)
        self.assertIn("'kim' failed", log)
        self.assertIn("HTTP 401: missing or wrong bearer token", log)

    def test_error_body_that_is_not_json(self):
        self.relay.default = Reply(502, b"<html>Bad Gateway</html>")
        _, log = self.notify_and_log({"username": "lee"}, "ERROR")
        self.assertIn("HTTP 502: <html>Bad Gateway</html>", log)

    def test_503_is_retried_once_after_retry_after(self):
        self.relay.answer(
            Reply(503, {"error": "queue full"}, {"Retry-After": "0"})
        )
        _, log = self.notify_and_log({"username": "mia"})
        keys = [r.headers["Idempotency-Key"] for r in self.relay.requests]
        self.assertEqual(keys, [expected_key("mia")] * 2)
        self.assertIn("retrying once", log)
        self.assertIn("accepted by the relay: id=ntf-2", log)

    def test_503_twice_gives_up(self):
        self.relay.default = Reply(
            503, {"error": "queue full"}, {"Retry-After": "0"}
        )
        _, log = self.notify_and_log({"username": "ned"})
        self.assertEqual(len(self.relay.requests), 2)
        self.assertIn("HTTP 503: queue full", log)

    def test_503_with_long_retry_after_is_not_retried(self):
        self.relay.default = Reply(
            503, {"error": "overloaded"}, {"Retry-After": "120"}
        )
        _, log = self.notify_and_log({"username": "olga"}, "ERROR")
        self.assertEqual(len(self.relay.requests), 1)
        self.assertIn("HTTP 503: overloaded", log)
        self.assertIn("not retried", log)

    def test_connection_refused(self):
        url = f"http://127.0.0.1:{unused_port()}"
        queued, log = self.notify_and_log(
            {"username": "pat"}, "ERROR", relay_url=url
        )
        self.assertTrue(queued)
        self.assertIn("cannot reach the relay", log)
        self.assertIn("connection refused", log)

    def test_relay_closes_the_connection(self):
        self.relay.default = Reply(close=True)
        _, log = self.notify_and_log({"username": "quinn"}, "ERROR")
        self.assertIn("closed the connection without answering", log)

    def test_relay_slower_than_the_timeout(self):
        self.relay.default = Reply(delay=3.0)
        _, log = self.notify_and_log({"username": "rob"}, "ERROR", timeout=0.2)
        self.assertIn("no answer within 0.2 s", log)


class BadInputTest(NotifyTestCase):
    def assert_refused(self, expected, user, **kwargs):
        """notify() returns False and logs an error containing *expected*."""
        with self.assertLogs("wecom_notify", "ERROR") as logs:
            self.assertFalse(self.notify(user, **kwargs))
        text = "\n".join(logs.output)
        self.assertIn(expected, text)
        self.assertNotIn(TOKEN, text)
        return text

    def test_bad_users_never_raise_and_send_nothing(self):
        cases = [
            (None, "must be a dict"),
            ("alice", "must be a dict"),
            (42, "must be a dict"),
            (["alice"], "must be a dict"),
            ({}, "non-empty string"),
            ({"username": ""}, "non-empty string"),
            ({"username": 7}, "non-empty string"),
            ({"username": "x", "blob": object()}, "not JSON-serialisable"),
            ({"username": "x", "n": float("nan")}, "not JSON-serialisable"),
        ]
        for user, expected in cases:
            with self.subTest(user=user):
                self.assert_refused(expected, user)
        self.assertTrue(wecom_notify.flush(DEADLINE))
        self.assertEqual(self.relay.requests, [])

    def test_bad_settings_never_raise_and_send_nothing(self):
        user = {"username": "a"}
        for url in ("ftp://relay", "relay:8080", "http://h:x", "http://h?a"):
            with self.subTest(url=url):
                self.assert_refused("URL is invalid", user, relay_url=url)
        text = self.assert_refused(
            "not the URL", user, relay_url="http://me:pw-123@127.0.0.1:1"
        )
        self.assertNotIn("pw-123", text)
        text = self.assert_refused("token contains", user, token="zq\r\nxy")
        self.assertNotIn("zq", text)
        for timeout in (0, -1, "2", None, True, float("nan")):
            with self.subTest(timeout=timeout):
                self.assert_refused("timeout must be", user, timeout=timeout)
        self.assertEqual(self.relay.requests, [])


class NotConfiguredTest(NotifyTestCase):
    @mock.patch.object(wecom_notify._no_url_warning, "given", False)
    def test_without_url_nothing_happens_and_one_warning(self):
        notify = wecom_notify.notify_user_added
        with self.assertLogs("wecom_notify", "DEBUG") as logs:
            self.assertFalse(notify({"username": "sam"}))
            self.assertFalse(notify({"username": "tia"}))
            self.assertFalse(notify({"username": "uma"}, token=TOKEN))
            self.assertTrue(wecom_notify.flush(DEADLINE))
        self.assertEqual(len(logs.records), 1)
        self.assertEqual(logs.records[0].levelno, logging.WARNING)
        self.assertIn("WECOM_RELAY_URL is not set", logs.output[0])
        self.assertEqual(self.relay.requests, [])

    # The warning itself is the test above's business.
    @mock.patch.object(wecom_notify._no_url_warning, "given", True)
    def test_blank_url_counts_as_unset(self):
        queued = wecom_notify.notify_user_added(
            {"username": "vic"}, relay_url="  "
        )
        self.assertFalse(queued)
        self.assertEqual(self.relay.requests, [])


class FlushTest(NotifyTestCase):
    def test_flush_with_nothing_pending_is_immediate(self):
        started = time.monotonic()
        self.assertTrue(wecom_notify.flush(1.0))
        self.assertLess(time.monotonic() - started, 0.5)

    def test_flush_times_out_while_a_send_is_stuck(self):
        self.relay.default = Reply(delay=30)
        self.notify({"username": "walt"})
        self.relay.wait_for_requests(1)
        started = time.monotonic()
        self.assertFalse(wecom_notify.flush(0.2))
        self.assertLess(time.monotonic() - started, 1.0)


if __name__ == "__main__":
    unittest.main()
