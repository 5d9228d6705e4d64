"""The agent of `make chaos`: Claude's stream-json shapes, minimal. Each user turn on stdin is
answered with 10 lines of assistant text, 50 ms apart, then the turn's result, so a session busy
with turns writes output steadily. Started again with --resume after the runner is killed."""
import json
import sys
import time

args = sys.argv[1:]
session = args[args.index("--session-id") + 1] if "--session-id" in args else "chaos"
if "--resume" in args:
    session = args[args.index("--resume") + 1]


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


out({"type": "system", "subtype": "init", "cwd": ".", "session_id": session, "tools": [], "model": "chaos"})
n = 0
for line in sys.stdin:
    message = json.loads(line)
    if message.get("type") != "user":
        continue
    n += 1
    text = str(message["message"]["content"])[:80]
    for i in range(10):
        out({"type": "assistant", "message": {"id": "m%d" % n, "content": [{"type": "text", "text": "%s: line %d" % (text, i)}],
             "usage": {"input_tokens": 1, "output_tokens": 1}}, "parent_tool_use_id": None, "session_id": session})
        time.sleep(0.05)
    out({"type": "result", "subtype": "success", "is_error": False, "num_turns": n, "result": "ok", "session_id": session})
