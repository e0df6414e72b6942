"""Tell wecom-relay that darkerserver added a user, without slowing it down.

Standard library only. One public call does the work::

    from wecom_notify import notify_user_added
    notify_user_added(new_user)    # returns at once, never raises

The notification is posted as ``{"user": new_user}`` to
``<relay_url>/notify/user-added`` by a small pool of background (daemon)
threads fed by a bounded queue, so a burst of new users can neither block
the caller nor start an unbounded number of threads. Every outcome goes to
the ``logging`` logger ``wecom_notify``: the relay's notification id on
success, the HTTP status and the relay's ``error`` text (or the connection
error) on failure.

Configuration, arguments first, then the environment:

* ``relay_url`` / ``WECOM_RELAY_URL``: base URL of the relay, e.g.
  ``http://127.0.0.1:8080``. When neither is set, nothing is sent and a
  warning says so once.
* ``token`` / ``WECOM_RELAY_TOKEN``: bearer token (optional), never logged.
* ``timeout``: seconds allowed for each network operation (connect, send,
  read) of the background send.

Each request carries ``Idempotency-Key: user-added:<sha256 of username>``,
so a retry, or darkerserver adding the same user twice, produces one WeCom
message (the relay remembers keys for 24 hours).
"""

import atexit
import email.utils
import hashlib
import http.client
import json
import logging
import os
import queue
import threading
import time
import urllib.parse

__all__ = ["notify_user_added", "flush", "idempotency_key"]

logger = logging.getLogger("wecom_notify")

#: Seconds for each network operation when the caller gives no timeout.
DEFAULT_TIMEOUT = 2.0
#: A 503 is retried once, if its Retry-After is at most this many seconds.
MAX_RETRY_AFTER = 5.0
#: Wait before that retry when a 503 carries no usable Retry-After.
DEFAULT_RETRY_AFTER = 1.0
#: Background threads that post notifications.
WORKERS = 4
#: Notifications that may wait for a thread; more are dropped (and logged).
MAX_PENDING = 1000
#: At interpreter exit, wait at most this long for queued notifications.
EXIT_FLUSH_TIMEOUT = 2.0

EVENT_PATH = "/notify/user-added"
IDEMPOTENCY_PREFIX = "user-added:"
USER_AGENT = "wecom-notify/1.0 (darkerserver)"

_MAX_RESPONSE_BYTES = 64 * 1024
_MAX_ERROR_TEXT = 300


class _Job:
    """One notification, fully prepared in the caller's thread."""

    __slots__ = ("username", "target", "path", "headers", "body", "timeout")

    def __init__(self, username, target, path, headers, body, timeout):
        self.username = username
        self.target = target  # (scheme, host, port): where to connect
        self.path = path
        self.headers = headers
        self.body = body
        self.timeout = timeout

    @property
    def where(self):
        """The relay's address for log lines (no credentials, no path)."""
        scheme, host, port = self.target
        return f"{scheme}://{host}:{port}"


class _Dispatcher:
    """A bounded queue drained by a fixed number of daemon threads.

    Threads start on the first notification, so importing this module costs
    nothing for a server that never notifies.
    """

    def __init__(self, workers=WORKERS, max_pending=MAX_PENDING):
        self._workers = workers
        self._queue = queue.Queue(maxsize=max_pending)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0  # queued + being sent
        self._started = False

    @property
    def max_pending(self):
        """How many notifications may wait at once."""
        return self._queue.maxsize

    def submit(self, job):
        """Queue *job*; False, at once, if the queue is full."""
        with self._lock:
            if not self._started:
                self._start_locked()
            try:
                self._queue.put_nowait(job)
            except queue.Full:
                return False
            self._pending += 1
        return True

    def flush(self, timeout=None):
        """Wait until nothing is queued or being sent; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _start_locked(self):
        for number in range(self._workers):
            thread = threading.Thread(
                target=self._run, name=f"wecom-notify-{number}", daemon=True
            )
            thread.start()
        self._started = True
        # Daemon threads die with the interpreter: give queued work a chance.
        atexit.register(self._flush_at_exit)

    def _run(self):
        connections = _Connections()
        while True:
            job = self._queue.get()
            try:
                _deliver(job, connections)
            except Exception:  # a worker must survive anything a job does
                logger.exception(
                    "user-added notification for %r failed: unexpected error",
                    job.username,
                )
            finally:
                with self._idle:
                    self._pending -= 1
                    if self._pending == 0:
                        self._idle.notify_all()

    def _flush_at_exit(self):
        if not self.flush(EXIT_FLUSH_TIMEOUT):
            logger.warning(
                "exiting with %d user-added notification(s) not sent "
                "(still pending after %.1f s)",
                self._pending,
                EXIT_FLUSH_TIMEOUT,
            )


class _Connections:
    """Keep-alive connections of one worker thread, one per relay address."""

    def __init__(self):
        self._open = {}

    def get(self, job):
        """Return ``(connection, reused)`` for *job*'s relay."""
        conn = self._open.get(job.target)
        if conn is not None:
            conn.timeout = job.timeout
            if conn.sock is not None:
                conn.sock.settimeout(job.timeout)
            return conn, True
        scheme, host, port = job.target
        if scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=job.timeout)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=job.timeout)
        self._open[job.target] = conn
        return conn, False

    def drop(self, job):
        """Close and forget the connection to *job*'s relay."""
        conn = self._open.pop(job.target, None)
        if conn is not None:
            conn.close()


class _NoUrlWarning:
    """Says "not configured" once per process, not once per user."""

    def __init__(self):
        self._lock = threading.Lock()
        self.given = False

    def warn_once(self):
        """Log the warning unless it was logged before."""
        with self._lock:
            if self.given:
                return
            self.given = True
        logger.warning(
            "WECOM_RELAY_URL is not set: user-added notifications are off "
            "(set it, e.g. WECOM_RELAY_URL=http://127.0.0.1:8080, to send "
            "them through wecom-relay)"
        )


_dispatcher = _Dispatcher()
_no_url_warning = _NoUrlWarning()


def notify_user_added(
    user, *, relay_url=None, token=None, timeout=DEFAULT_TIMEOUT
):
    """Queue a ``user-added`` notification for *user* and return at once.

    *user* is the dict darkerserver added (it must have a non-empty string
    ``username``); it is sent as ``{"user": user}``, serialised now, so
    later changes to the dict do not matter. *relay_url* and *token*
    default to ``WECOM_RELAY_URL`` and ``WECOM_RELAY_TOKEN``; *timeout*
    (seconds) bounds each network operation of the background send.

    Returns True when the notification was queued, False when it was not
    (no relay URL, bad input or configuration, full queue); the reason is
    logged. Never raises.
    """
    try:
        job = _prepare(user, relay_url, token, timeout)
        if job is None:
            return False
        if not _dispatcher.submit(job):
            logger.error(
                "user-added notification for %r dropped: %d notifications "
                "are already waiting for the relay at %s (local queue full)",
                job.username,
                _dispatcher.max_pending,
                job.where,
            )
            return False
        return True
    except Exception:  # the caller's request must never fail because of us
        logger.exception("user-added notification not sent: unexpected error")
        return False


def flush(timeout=None):
    """Wait until every queued notification has been sent or has failed.

    Returns True when nothing is pending any more, False if *timeout*
    seconds ran out first. Useful in tests and before a deliberate shutdown
    (at interpreter exit the module waits up to ``EXIT_FLUSH_TIMEOUT``).
    """
    return _dispatcher.flush(timeout)


def idempotency_key(username):
    """The ``Idempotency-Key`` sent for *username*: one user, one key."""
    digest = hashlib.sha256(username.encode("utf-8")).hexdigest()
    return IDEMPOTENCY_PREFIX + digest


def _prepare(user, relay_url, token, timeout):
    """Check everything in the caller's thread: a `_Job`, or None (logged)."""
    if relay_url is None:
        relay_url = os.environ.get("WECOM_RELAY_URL", "")
    relay_url = relay_url.strip()
    if not relay_url:
        _no_url_warning.warn_once()
        return None
    target_and_path = _parse_relay_url(relay_url)
    if target_and_path is None:
        return None
    target, base_path = target_and_path

    if not isinstance(user, dict):
        logger.error(
            "user-added notification not sent: user must be a dict "
            "(JSON object), got %s",
            type(user).__name__,
        )
        return None
    username = user.get("username")
    if not isinstance(username, str) or not username:
        logger.error(
            "user-added notification not sent: user['username'] must be a "
            "non-empty string, got %r",
            username,
        )
        return None
    if not _is_positive_number(timeout):
        logger.error(
            "user-added notification for %r not sent: timeout must be a "
            "positive number of seconds, got %r",
            username,
            timeout,
        )
        return None
    try:
        body = json.dumps(
            {"user": user},
            ensure_ascii=False,
            allow_nan=False,
            separators=(",", ":"),
        ).encode("utf-8")
    except (TypeError, ValueError) as exc:
        logger.error(
            "user-added notification for %r not sent: user is not "
            "JSON-serialisable (%s)",
            username,
            exc,
        )
        return None

    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
        "Idempotency-Key": idempotency_key(username),
    }
    if token is None:
        token = os.environ.get("WECOM_RELAY_TOKEN", "")
    token = token.strip()
    if token:
        # http.client would put a bad value, the token, in its exception.
        if not all("\x21" <= char <= "\x7e" for char in token):
            logger.error(
                "user-added notification for %r not sent: the relay token "
                "contains spaces, control or non-ASCII characters (check "
                "WECOM_RELAY_TOKEN)",
                username,
            )
            return None
        headers["Authorization"] = "Bearer " + token

    path = base_path.rstrip("/") + EVENT_PATH
    return _Job(username, target, path, headers, body, float(timeout))


def _is_positive_number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return 0 < value < float("inf")


def _parse_relay_url(relay_url):
    """``((scheme, host, port), base_path)``, or None after logging why."""
    problem = None
    try:
        parts = urllib.parse.urlsplit(relay_url)
        port = parts.port
    except ValueError as exc:
        parts, port, problem = None, None, str(exc)
    if problem is None:
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problem = "expected http://HOST[:PORT][/PATH] or https://..."
        elif parts.username is not None or parts.password is not None:
            problem = "credentials belong in WECOM_RELAY_TOKEN, not the URL"
        elif parts.query or parts.fragment:
            problem = "a query string or fragment is not allowed"
    if problem is not None:
        # The URL may hold a secret by mistake: the message never repeats it.
        logger.error(
            "user-added notification not sent: the relay URL is invalid "
            "(%s); check WECOM_RELAY_URL",
            problem,
        )
        return None
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    return (parts.scheme, parts.hostname, port), parts.path


def _deliver(job, connections):
    """Send *job* (retrying one 503 when allowed) and log the outcome."""
    note = ""
    try:
        status, retry_after, body = _post(job, connections)
        if status == 503:
            delay = _retry_delay(retry_after)
            if delay is None:
                note = (
                    f" (Retry-After {retry_after!r} is over the "
                    f"{MAX_RETRY_AFTER:g} s this client waits; not retried)"
                )
            else:
                logger.warning(
                    "relay at %s is busy (HTTP 503) for user-added "
                    "notification for %r; retrying once in %.1f s",
                    job.where,
                    job.username,
                    delay,
                )
                time.sleep(delay)
                status, retry_after, body = _post(job, connections)
    except (OSError, http.client.HTTPException) as exc:
        logger.error(
            "user-added notification for %r failed: cannot reach the relay "
            "at %s: %s",
            job.username,
            job.where,
            _describe(exc, job.timeout),
        )
        return
    if 200 <= status < 300:
        logger.info(
            "user-added notification for %r accepted by the relay: id=%s",
            job.username,
            _json_field(body, "id") or "?",
        )
    else:
        logger.error(
            "user-added notification for %r failed: the relay at %s "
            "answered HTTP %d: %s%s",
            job.username,
            job.where,
            status,
            _error_text(body),
            note,
        )


def _post(job, connections):
    """POST once; return ``(status, Retry-After header, body bytes)``.

    A keep-alive connection the relay has meanwhile closed fails before any
    answer; that attempt is repeated once on a new connection (the
    Idempotency-Key makes a repeat harmless).
    """
    while True:
        conn, reused = connections.get(job)
        try:
            conn.request("POST", job.path, body=job.body, headers=job.headers)
            response = conn.getresponse()
            body = response.read(_MAX_RESPONSE_BYTES)
            if response.will_close or not response.isclosed():
                connections.drop(job)
            return response.status, response.getheader("Retry-After"), body
        except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
            connections.drop(job)
            if not reused:
                raise
        except BaseException:
            connections.drop(job)
            raise


def _retry_delay(retry_after):
    """Seconds to wait before retrying a 503, or None when that is too long."""
    if retry_after is None or not retry_after.strip():
        return DEFAULT_RETRY_AFTER
    value = retry_after.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
            seconds = max(0.0, when.timestamp() - time.time())
        except (TypeError, ValueError, OverflowError):
            return DEFAULT_RETRY_AFTER
    return seconds if seconds <= MAX_RETRY_AFTER else None


def _json_field(body, name):
    """``body[name]`` as text if *body* is a JSON object holding it."""
    try:
        value = json.loads(body.decode("utf-8"))[name]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _error_text(body):
    """The relay's ``error`` message, or an excerpt of whatever it sent."""
    text = _json_field(body, "error")
    if text is None:
        text = body.decode("utf-8", "replace").strip() or "(empty body)"
    if len(text) > _MAX_ERROR_TEXT:
        text = text[:_MAX_ERROR_TEXT] + "..."
    return text


def _describe(exc, timeout):
    """A short, operator-friendly reason for a network failure."""
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g} s (timed out)"
    if isinstance(exc, ConnectionRefusedError):
        return (
            "connection refused (is wecom-relay running and WECOM_RELAY_URL "
            "right?)"
        )
    if isinstance(exc, http.client.RemoteDisconnected):
        return "the relay closed the connection without answering"
    detail = str(exc) or "no detail"
    return f"{type(exc).__name__}: {detail}"
