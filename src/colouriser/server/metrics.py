"""Prometheus metrics, in a registry of the app's own (several apps may live in one test process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .pool import InferencePool

ROUTES = ("/", "/api/colourise", "/api/limits", "/healthz", "/readyz", "/metrics", "/openapi.json")
disable_created_metrics()  # no *_created series: they only add noise to every scrape

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


def route_label(path: str) -> str:
    """A bounded label: the known routes, /static, or "other" (never the raw path of a stray request)."""
    if path in ROUTES:
        return path
    return "/static" if path.startswith("/static/") else "other"


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self, pool: InferencePool) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("colouriser_http_requests", "HTTP requests answered, by route and status",
                                ["route", "status"], registry=self.registry)
        self.latency = Histogram("colouriser_request_duration_seconds",
                                 "Time to answer a request, by route", ["route"], buckets=LATENCY_BUCKETS,
                                 registry=self.registry)
        self.rejections = Counter("colouriser_rejections", "Colourise requests refused, by reason "
                                  "(busy, too_large, unsupported, corrupt, timeout, ...)", ["reason"],
                                  registry=self.registry)
        self.photos = Counter("colouriser_photos_coloured", "Photos coloured", registry=self.registry)
        queue = Gauge("colouriser_queue_depth", "Admitted requests waiting for a worker", registry=self.registry)
        queue.set_function(lambda: pool.waiting)
        running = Gauge("colouriser_in_flight", "Requests being coloured by a worker now", registry=self.registry)
        running.set_function(lambda: pool.running)
        capacity = Gauge("colouriser_capacity", "Requests admitted at most at once (workers + queue size)",
                         registry=self.registry)
        capacity.set(pool.capacity)
        workers = Gauge("colouriser_workers", "Inference worker processes", registry=self.registry)
        workers.set(pool.config.workers)
        ready = Gauge("colouriser_ready", "1 when the model is loaded in every worker", registry=self.registry)
        ready.set_function(lambda: float(pool.ready))

    def observe(self, path: str, status: int, seconds: float) -> None:
        route = route_label(path)
        self.requests.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
