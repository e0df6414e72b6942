#!/usr/bin/env python3
"""darkerserver with the "original plan": a synchronous WeCom call.

For the benchmark only. This runs ``integrations/darkerserver/
darkerserver.py`` unchanged, except that its ``notify_user_added(new_user)``
line calls WeCom's ``message/send`` directly and waits for the answer
before ``/add_user`` replies, as the plan before wecom-relay did (with
``urllib`` instead of ``requests``). The access token is fetched once and
cached until it expires: the best case for that plan. ::

    WECOM_SECRET=... python3 bench/darkerserver_sync.py \\
        --wecom-url http://127.0.0.1:9000 --corp-id ww... \\
        --agent-id 1000002 [darkerserver options: --port, --data, --quiet]

The secret comes from ``WECOM_SECRET``, never from the command line (where
``ps`` shows it). Failed sends are logged as ``message/send failed``.
"""

import argparse
import http.client
import json
import logging
import os
import sys
import threading
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(
    0, os.path.join(HERE, os.pardir, "integrations", "darkerserver")
)

import darkerserver  # noqa: E402 (needs the path above)

logger = logging.getLogger("sync_wecom")

#: errcodes meaning "this access_token is no good": drop it, retry once.
TOKEN_ERRCODES = {40001, 40014, 42001}


class SyncWeCom:
    """A minimal, blocking WeCom app-message client."""

    def __init__(self, api_base, corp_id, agent_id, secret, to_user="@all",
                 timeout=10.0):
        self.api_base = api_base.rstrip("/")
        self.corp_id = corp_id
        self.agent_id = agent_id
        self._secret = secret
        self.to_user = to_user
        self.timeout = timeout
        # Plain HTTP to the emulator: no proxy from the environment.
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({})
        )
        self._lock = threading.Lock()
        self._token = None
        self._token_expires = 0.0

    def _call(self, path, query, payload=None):
        """GET, or POST *payload* as JSON, ``api_base + path``: the JSON."""
        url = f"{self.api_base}{path}?{urllib.parse.urlencode(query)}"
        data = None
        headers = {}
        if payload is not None:
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json; charset=utf-8"
        request = urllib.request.Request(url, data=data, headers=headers)
        with self._opener.open(request, timeout=self.timeout) as response:
            return json.loads(response.read())

    def _access_token(self):
        with self._lock:
            if self._token is None or time.monotonic() >= self._token_expires:
                reply = self._call(
                    "/cgi-bin/gettoken",
                    {"corpid": self.corp_id, "corpsecret": self._secret},
                )
                if not reply.get("access_token"):
                    raise ValueError(
                        f"gettoken errcode={reply.get('errcode')} "
                        f"errmsg={reply.get('errmsg')}"
                    )
                self._token = reply["access_token"]
                lifetime = float(reply.get("expires_in") or 7200)
                margin = min(300.0, lifetime / 2)
                self._token_expires = time.monotonic() + lifetime - margin
            return self._token

    def _drop_token(self, token):
        with self._lock:
            if self._token == token:
                self._token = None

    def send_user_added(self, user):
        """Tell WeCom about *user* and wait for the answer; log failures."""
        username = user.get("username")
        text = f"New user added: {username}"
        if user.get("display_name"):
            text += f" ({user['display_name']})"
        payload = {
            "touser": self.to_user,
            "msgtype": "text",
            "agentid": self.agent_id,
            "text": {"content": text},
        }
        try:
            for attempt in (1, 2):
                token = self._access_token()
                reply = self._call(
                    "/cgi-bin/message/send", {"access_token": token}, payload
                )
                errcode = reply.get("errcode", 0)
                if errcode == 0:
                    return
                if errcode in TOKEN_ERRCODES and attempt == 1:
                    self._drop_token(token)
                    continue
                logger.error(
                    "message/send failed for %r: errcode=%s errmsg=%s",
                    username,
                    errcode,
                    reply.get("errmsg"),
                )
                return
        except (OSError, ValueError, http.client.HTTPException) as exc:
            # These errors' text never includes the URL, so no token either.
            logger.error("message/send failed for %r: %s", username, exc)


def main(argv=None):
    """Parse the WeCom options, then run darkerserver with the sync call."""
    parser = argparse.ArgumentParser(
        description="darkerserver calling WeCom synchronously (benchmark "
        "variant); other options go to darkerserver"
    )
    parser.add_argument(
        "--wecom-url", required=True,
        help="WeCom API base URL (the emulator's)",
    )
    parser.add_argument("--corp-id", required=True)
    parser.add_argument("--agent-id", required=True, type=int)
    parser.add_argument(
        "--to-user", default="@all", help="touser of the message (@all)"
    )
    args, rest = parser.parse_known_args(argv)
    secret = os.environ.get("WECOM_SECRET", "")
    if not secret:
        parser.error("set WECOM_SECRET to the app's secret")
    wecom = SyncWeCom(
        args.wecom_url, args.corp_id, args.agent_id, secret, args.to_user
    )
    # The handler looks notify_user_added up in darkerserver's globals.
    darkerserver.notify_user_added = wecom.send_user_added
    return darkerserver.main(rest)


if __name__ == "__main__":
    sys.exit(main())
