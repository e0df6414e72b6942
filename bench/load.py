#!/usr/bin/env python3
"""Load generator for darkerserver's ``POST /add_user`` (a benchmark tool).

Sends N requests over C concurrent keep-alive connections (``http.client``),
each adding a unique user, and prints p50/p99 latency and requests/s::

    python3 bench/load.py --url http://127.0.0.1:8000/add_user -n 500 -c 8

A request is OK when the answer is HTTP 200 and add_users accepted the user
(``output.success`` true). Latency percentiles cover every request, failed
ones included; requests/s is requests completed over wall time.
``--json-out FILE`` also writes the figures as JSON (``bench/table.py``
prints several such files side by side). ``--self-test`` checks the tool
against an in-process darkerserver. Exit status: 0 when every request was
OK, 1 otherwise, 2 on bad arguments.
"""

import argparse
import http.client
import itertools
import json
import math
import os
import sys
import threading
import time
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))


def percentile(sorted_values, fraction):
    """Nearest-rank percentile of an ascending list; NaN if it is empty."""
    if not sorted_values:
        return float("nan")
    rank = math.ceil(fraction * len(sorted_values))
    return sorted_values[min(max(rank, 1), len(sorted_values)) - 1]


def check_answer(status, data):
    """None when an /add_user answer means "user added", else the problem."""
    excerpt = data[:200]
    if status != 200:
        return f"HTTP {status}: {excerpt.decode('utf-8', 'replace')}"
    try:
        reply = json.loads(data)
    except ValueError:
        return f"HTTP 200 but not JSON: {excerpt!r}"
    if not isinstance(reply, dict):
        return f"unexpected answer: {excerpt!r}"
    output = reply.get("output")
    if isinstance(output, dict) and output.get("success") is False:
        return f"add_users refused the user: {output.get('message')}"
    if reply.get("success") is not True:
        return f"unexpected answer: {excerpt!r}"
    return None


def run(url, requests, concurrency, timeout=30.0, prefix=None):
    """POST *requests* new users to *url* over *concurrency* connections.

    Returns the figures as a dict (see `describe`). Usernames are
    ``<prefix>-<n>``; the default prefix is random, so runs never collide.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"expected an http:// URL, got {url!r}")
    host, port = parts.hostname, parts.port or 80
    path = parts.path or "/"
    prefix = prefix or f"load-{uuid.uuid4().hex[:8]}"
    numbers = itertools.count()
    numbers_lock = threading.Lock()
    # One (latencies, problems) pair per thread: no lock on the hot path.
    per_thread = [([], []) for _ in range(concurrency)]

    def worker(slot):
        latencies, problems = per_thread[slot]
        conn = None
        while True:
            with numbers_lock:
                number = next(numbers)
            if number >= requests:
                break
            user = {
                "username": f"{prefix}-{number}",
                "display_name": f"Load user {number}",
            }
            body = json.dumps({"user": user}).encode("utf-8")
            started = time.perf_counter()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(
                        host, port, timeout=timeout
                    )
                conn.request(
                    "POST", path, body=body,
                    headers={"Content-Type": "application/json"},
                )
                response = conn.getresponse()
                data = response.read()
                problem = check_answer(response.status, data)
                if response.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as exc:
                problem = f"{type(exc).__name__}: {exc}"
                if conn is not None:
                    conn.close()
                conn = None
            latencies.append(time.perf_counter() - started)
            if problem is not None:
                problems.append(problem)
        if conn is not None:
            conn.close()

    threads = [
        threading.Thread(target=worker, args=(slot,))
        for slot in range(concurrency)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started

    latencies = sorted(value for values, _ in per_thread for value in values)
    problems = [problem for _, values in per_thread for problem in values]
    return {
        "url": url,
        "requests": requests,
        "concurrency": concurrency,
        "ok": len(latencies) - len(problems),
        "errors": len(problems),
        "first_error": problems[0] if problems else None,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "max_ms": latencies[-1] * 1000 if latencies else float("nan"),
        "rps": len(latencies) / wall if wall > 0 else float("nan"),
        "wall_s": wall,
    }


def describe(result, label=None):
    """A few human-readable lines about one run."""
    head = f"{label}: " if label else ""
    text = (
        f"{head}{result['url']}  n={result['requests']} "
        f"c={result['concurrency']}  ok={result['ok']} "
        f"errors={result['errors']}\n"
        f"  p50={result['p50_ms']:.2f} ms  p99={result['p99_ms']:.2f} ms  "
        f"max={result['max_ms']:.2f} ms  {result['rps']:.1f} req/s  "
        f"(wall {result['wall_s']:.2f} s)"
    )
    if result["first_error"]:
        text += f"\n  first error: {result['first_error']}"
    return text


def self_test():
    """Check percentiles, answer checks, and a run against darkerserver."""
    import logging
    import tempfile

    sys.path.insert(
        0, os.path.join(HERE, os.pardir, "integrations", "darkerserver")
    )
    import darkerserver

    values = list(range(1, 101))
    added = b'{"success": true, "output": {"success": true}}'
    refused = b'{"success": true, "output": {"success": false}}'
    _expect(math.isnan(percentile([], 0.5)), "percentile of nothing: NaN")
    _expect(percentile(values, 0.50) == 50, "p50 of 1..100")
    _expect(percentile(values, 0.99) == 99, "p99 of 1..100")
    _expect(percentile(values, 1.0) == 100, "p100 of 1..100")
    _expect(percentile([7], 0.99) == 7, "p99 of one value")
    _expect(check_answer(200, added) is None, "an added user is OK")
    _expect("refused" in check_answer(200, refused), "a refusal is an error")
    _expect("HTTP 400" in check_answer(400, b'{"error": "x"}'), "400 fails")

    # Notifications off: this tests the tool, not the integration.
    os.environ.pop("WECOM_RELAY_URL", None)
    logging.getLogger("wecom_notify").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "users.jsonl")
        server = darkerserver.make_server("127.0.0.1", 0, data, quiet=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/add_user"
        try:
            first = run(url, 300, 4, prefix="selftest")
            print(describe(first, "self-test run"))
            _expect(first["ok"] == 300 and first["errors"] == 0,
                    f"all 300 OK: {first}")
            stored = darkerserver.UserStore(data).list()
            _expect(len(stored) == 300, f"300 users stored, not {len(stored)}")
            # The same usernames again: every one refused as a duplicate.
            again = run(url, 20, 4, prefix="selftest")
            _expect(again["ok"] == 0 and again["errors"] == 20,
                    f"20 duplicates: {again}")
            _expect("already exists" in again["first_error"],
                    f"duplicate reason: {again}")
        finally:
            server.shutdown()
            server.server_close()
    print("load.py self-test passed")


def _expect(condition, what):
    if not condition:
        raise AssertionError(f"load.py self-test failed: {what}")


def main(argv=None):
    """Command line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        description="Load generator for darkerserver's POST /add_user"
    )
    parser.add_argument("--url", help="e.g. http://127.0.0.1:8000/add_user")
    parser.add_argument(
        "-n", "--requests", type=int, default=500,
        help="requests measured (default 500)",
    )
    parser.add_argument(
        "-c", "--concurrency", type=int, default=8,
        help="concurrent keep-alive connections (default 8)",
    )
    parser.add_argument(
        "--warmup", type=int, default=0,
        help="requests sent first, not measured (default 0)",
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0,
        help="per-request timeout in seconds (default 30)",
    )
    parser.add_argument("--label", help="name of this run in the output")
    parser.add_argument("--json-out", help="also write the figures here")
    parser.add_argument(
        "--self-test", action="store_true", help="check this tool and exit"
    )
    args = parser.parse_args(argv)

    if args.self_test:
        self_test()
        return 0
    if not args.url:
        parser.error("--url is required")
    if args.requests < 1 or args.concurrency < 1 or args.warmup < 0:
        parser.error("-n and -c must be at least 1, --warmup at least 0")

    try:
        if args.warmup:
            run(args.url, args.warmup, args.concurrency, args.timeout)
        result = run(args.url, args.requests, args.concurrency, args.timeout)
    except ValueError as exc:
        parser.error(str(exc))
    result["label"] = args.label or args.url
    print(describe(result, args.label))
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as file:
            json.dump(result, file, indent=2)
            file.write("\n")
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
