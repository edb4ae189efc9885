"""Wall refresh: the server time of the wall display's refresh callback.

With 100,000 open cases over 2,000 handlers in Redis, the real server
(``complaintops serve``, its own process) answers the wall's refresh
callback. The request is the one a real browser sends: headless Chromium
opens the wall once with a kiosk token and the request body and cookies
are taken from its performance log. Then (1) one display refreshes 200
times in a row, and (2) 200 displays refresh every 2 s each (100 requests
per second, spread evenly) for ``seconds``; the figures are the response
times seen by the client on loopback.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import Services, percentile
from bench.memory import _fill
from complaintops.embedded import find_free_port
from metrics import keys

KIOSK = "bench-kiosk-token"


def _capture_request(port: int) -> tuple[str, dict[str, str]]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1920,1080",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(f"http://127.0.0.1:{port}/wall?token={KIOSK}")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for entry in driver.get_log("performance"):
                message = json.loads(entry["message"])["message"]
                if message.get("method") != "Network.requestWillBeSent":
                    continue
                request = message["params"]["request"]
                body = request.get("postData") or ""
                if (
                    "_dash-update-component" in request["url"]
                    and '"wall-tick"' in body
                    and "wall-value" in body
                ):
                    cookies = "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())
                    headers = {
                        k: v
                        for k, v in request["headers"].items()
                        if k.lower() in ("content-type", "x-csrftoken")
                    }
                    headers["Cookie"] = cookies
                    return body, headers
            time.sleep(0.5)
        raise RuntimeError("no wall refresh request seen within 60 s")
    finally:
        driver.quit()


def with_hashes(body: str, answer: bytes) -> str:
    """The next request of a display: it sends back the hashes of what it shows,
    so figures that did not change are not sent again (as in a browser)."""
    request = json.loads(body)
    hashes = json.loads(answer).get("response", {}).get("wall-hashes", {}).get("data")
    if hashes is None:
        return body
    for state in request.get("state", []):
        if state.get("id") == "wall-hashes":
            state["value"] = hashes
    return json.dumps(request)


def _post(
    port: int, body: str, headers: dict[str, str], connection: http.client.HTTPConnection | None
) -> tuple[float, http.client.HTTPConnection, bytes]:
    conn = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    started = time.perf_counter()
    conn.request("POST", "/_dash-update-component", body=body.encode(), headers=headers)
    response = conn.getresponse()
    payload = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 200 or b"wall-value" not in payload:
        raise RuntimeError(f"wall refresh answered {response.status}: {payload[:200]!r}")
    return elapsed, conn, payload


def run(
    services: Services, open_cases: int = 100_000, quick: bool = False, seconds: float = 60.0
) -> dict[str, Any]:
    if not (shutil.which("chromium") or os.path.exists("/usr/bin/chromium")):
        raise RuntimeError("the wall benchmark needs Debian's chromium and chromium-driver")
    client = services.redis()
    client.flushall()
    client.hset(keys.META, mapping={"built_at": str(time.time()), "source": "bench"})
    _fill(client, 0, open_cases, True, time.time())
    handlers = len({h for h in client.scan_iter(match=keys.HANDLER_LOAD.format("*"), count=5000)})
    with tempfile.TemporaryDirectory(prefix="complaintops-wall-") as tmp:
        db = Path(tmp) / "wall.db"
        env = {
            **os.environ,
            "COMPLAINTOPS_REDIS_URL": services.redis_url,
            "COMPLAINTOPS_KAFKA_BOOTSTRAP": services.bootstrap,
            "COMPLAINTOPS_DATABASE_URL": f"sqlite:///{db}",
            "COMPLAINTOPS_KIOSK_TOKENS": KIOSK,
            "COMPLAINTOPS_API_TOKENS": "bench",
            "COMPLAINTOPS_SECRET_KEY": "bench-secret-key-0123456789abcdef",
        }
        subprocess.run(
            [sys.executable, "-m", "complaintops", "db", "upgrade"],
            env=env,
            check=True,
            capture_output=True,
        )
        port = find_free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "complaintops", "serve", "--port", str(port), "--threads", "16"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    http.client.HTTPConnection("127.0.0.1", port, timeout=2).request(
                        "GET", "/api/v1/health"
                    )
                    break
                except OSError:
                    time.sleep(0.3)
            body, headers = _capture_request(port)
            # (1) one display, back to back.
            single: list[float] = []
            conn = None
            _, conn, answer = _post(port, body, headers, conn)
            body = with_hashes(body, answer)
            for _ in range(50 if quick else 200):
                elapsed, conn, _ = _post(port, body, headers, conn)
                single.append(elapsed)
            # (2) 200 displays every 2 s: 100 requests/s spread evenly.
            displays, interval = 200, 2.0
            duration = 15.0 if quick else seconds
            loaded: list[float] = []
            errors = [0]
            lock = threading.Lock()
            start = time.monotonic() + 0.5
            schedule = [
                start + (d * interval / displays) + k * interval
                for k in range(int(duration / interval))
                for d in range(displays)
            ]
            schedule.sort()
            cursor = [0]

            def worker() -> None:
                connection = None
                while True:
                    with lock:
                        if cursor[0] >= len(schedule):
                            return
                        due = schedule[cursor[0]]
                        cursor[0] += 1
                    delay = due - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    try:
                        elapsed, connection, _ = _post(port, body, headers, connection)
                        with lock:
                            loaded.append(elapsed)
                    except Exception:
                        connection = None
                        with lock:
                            errors[0] += 1

            threads = [threading.Thread(target=worker, daemon=True) for _ in range(24)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
    client.flushall()
    return {
        "open_cases": open_cases,
        "handlers": handlers,
        "p50": round(percentile(single, 50), 1),
        "p95": round(percentile(single, 95), 1),
        "p95_200_displays": round(percentile(loaded, 95), 1),
        "p50_200_displays": round(percentile(loaded, 50), 1),
        "requests_200_displays": len(loaded),
        "errors_200_displays": errors[0],
    }
