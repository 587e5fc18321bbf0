"""What can go wrong when talking to Metrika, in the four kinds the engine acts on.

- QuotaError: throttled. Per-second and parallel quotas are retried in-process; daily and
  report-budget quotas surface with `retry_at` so the engine defers the job without
  burning an attempt.
- AuthError: `token_dead` (invalid_token / unauthorized) revokes the account;
  otherwise (access_denied) only that counter is out of reach.
- TransientError: 5xx, backend_error, timeout, connection trouble, a body that is not JSON,
  "Query is too complicated": worth another try.
- RequestError: our request is wrong (400s); retrying changes nothing. The API's message is kept.
- BadAnswer: a 2xx answer that is wrong (rows outside the asked days, duplicates, negative or
  non-finite figures, paging that never ends, an answer past the size cap): that counter fails
  with what was wrong, nothing of it is stored, and the rest of the pass goes on.

No message here ever contains a token: the client builds them from the API's answer only.
"""

from __future__ import annotations

import datetime as dt


class MetrikaError(Exception):
    """Base of every error the client raises."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_type = error_type

    def __str__(self) -> str:
        where = f"HTTP {self.status}" if self.status else "no answer"
        kind = f" {self.error_type}" if self.error_type else ""
        return f"{self.message} ({where}{kind})"


class QuotaError(MetrikaError):
    """A quota answer (HTTP 420 or 429)."""

    #: quotas that free up within seconds: retried in-process
    SHORT = frozenset({"quota_requests_by_ip", "quota_parallel_requests"})

    def __init__(
        self,
        message: str,
        *,
        status: int | None = 429,
        error_type: str | None = None,
        retry_after: float | None = None,
        retry_at: dt.datetime | None = None,
        reset_known: bool | None = None,
        daily: bool = False,
    ) -> None:
        super().__init__(message, status=status, error_type=error_type)
        self.retry_after = retry_after
        self.retry_at = retry_at
        #: `retry_at` is when the quota frees (a Retry-After, a daily reset, our own budget),
        #: not a guess; an answer of unknown reset is backed off, and capped, by the engine
        self.reset_known = retry_at is not None if reset_known is None else reset_known
        #: the login's daily quota is spent (until 00:00 UTC)
        self.daily = daily

    @property
    def short(self) -> bool:
        """True when the quota frees up within seconds (retry here, not via the queue)."""
        return self.error_type in self.SHORT


class AuthError(MetrikaError):
    """401/403. `token_dead` means the token itself is no good any more."""

    @property
    def token_dead(self) -> bool:
        return self.error_type in {"invalid_token", "unauthorized"} or self.status == 401


class TransientError(MetrikaError):
    """Worth trying again: server trouble, timeouts, broken connections, non-JSON bodies."""


class RequestError(MetrikaError):
    """Our request is wrong; the API's message says how."""


class BadAnswer(MetrikaError):
    """The API answered, but not with something we may store; the message says what was wrong."""

    def __init__(self, message: str, *, status: int | None = 200) -> None:
        super().__init__(message, status=status, error_type="bad_answer")
