import json
import time
from typing import Any, Dict, Iterator, Optional

from .errors import BanditJoinError, network_error
from .retry import RetryPolicy, retry_delay
from .transport import Transport

#: Where a stream starts, sent by the service: a resume never depends on having seen a record.
FROM_HEADER = "banditjoin-from"


def joined_records(
    transport: Transport,
    from_seq: Optional[int],
    format: str,
    retry: RetryPolicy,
    idle_timeout: float,
) -> Iterator[Dict[str, Any]]:
    """``GET /joined`` as an endless iterator that reconnects with ``from`` = last seq + 1.

    Refusals that waiting cannot fix are raised: 410 BJ_ERR_GONE (records were missed), 400,
    401, and 404 BJ_ERR_NOT_SERVED (the Kafka mode: read the output topic instead).
    """
    next_seq = from_seq
    failures = 0
    failing_since = 0.0
    while True:
        query = [f"format={format}"]
        if next_seq is not None:
            query.append(f"from={next_seq}")
        try:
            # The timeout bounds each read: the service sends a blank line every 15 s of silence.
            with transport.open("/joined?" + "&".join(query), timeout=idle_timeout) as response:
                start = response.headers.get(FROM_HEADER)
                if next_seq is None and start is not None and start.isdigit():
                    next_seq = int(start)
                failures = 0
                for line in response:
                    if not line.strip():
                        continue
                    record = json.loads(line)
                    next_seq = record["seq"] + 1
                    yield record
            error = network_error(ConnectionError("the service ended the stream"))
        except BanditJoinError as refused:
            if not refused.retryable:
                raise
            error = refused
        except OSError as cause:  # the connection broke, or stayed silent past idle_timeout
            error = network_error(cause)
        if failures == 0:
            failing_since = time.monotonic()
        failures += 1
        delay = retry_delay(retry, failures, error.retry_after)
        if failures >= retry.max_attempts or time.monotonic() + delay - failing_since > retry.max_elapsed:
            raise error
        time.sleep(delay)
