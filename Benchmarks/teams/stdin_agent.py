"""The agent of `make bench-teams`: Claude's stream-json shapes, minimal. For each user turn on stdin
it appends "RECEIVED_US TEXT" to teams.log in its TMPDIR (the wall clock when readline returned) and answers
with a one-line turn, so the session is idle again at once."""
import json
import os
import sys
import time

args = sys.argv[1:]
session = args[args.index("--session-id") + 1] if "--session-id" in args else "s"
log = open(os.path.join(os.environ.get("TMPDIR", "."), "teams.log"), "a", buffering=1)   # the session's own temporary folder (writable by the agent)


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


out({"type": "system", "subtype": "init", "cwd": ".", "session_id": session, "tools": [], "model": "bench"})
n = 0
for line in sys.stdin:
    received = time.time_ns() // 1000
    message = json.loads(line)
    if message.get("type") != "user":
        continue
    n += 1
    text = message["message"]["content"]
    log.write("%d %s\n" % (received, text.replace("\n", " ")))
    out({"type": "result", "subtype": "success", "is_error": False, "num_turns": n, "result": "ok", "session_id": session})
