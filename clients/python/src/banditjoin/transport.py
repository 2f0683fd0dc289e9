import http.client
import json
import urllib.error
import urllib.request
from typing import Any, Dict, Optional

from .errors import answer_error, network_error
from .retry import RetryPolicy, with_retries


class Transport:
    """Requests to the service with urllib: authenticated, JSON answers, retried per the policy."""

    def __init__(self, url: str, api_key: Optional[str], retry: RetryPolicy, timeout: float):
        self.base = url.rstrip("/")
        self.api_key = api_key
        self.retry = retry
        self.timeout = timeout

    def headers(self, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
        headers = dict(extra or {})
        if self.api_key is not None:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def open(self, path: str, *, data: Optional[bytes] = None, content_type: Optional[str] = None, timeout: float):
        """One attempt: the open response of a 2xx answer; raises BanditJoinError otherwise."""
        extra = {} if content_type is None else {"Content-Type": content_type}
        request = urllib.request.Request(
            self.base + path, data=data, headers=self.headers(extra), method="GET" if data is None else "POST"
        )
        try:
            return urllib.request.urlopen(request, timeout=timeout)
        except urllib.error.HTTPError as answer:
            with answer:
                raise answer_error(answer.code, answer.read(), answer.headers.get("Retry-After")) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as cause:
            raise network_error(cause) from cause

    def post(self, path: str, body: bytes, content_type: str) -> Dict[str, Any]:
        def attempt() -> Dict[str, Any]:
            try:
                with self.open(path, data=body, content_type=content_type, timeout=self.timeout) as response:
                    return json.loads(response.read())
            except (http.client.HTTPException, OSError) as cause:
                # The connection went while the answer was read: as if no answer came.
                raise network_error(cause) from cause

        return with_retries(self.retry, attempt)
