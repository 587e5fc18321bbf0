"""The Metrika API client: the only code that knows URLs, headers and error envelopes."""

from metrika_tui.metrika.client import MetrikaClient
from metrika_tui.metrika.errors import (
    AuthError,
    BadAnswer,
    MetrikaError,
    QuotaError,
    RequestError,
    TransientError,
)
from metrika_tui.metrika.retry import RetryPolicy
from metrika_tui.metrika.stats import ClientStats

__all__ = [
    "AuthError",
    "BadAnswer",
    "ClientStats",
    "MetrikaClient",
    "MetrikaError",
    "QuotaError",
    "RequestError",
    "RetryPolicy",
    "TransientError",
]
