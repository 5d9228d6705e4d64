"""Agents that misbehave, for the runner's tests:
  bigline MB        a line of MB megabytes, then a line with U+2028 inside a string, garbage, a good line
  flood N           N Claude-shaped lines as fast as the pipe takes them, then exit
  ignore-term       ignores SIGTERM and sleeps
  fork              forks a grandchild that keeps stdout open and sleeps; the parent exits
  env               prints its environment as one JSON line
  loop N            the same tool call N times (each with its result), then sleeps
  eat MB            touches MB megabytes of memory, a megabyte at a time, then sleeps
  spawn N           starts N sleeping children (reporting each fork refused), then sleeps
  connect PORT...   tries a TCP connection to each port on 127.0.0.1, one line each, then exits
  turn              one turn: a text line and a done line, then exits
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
elif mode == "eat":
    held = []
    print('{"type":"text","text":"eating"}', flush=True)
    for i in range(int(sys.argv[2])):
        held.append(bytearray(1 << 20))
        for j in range(0, 1 << 20, 4096):
            held[-1][j] = 1
    print('{"type":"text","text":"ate it all"}', flush=True)
    time.sleep(600)
elif mode == "spawn":
    for i in range(int(sys.argv[2])):
        try:
            if os.fork() == 0:
                time.sleep(600)
                os._exit(0)
        except OSError as error:
            print(json.dumps({"type": "text", "text": "fork refused: %s" % error}), flush=True)
    print('{"type":"text","text":"spawned"}', flush=True)
    time.sleep(600)
elif mode == "connect":
    import socket
    for port in [a for a in sys.argv[2:] if a.isdigit()]:
        try:
            socket.create_connection(("127.0.0.1", int(port)), timeout=5).close()
            result = "connected"
        except OSError as error:
            result = "refused: %s" % type(error).__name__
        print(json.dumps({"type": "text", "text": "%s %s" % (port, result)}), flush=True)
elif mode == "turn":
    print('{"type":"text","text":"working"}', flush=True)
    print('{"type":"done","text":"done"}', flush=True)
sys.stdout.flush()
