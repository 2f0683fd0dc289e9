import json
import threading
from typing import Any, Dict, List, Optional

from .errors import BanditJoinError
from .transport import Transport


class Batcher:
    """Collects events and sends them as one ``POST /events`` (NDJSON) by size or by time.

    A batch goes out once it has ``max_events`` events, or ``max_delay`` seconds after its first
    event (from a background thread). A batch is all-or-nothing: when the service refuses it,
    the error (naming the offending lines) is raised by the next ``add`` or ``flush``. Use it as a
    context manager, or call ``flush()`` at the end. Retries are safe: a decision sent twice is a
    duplicate, and rewards carry an id.
    """

    def __init__(self, transport: Transport, max_events: int = 500, max_delay: float = 0.05):
        self._transport = transport
        self._max_events = max_events
        self._max_delay = max_delay
        self._lines: List[str] = []
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._timer: Optional[threading.Timer] = None
        self._failure: Optional[BanditJoinError] = None
        self.accepted = 0
        self.duplicates = 0

    def add(self, event: Dict[str, Any]) -> None:
        """Queues one event: a dict with ``"type"``: decision, reward, override or activate."""
        self._raise_failure()
        with self._lock:
            self._lines.append(json.dumps(event, separators=(",", ":")))
            full = len(self._lines) >= self._max_events
            if not full and self._timer is None:
                self._timer = threading.Timer(self._max_delay, self._send_in_background)
                self._timer.daemon = True
                self._timer.start()
        if full:
            self._send()

    def flush(self) -> None:
        """Sends what is queued now; raises the error of any batch the service refused."""
        self._send()
        self._raise_failure()

    def __enter__(self) -> "Batcher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()

    def _send_in_background(self) -> None:
        try:
            self._send()
        except BanditJoinError as error:
            self._failure = error

    def _send(self) -> None:
        with self._send_lock:
            with self._lock:
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
                lines, self._lines = self._lines, []
            if not lines:
                return
            body = ("\n".join(lines) + "\n").encode("utf-8")
            answer = self._transport.post("/events", body, "application/x-ndjson")
            self.accepted += answer.get("accepted", 0)
            self.duplicates += answer.get("duplicates", 0)

    def _raise_failure(self) -> None:
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure
