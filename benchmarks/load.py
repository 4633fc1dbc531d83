"""Load test for `colouriser serve` on loopback: throughput and latency at 1 and 2 workers, then overload.

    python benchmarks/load.py --requests 1000 --clients 4

For each worker count it starts a real server (fresh process), keeps ``--clients`` concurrent clients busy
until ``--requests`` photos are done, and reports throughput and p50/p99 latency. Then the overload phase
runs the largest worker count with twice as many clients as the service admits (workers + queue size): the
overflow must be answered 503 quickly (p99 under 50 ms), nothing may fail otherwise, and the server's memory
(front end and workers) must stay flat. Results are printed and written to benchmarks/results/load.json.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Phase:
    name: str
    workers: int
    queue_size: int
    clients: int
    requests: int = 0
    seconds: float = 0.0
    throughput: float = 0.0  # coloured photos per second
    statuses: dict[str, int] = field(default_factory=dict)
    latency_ok_ms: dict[str, float] = field(default_factory=dict)
    latency_503_ms: dict[str, float] = field(default_factory=dict)
    memory_mb: list[float] = field(default_factory=list)  # server RSS (front end + workers), sampled
    memory_growth_mb: float = 0.0


def photo(size: tuple[int, int]) -> bytes:
    """A grey test photo made in memory (a smooth gradient with texture), as JPEG."""
    w, h = size
    yy, xx = np.mgrid[:h, :w]
    grey = 128 + 60 * np.sin(xx / 17.0) * np.cos(yy / 23.0) + np.random.default_rng(0).normal(0, 8, (h, w))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return total / 1024


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    arr = np.asarray(values) * 1000
    return {"p50": round(float(np.percentile(arr, 50)), 1), "p99": round(float(np.percentile(arr, 99)), 1),
            "max": round(float(arr.max()), 1), "mean": round(float(arr.mean()), 1)}


class ServerProcess:
    def __init__(self, workers: int, queue_size: int, threads: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.devnull, "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "colouriser.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", str(workers), "--queue-size", str(queue_size), "--threads", str(threads),
             "--log-level", "warning"],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT)

    def wait_ready(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise TimeoutError("the server did not become ready")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(120)
        self.log.close()


async def drive(url: str, body: bytes, total: int, clients: int, phase: Phase, pid: int,
                pause_after_503: float) -> None:
    ok: list[float] = []
    busy: list[float] = []
    statuses: dict[str, int] = {}
    done = 0
    sample_every = max(1, total // 20)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:

        async def one_client() -> None:
            nonlocal done
            while done < total:
                done += 1
                began = time.perf_counter()
                try:
                    r = await client.post(f"{url}/api/colourise", files={"file": ("photo.jpg", body, "image/jpeg")})
                    status = str(r.status_code)
                except httpx.HTTPError as e:
                    status = type(e).__name__
                took = time.perf_counter() - began
                statuses[status] = statuses.get(status, 0) + 1
                if status == "200":
                    ok.append(took)
                elif status == "503":
                    busy.append(took)
                    await asyncio.sleep(pause_after_503)
                if done % sample_every == 0:
                    phase.memory_mb.append(round(tree_rss_mb(pid), 1))

        began = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        phase.seconds = round(time.perf_counter() - began, 2)
    phase.requests = sum(statuses.values())
    phase.statuses = dict(sorted(statuses.items()))
    phase.throughput = round(len(ok) / phase.seconds, 2)
    phase.latency_ok_ms = percentiles(ok)
    phase.latency_503_ms = percentiles(busy)
    if len(phase.memory_mb) >= 4:
        settled = phase.memory_mb[len(phase.memory_mb) // 4:]  # after warm-up
        phase.memory_growth_mb = round(settled[-1] - settled[0], 1)


def run_phase(name: str, workers: int, queue_size: int, clients: int, requests: int, body: bytes, threads: int,
              pause_after_503: float) -> Phase:
    phase = Phase(name, workers, queue_size, clients)
    server = ServerProcess(workers, queue_size, threads)
    try:
        server.wait_ready()
        warm = httpx.post(f"{server.url}/api/colourise", files={"file": ("w.jpg", body)}, timeout=300)
        warm.raise_for_status()
        asyncio.run(drive(server.url, body, requests, clients, phase, server.proc.pid, pause_after_503))
    finally:
        server.stop()
    return phase


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000, help="requests per phase (default 1000)")
    parser.add_argument("--clients", type=int, default=4,
                        help="concurrent clients in the throughput phases (default 4; keep it within capacity)")
    parser.add_argument("--workers", default="1,2", help="worker counts to measure (default 1,2)")
    parser.add_argument("--queue-size", type=int, default=4, help="the server's --queue-size (default 4)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per worker (default 1, so that "
                        "N workers use N cores)")
    parser.add_argument("--image", default="640x480", help="test photo size WxH (default 640x480)")
    parser.add_argument("--pause-after-503", type=float, default=0.02,
                        help="seconds an overload client waits after a 503 before its next request")
    parser.add_argument("--skip-overload", action="store_true")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "load.json"))
    args = parser.parse_args()

    w, h = (int(v) for v in args.image.lower().split("x"))
    body = photo((w, h))
    counts = [int(n) for n in args.workers.split(",")]
    phases: list[Phase] = []
    for n in counts:
        print(f"throughput: {n} worker(s), {args.clients} clients, {args.requests} requests ...", flush=True)
        phases.append(run_phase(f"{n} worker(s)", n, args.queue_size, args.clients, args.requests, body,
                                args.threads, args.pause_after_503))
    if not args.skip_overload:
        n = max(counts)
        clients = 2 * (n + args.queue_size)
        print(f"overload: {n} worker(s), queue {args.queue_size}, {clients} clients (2x capacity), "
              f"{args.requests} requests ...", flush=True)
        phases.append(run_phase("overload (2x capacity)", n, args.queue_size, clients, args.requests, body,
                                args.threads, args.pause_after_503))

    print()
    print(f"{'phase':<24}{'clients':>8}{'photos/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'503 p99 ms':>12}"
          f"{'mem MB':>9}{'growth':>8}  statuses")
    for p in phases:
        print(f"{p.name:<24}{p.clients:>8}{p.throughput:>10.2f}{p.latency_ok_ms.get('p50', 0):>9.0f}"
              f"{p.latency_ok_ms.get('p99', 0):>9.0f}{p.latency_503_ms.get('p99', float('nan')):>12.1f}"
              f"{(p.memory_mb or [0])[-1]:>9.0f}{p.memory_growth_mb:>8.1f}  {p.statuses}")
    checks = {}
    if len(phases) >= 2 and phases[0].throughput:
        checks["speedup_2_workers"] = round(phases[1].throughput / phases[0].throughput, 2)
    if not args.skip_overload:
        over = phases[-1]
        others = {k: v for k, v in over.statuses.items() if k not in ("200", "503")}
        checks["overload_503_p99_under_50ms"] = over.latency_503_ms.get("p99", 0.0) < 50
        checks["overload_saw_503"] = over.statuses.get("503", 0) > 0
        checks["overload_no_other_errors"] = not others
        checks["overload_memory_flat"] = over.memory_growth_mb < 0.05 * max(over.memory_mb or [1])
    print("checks:", checks)
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "load_average": os.getloadavg()},
        "image": args.image, "photo_bytes": len(body), "threads_per_worker": args.threads,
        "phases": [asdict(p) for p in phases], "checks": checks,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {out}")
    ok = all(v for k, v in checks.items() if k.startswith("overload"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
