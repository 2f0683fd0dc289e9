import random
import time
from dataclasses import dataclass
from typing import Callable, Optional, TypeVar

from .errors import BanditJoinError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How a request refused with 503, or left without an answer, is sent again."""

    max_attempts: float = 10
    """Attempts in all, the first included."""
    max_elapsed: float = 30.0
    """Seconds: no attempt starts later than this after the first."""
    base_delay: float = 0.1
    """Seconds: the first wait; each next one doubles, up to max_delay."""
    max_delay: float = 5.0


#: The tail's default: keep reconnecting, however long the service is away.
FOREVER = RetryPolicy(max_attempts=float("inf"), max_elapsed=float("inf"))


def retry_delay(policy: RetryPolicy, attempt: int, retry_after: Optional[float]) -> float:
    """The service's Retry-After when it sent one (plus up to 50% jitter), else exponential
    backoff with equal jitter: clients told to come back at once do not all come back together."""
    if retry_after is not None:
        return retry_after * (1 + random.random() / 2)
    backoff = min(policy.max_delay, policy.base_delay * 2 ** (attempt - 1))
    return backoff / 2 + random.random() * backoff / 2


def with_retries(policy: RetryPolicy, attempt: Callable[[], T]) -> T:
    """Runs ``attempt`` until it succeeds, fails for good, or the budget is spent (then raises)."""
    started = time.monotonic()
    n = 1
    while True:
        try:
            return attempt()
        except BanditJoinError as error:
            if not error.retryable or n >= policy.max_attempts:
                raise
            delay = retry_delay(policy, n, error.retry_after)
            if time.monotonic() + delay - started > policy.max_elapsed:
                raise
            time.sleep(delay)
            n += 1
