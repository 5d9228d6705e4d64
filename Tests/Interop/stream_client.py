"""A WebSocket client of the Gateway's /v1/stream, for the tests: prints every event it receives as
one line on stdout (a batch frame's events each on its own line), and a last line {"closed": CODE, "reason": ...} when the server closes.

usage: stream_client.py URL TOKEN [--count N] [--stall SECONDS]
  --count N        stop after N events (those with a "seq"; with --count-type, of that type only)
  --stall SECONDS  read nothing for that long after the hello (a slow client)
"""
import argparse
import json
import sys
import time

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

parser = argparse.ArgumentParser()
parser.add_argument("url")
parser.add_argument("token")
parser.add_argument("--count", type=int, default=0)
parser.add_argument("--count-type", default="", help="count only events of this type (e.g. message.created)")
parser.add_argument("--stall", type=float, default=0)
args = parser.parse_args()

events = 0
try:
    with connect(args.url, additional_headers={"Authorization": "Bearer " + args.token}, open_timeout=10,
                 max_size=2 ** 22) as ws:
        first = ws.recv(timeout=10)
        print(first, flush=True)
        if args.stall:
            time.sleep(args.stall)
        while args.count == 0 or events < args.count:
            frame = ws.recv(timeout=30)
            # A batching client (batch=true) gets several events per frame, one per line.
            for line in frame.split("\n"):
                print(line, flush=True)
                event = json.loads(line)
                if "seq" in event and (not args.count_type or event.get("type") == args.count_type):
                    events += 1
except ConnectionClosed as closed:
    code = closed.rcvd.code if closed.rcvd else None
    reason = closed.rcvd.reason if closed.rcvd else ""
    print(json.dumps({"closed": code, "reason": reason}), flush=True)
except Exception as error:  # noqa: BLE001 - the test reads the line
    print(json.dumps({"error": type(error).__name__, "detail": str(error)}), flush=True)
    sys.exit(1)
