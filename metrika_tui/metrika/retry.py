"""Which failures the client retries in-process, and how long it is willing to wait.

Transient errors and the quotas that free up within seconds (per-second, parallel) are
retried with exponential backoff and full jitter, bounded to a few seconds in all: beyond
that the engine's queue is the better place to wait. Daily quotas, the report budget,
auth and request errors are never retried here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from metrika_tui.metrika.errors import MetrikaError, QuotaError, TransientError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff bounds. Tests pass tiny values; production keeps the defaults."""

    attempts: int = 4  # tries in all, the first included
    initial_wait: float = 0.25  # seconds; doubles each try, with full jitter
    max_wait: float = 3.0  # one pause at most
    total: float = 10.0  # give up once this many seconds have gone by


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, QuotaError):  # a quota answer that names no quota: assume a short one
        return exc.short or (exc.status is not None and exc.error_type is None and exc.retry_at is None)
    return isinstance(exc, TransientError)


RetryHook = Callable[[MetrikaError, int, float], None]


class _BackoffHonouringRetryAfter:
    """Jittered exponential backoff, but never shorter than a Retry-After the server sent."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._jitter = wait_random_exponential(multiplier=policy.initial_wait, max=policy.max_wait)
        self._cap = max(policy.max_wait, policy.total)

    def __call__(self, state: RetryCallState) -> float:
        wait = self._jitter(state)
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, QuotaError) and exc.retry_after:
            wait = max(wait, min(exc.retry_after, self._cap))
        return wait


def retrying(policy: RetryPolicy, on_retry: RetryHook | None = None) -> AsyncRetrying:
    """A tenacity controller for one logical call; re-raises the last error when it gives up."""

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        if isinstance(exc, MetrikaError):
            log.info("retry %d in %.2fs after: %s", state.attempt_number, wait, exc)
            if on_retry is not None:
                on_retry(exc, state.attempt_number, wait)

    return AsyncRetrying(
        retry=retry_if_exception(is_retryable),
        wait=_BackoffHonouringRetryAfter(policy),
        stop=stop_after_attempt(policy.attempts) | stop_after_delay(policy.total),
        before_sleep=before_sleep,
        reraise=True,
    )
