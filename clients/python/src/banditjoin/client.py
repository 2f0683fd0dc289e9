import json
import uuid
from typing import Any, Dict, Iterator, List, Optional, Union

from .batcher import Batcher
from .retry import FOREVER, RetryPolicy
from .tail import joined_records
from .transport import Transport

ActionId = Union[str, int]


class BanditJoinClient:
    """A client of banditjoin's HTTP API (SPEC §1, §4).

    Every send is retried on 503 (after the service's Retry-After) and when no answer comes,
    within the ``retry`` budget; that is safe because a decision sent twice is answered as a
    duplicate and a reward carries an ``id``. Refusals raise BanditJoinError with the
    service's stable ``code``.
    """

    def __init__(
        self,
        url: str = "http://127.0.0.1:8080",
        api_key: Optional[str] = None,
        retry: RetryPolicy = RetryPolicy(),
        timeout: float = 10.0,
    ):
        self._transport = Transport(url, api_key, retry, timeout)

    def log_decision(
        self,
        key: str,
        action: ActionId,
        probability: float,
        context: Any,
        *,
        actions: Optional[List[ActionId]] = None,
        probabilities: Optional[List[float]] = None,
        model: Optional[str] = None,
        timestamp: Optional[Union[str, float]] = None,
        deferred: Optional[bool] = None,
    ) -> Dict[str, Any]:
        """``POST /log_decision``; returns ``{"ok": True}`` or ``{"ok": True, "duplicate": True}``."""
        optional = dict(actions=actions, probabilities=probabilities, model=model, timestamp=timestamp, deferred=deferred)
        body = dict(key=key, action=action, probability=probability, context=context)
        body.update({name: value for name, value in optional.items() if value is not None})
        return self._post("/log_decision", body)

    def log_reward(self, key: str, reward: float, id: Optional[str] = None) -> Dict[str, Any]:
        """``POST /log_reward``, with a fresh ``id`` when none is given, so that a retry counts once."""
        return self._post("/log_reward", dict(key=key, reward=reward, id=id or str(uuid.uuid4())))

    def override(self, key: str) -> Dict[str, Any]:
        """``POST /override_decision``: business logic overrode decision ``key``."""
        return self._post("/override_decision", dict(key=key))

    def activate(self, key: str) -> Dict[str, Any]:
        """``POST /activate_decision``: a deferred decision was really carried out."""
        return self._post("/activate_decision", dict(key=key))

    def batcher(self, max_events: int = 500, max_delay: float = 0.05) -> "ClientBatcher":
        """A batcher for ``POST /events`` that sends by size or by time (see Batcher)."""
        return ClientBatcher(self._transport, max_events, max_delay)

    def joined(
        self,
        from_seq: Optional[int] = None,
        format: str = "json",
        retry: RetryPolicy = FOREVER,
        idle_timeout: float = 45.0,
    ) -> Iterator[Dict[str, Any]]:
        """The joined records as they are emitted, each with its ``seq``.

        ``from_seq``: the first position wanted (last seen seq + 1); without it, only records
        emitted from now on. ``format``: ``json`` or ``dsjson`` (lines for ``vw --dsjson --cb_adf``).
        Resumes after a disconnect or a restart of the service without a gap or a duplicate.
        """
        return joined_records(self._transport, from_seq, format, retry, idle_timeout)

    def _post(self, path: str, body: Dict[str, Any]) -> Dict[str, Any]:
        return self._transport.post(path, json.dumps(body).encode("utf-8"), "application/json")


class ClientBatcher(Batcher):
    """A Batcher with one method per event type, named as the client's."""

    def decision(self, key: str, action: ActionId, probability: float, context: Any, **optional: Any) -> None:
        self.add(dict(type="decision", key=key, action=action, probability=probability, context=context, **optional))

    def reward(self, key: str, reward: float, id: Optional[str] = None) -> None:
        self.add(dict(type="reward", key=key, reward=reward, id=id or str(uuid.uuid4())))

    def override(self, key: str) -> None:
        self.add(dict(type="override", key=key))

    def activate(self, key: str) -> None:
        self.add(dict(type="activate", key=key))
