"""Prints a port such that COUNT consecutive loopback ports from it can be bound now (default 8),
chosen in 20000-30000, below the ephemeral range. Used by the benchmark scripts."""
import random
import socket
import sys

count = int(sys.argv[1]) if len(sys.argv) > 1 else 8
while True:
    base = random.randrange(20000, 30000 - count, count)
    held = []
    try:
        for port in range(base, base + count):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            held.append(s)
        print(base)
        break
    except OSError:
        pass
    finally:
        for s in held:
            s.close()
