"""Trains Vowpal Wabbit online from banditjoin's tail: GET /joined?format=dsjson.

    pip install "banditjoin[vw]"   # or: pip install ./clients/python vowpalwabbit
    python train_vw.py --url http://127.0.0.1:8080 --from-seq 1 --model policy.vw

Each joined record arrives as one Decision Service JSON line and is learned at once
(contextual bandit over action-dependent features, `--cb_explore_adf`). The position is kept
in a file next to the model so that a restart goes on from the next record: no record is
learned twice and none is skipped, across restarts of this script or of the service.
"""

import argparse
import json
import os

import vowpalwabbit

from banditjoin import BanditJoinClient


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--api-key", default=os.environ.get("API_KEY"))
    parser.add_argument("--from-seq", type=int, help="first record (default: where the last run stopped, else new ones)")
    parser.add_argument("--model", help="save the model here (and its position in MODEL.seq) every --save-every records")
    parser.add_argument("--save-every", type=int, default=1000)
    parser.add_argument("--max-records", type=int, help="stop after this many (default: run forever)")
    parser.add_argument("--vw-args", default="--cb_explore_adf --epsilon 0.1")
    args = parser.parse_args()

    position_file = f"{args.model}.seq" if args.model else None
    start = args.from_seq
    vw_args = f"{args.vw_args} --dsjson --quiet"
    if position_file and os.path.exists(position_file) and os.path.exists(args.model):
        with open(position_file) as f:
            start = start or int(f.read()) + 1
        vw_args += f" -i {args.model}"
    vw = vowpalwabbit.Workspace(vw_args)
    client = BanditJoinClient(args.url, api_key=args.api_key)

    learned = 0
    last_seq = None
    for record in client.joined(from_seq=start, format="dsjson"):
        last_seq = record.pop("seq")
        # A record dsjson cannot express (logged before dsjson was checked) is marked, not learned.
        if not record.get("_skipLearn"):
            examples = vw.parse(json.dumps(record))
            vw.learn(examples)
            vw.finish_example(examples)
        learned += 1
        if args.model and learned % args.save_every == 0:
            save(vw, args.model, position_file, last_seq)
        if args.max_records is not None and learned >= args.max_records:
            break
    if args.model and last_seq is not None:
        save(vw, args.model, position_file, last_seq)
    print(f"learned from {learned} records (last seq {last_seq})")
    vw.finish()


def save(vw: vowpalwabbit.Workspace, model: str, position_file: str, seq: int) -> None:
    """The model first, then its position: a crash between the two relearns, never skips."""
    vw.save(model)
    with open(position_file + ".tmp", "w") as f:
        f.write(str(seq))
    os.replace(position_file + ".tmp", position_file)


if __name__ == "__main__":
    main()
