import json
from typing import Optional


class BanditJoinError(Exception):
    """A refusal of the service (its HTTP status and stable code, docs/errors.md), or no answer.

    ``code`` is the service's ``BJ_ERR_...`` code, or ``BJ_CLIENT_NETWORK`` when no answer came
    (then ``status`` is None).
    """

    def __init__(self, code: str, message: str, status: Optional[int] = None, retry_after: Optional[float] = None):
        super().__init__(message)
        self.code = code
        self.status = status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Worth sending again: the service was busy or stopping (503), or no answer came."""
        return self.status is None or self.status == 503


def answer_error(status: int, body: bytes, retry_after: Optional[str]) -> BanditJoinError:
    """The error of a non-2xx answer, from its ``{"ok": false, "code", "error"}`` body."""
    text = body.decode("utf-8", "replace")
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = {}
    if not isinstance(parsed, dict):
        parsed = {}
    code = parsed.get("code") if isinstance(parsed.get("code"), str) else f"HTTP_{status}"
    message = parsed.get("error") if isinstance(parsed.get("error"), str) else text[:200]
    return BanditJoinError(code, f"{status} {code}: {message}", status, _seconds(retry_after))


def network_error(cause: BaseException) -> BanditJoinError:
    error = BanditJoinError("BJ_CLIENT_NETWORK", f"no answer from the service: {cause}")
    error.__cause__ = cause
    return error


def _seconds(value: Optional[str]) -> Optional[float]:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: the service sends seconds, a proxy might not
