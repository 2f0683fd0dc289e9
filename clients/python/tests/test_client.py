"""Runs the Python client against a real banditjoin service: python test_client.py URL.

Driven by test/client/python.test.ts, which starts the service with EXP_UNIT_MS=300.
"""

import sys
import threading

from banditjoin import BanditJoinClient, BanditJoinError, RetryPolicy

CANDIDATES = [{"article": "a"}, {"article": "b"}]


def decision(key: str, **extra):
    # dsjson needs the candidates under _multi (vw --cb_adf).
    fields = dict(key=key, action=2, probability=0.5, actions=[1, 2], probabilities=[0.5, 0.5],
                  context={"user": key, "_multi": CANDIDATES})
    return {**fields, **extra}


def take(records, count):
    taken = []
    for record in records:
        taken.append(record)
        if len(taken) == count:
            return taken


def main(url: str) -> None:
    client = BanditJoinClient(url)

    assert client.log_decision(**decision("one")) == {"ok": True}
    assert client.log_decision(**decision("one")) == {"ok": True, "duplicate": True}
    assert client.log_reward("one", 2.5) == {"ok": True}
    client.log_decision(**decision("overridden"))
    assert client.override("overridden") == {"ok": True}
    client.log_decision(**decision("deferred", deferred=True))
    assert client.activate("deferred") == {"ok": True}

    keys = [f"batch-{i}" for i in range(20)]
    with client.batcher(max_events=8, max_delay=0.02) as batcher:
        for i, key in enumerate(keys):
            batcher.decision(**decision(key))
            batcher.reward(key, float(i))
    assert batcher.accepted == 40, batcher.accepted

    records = take(client.joined(from_seq=1), 22)
    assert [r["seq"] for r in records] == list(range(1, 23)), [r["seq"] for r in records]
    by_key = {r["key"]: r for r in records}
    assert "overridden" not in by_key
    assert by_key["one"]["reward"] == 2.5 and by_key["one"]["reward_count"] == 1
    assert by_key["deferred"]["reward"] == 0
    for i, key in enumerate(keys):
        assert by_key[key]["reward"] == i and by_key[key]["reward_count"] == 1, by_key[key]

    dsjson = take(client.joined(from_seq=1, format="dsjson"), 22)
    assert [(r["seq"], r["EventId"], r["_label_cost"]) for r in dsjson] == [
        (r["seq"], r["key"], -r["reward"]) for r in records
    ]

    # Without from_seq: only new records, from the position the stream starts at.
    live = []
    tail = threading.Thread(target=lambda: live.extend(take(client.joined(), 1)), daemon=True)
    tail.start()
    client.log_decision(**decision("live"))
    tail.join(10)
    assert [(r["seq"], r["key"]) for r in live] == [(23, "live")], live

    try:
        client.log_decision(**decision("bad", probability=0))
        raise AssertionError("a probability of 0 must be refused")
    except BanditJoinError as error:
        assert (error.status, error.code) == (422, "BJ_ERR_INVALID_EVENT"), (error.status, error.code)
        assert "probability" in str(error)
    try:
        next(client.joined(from_seq=1000))
        raise AssertionError("a position beyond the next one must be refused")
    except BanditJoinError as error:
        assert (error.status, error.code) == (400, "BJ_ERR_BAD_POSITION"), (error.status, error.code)

    # No service there: retried within the budget, then the network error.
    unreachable = BanditJoinClient("http://127.0.0.1:9", retry=RetryPolicy(max_attempts=3, base_delay=0.01))
    try:
        unreachable.log_reward("k", 1)
        raise AssertionError("nothing listens there")
    except BanditJoinError as error:
        assert error.code == "BJ_CLIENT_NETWORK" and error.status is None, error.code

    print("python client: all checks passed")


if __name__ == "__main__":
    main(sys.argv[1])
