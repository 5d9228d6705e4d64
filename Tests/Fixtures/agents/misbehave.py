"""Agents that misbehave, for the runner's tests:
  bigline MB        a line of MB megabytes, then a line with U+2028 inside a string, garbage, a good line
  flood N           N Claude-shaped lines as fast as the pipe takes them, then exit
  ignore-term       ignores SIGTERM and sleeps
  fork              forks a grandchild that keeps stdout open and sleeps; the parent exits
  env               prints its environment as one JSON line
  loop N            the same tool call N times (each with its result), then sleeps
"""
import json
import os
import signal
import sys
import time

mode = sys.argv[1]
if mode == "bigline":
    size = int(sys.argv[2]) << 20
    chunk = "x" * (1 << 20)
    sys.stdout.write('{"type":"text","text":"')
    for _ in range(size >> 20):
        sys.stdout.write(chunk)
    sys.stdout.write('"}\n')
    sys.stdout.write('{"type":"text","text":"sep\u2028arated"}\n')
    sys.stdout.write("garbage {{{\n")
    sys.stdout.write('{"type":"done","text":"after the flood"}\n')
elif mode == "flood":
    text = "y" * 900
    n = int(sys.argv[2])
    for start in range(0, n, 1000):
        sys.stdout.write("".join(json.dumps({"type": "assistant", "message": {"id": "m%d" % i, "content": [{"type": "text", "text": text}]}}) + "\n"
                                 for i in range(start, min(n, start + 1000))))
elif mode == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print('{"type":"text","text":"you cannot stop me"}', flush=True)
    time.sleep(600)
elif mode == "fork":
    if os.fork() == 0:
        time.sleep(600)
        os._exit(0)
    print('{"type":"text","text":"parent leaving"}', flush=True)
elif mode == "loop":
    for i in range(int(sys.argv[2])):
        print('{"type":"tool_call","id":"c%d","name":"grep","input":{"q":"same"}}' % i, flush=True)
        print('{"type":"tool_result","id":"c%d","content":"nothing"}' % i, flush=True)
    time.sleep(600)
elif mode == "env":
    print(json.dumps({"type": "text", "text": json.dumps(dict(os.environ), sort_keys=True)}), flush=True)
sys.stdout.flush()
