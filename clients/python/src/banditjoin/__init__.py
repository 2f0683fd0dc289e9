"""Client of banditjoin's HTTP API: log decisions and rewards, tail joined records."""

from .batcher import Batcher
from .client import BanditJoinClient, ClientBatcher
from .errors import BanditJoinError
from .retry import RetryPolicy

__all__ = ["BanditJoinClient", "BanditJoinError", "Batcher", "ClientBatcher", "RetryPolicy"]
