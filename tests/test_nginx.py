"""deploy/nginx.conf for real: Debian's nginx on loopback in front of two app instances.

Checks least-connections balancing, static caching, the body cap, per-client rate limiting, the upstream-503
path (same JSON as the app's) and that no upload reaches the proxy's disk. nginx must be installed
(scripts/install-system-deps.sh): a missing nginx fails the test, it does not skip it.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from PIL import Image

from colouriser.server.errors import BUSY_DETAIL

from .test_server_harness import ROOT, Server, free_port, grey_photo, wait_for


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        pytest.fail("nginx is not installed: run scripts/install-system-deps.sh (make test does)")
    return found


@dataclass
class Stack:
    url: str
    apps: list[Server]
    prefix: Path
    log: Path


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    binary = nginx_binary()
    apps = [Server("--workers", "1", "--queue-size", "0", "--instance", f"app-{i}") for i in (1, 2)]
    prefix = Path(tempfile.mkdtemp(prefix="colouriser-nginx-"))
    prefix.chmod(0o755)  # nginx's workers run as nobody and must reach the cache and temp folders
    proc = None
    try:
        for app in apps:
            app.wait_ready()
        port = free_port()
        config = (ROOT / "deploy" / "nginx.conf").read_text()
        assert config.count("listen 8080;") == 1
        (prefix / "nginx.conf").write_text(config.replace("listen 8080;", f"listen 127.0.0.1:{port};"))
        (prefix / "colouriser-upstreams.conf").write_text(
            "".join(f"server 127.0.0.1:{app.port} max_fails=0;\n" for app in apps))
        log = prefix.parent / f"{prefix.name}.log"
        with open(log, "wb") as out:
            check = subprocess.run([binary, "-t", "-p", f"{prefix}/", "-c", str(prefix / "nginx.conf"), "-e",
                                    "stderr"], capture_output=True, text=True)
            assert check.returncode == 0, check.stderr
            proc = subprocess.Popen([binary, "-p", f"{prefix}/", "-c", str(prefix / "nginx.conf"), "-e", "stderr",
                                     "-g", "daemon off;"], stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        assert wait_for(up, timeout=20), log.read_text()
        yield Stack(url, apps, prefix, log)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(20)
        for app in apps:
            app.stop()
        shutil.rmtree(prefix, ignore_errors=True)


def test_requests_are_balanced_over_both_instances(stack: Stack) -> None:
    photo = grey_photo(96, 64)
    seen = []
    for _ in range(6):
        r = httpx.post(f"{stack.url}/api/colourise", files={"file": ("a.jpg", photo)}, timeout=60)
        assert r.status_code == 200, r.text
        assert Image.open(io.BytesIO(r.content)).size == (96, 64)
        seen.append(r.headers["x-instance"])
    assert set(seen) == {"app-1", "app-2"}, seen
    for app in stack.apps:
        assert app.metric("colouriser_photos_coloured_total") >= 1


def test_static_files_are_cached_by_the_proxy(stack: Stack) -> None:
    first = httpx.get(f"{stack.url}/static/app.js")
    second = httpx.get(f"{stack.url}/static/app.js")
    assert first.status_code == second.status_code == 200
    assert second.headers["x-cache-status"] == "HIT"
    assert second.headers["cache-control"] == "public, max-age=3600"
    assert first.content == second.content
    page = httpx.get(f"{stack.url}/")
    assert page.status_code == 200 and "Colouriser" in page.text


def test_the_body_cap_answers_413_json(stack: Stack) -> None:
    body = b"\xff\xd8\xff" + b"\0" * (21 * 1024 * 1024)  # just over client_max_body_size 20m
    r = httpx.post(f"{stack.url}/api/colourise", content=body, headers={"content-type": "image/jpeg"}, timeout=60)
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/json"
    assert r.json()["error"] == "too_large" and r.json()["detail"].endswith(".")


def test_when_every_instance_is_full_the_answer_is_the_apps_503_json(stack: Stack) -> None:
    photo = grey_photo(900, 900)
    start = threading.Barrier(8)
    answers: list[httpx.Response] = []

    def send() -> None:
        start.wait()
        answers.append(httpx.post(f"{stack.url}/api/colourise", files={"file": ("a.jpg", photo)}, timeout=120))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    statuses = sorted(r.status_code for r in answers)
    assert len(answers) == 8 and set(statuses) <= {200, 503}, statuses
    assert statuses.count(200) >= 2 and statuses.count(503) >= 1, statuses
    busy = [r for r in answers if r.status_code == 503]
    for r in busy:
        assert r.headers["content-type"] == "application/json"
        assert r.json() == {"error": "busy", "detail": BUSY_DETAIL}
        assert r.headers["retry-after"] == "5"
    # both instances refused: each busy answer was tried on the other instance first (proxy_next_upstream)
    assert sum(app.metric('colouriser_rejections_total{reason="busy"}') for app in stack.apps) >= 2 * len(busy)


def test_no_upload_reaches_the_proxys_disk(stack: Stack) -> None:
    for temp in (stack.prefix / "body_temp", stack.prefix / "proxy_temp"):
        assert temp.is_dir()
        assert [p for p in temp.rglob("*") if p.is_file()] == []
    cached = [p for p in (stack.prefix / "static_cache").rglob("*") if p.is_file()]
    keys = {p.read_bytes().split(b"\nKEY: ", 1)[1].split(b"\n", 1)[0].decode() for p in cached}
    assert keys and all(k.endswith("/") or "/static/" in k for k in keys), keys  # only the page and its files


def test_each_client_is_rate_limited_with_a_json_answer(stack: Stack) -> None:
    statuses = []
    with httpx.Client(timeout=30) as client:
        for _ in range(40):
            r = client.post(f"{stack.url}/api/colourise", content=b"", headers={"content-type": "image/jpeg"})
            statuses.append(r.status_code)
            if r.status_code == 429:
                assert r.json()["error"] == "rate_limited" and r.headers["retry-after"]
    assert 429 in statuses and 422 in statuses, statuses
    time.sleep(0.1)
    assert "POST /api/colourise" in stack.log.read_text()
