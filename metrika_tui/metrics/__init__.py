"""Prometheus metrics of a running daemon or console: `/metrics` (prometheus_client).

`instruments` counts what this process does as it happens (requests, job runs, passes);
`figures` reads what every process shares (counters by state, data ages, the queue, each
login's quota) when a scrape asks, as cheaply as the events allow; `collector` turns both
into the exposition; `server` serves it. Every metric is documented in docs/operations.md.
No Textual here: the daemon serves it.
"""

from metrika_tui.metrics.server import MetricsServeError, serving_metrics

__all__ = ["MetricsServeError", "serving_metrics"]
