"""Floods the Gateway over HTTP and WebSocket and checks that its memory stays bounded and that it
keeps serving: slow WebSocket readers that stop reading, a person sending requests faster than the
per-person rate, and connections that open requests and trickle their bodies (slowloris) past the
Gateway's in-flight limit. Python's standard library and `websockets` only; no agor code.

usage: gateway_flood.py HOST:PORT GATEWAY_PID WRITER_TOKEN FLOODER_TOKEN
Prints "ok NAME" per check, a JSON figures line, and "gateway flood ok" at the end; exits 1 on a
failed check.
"""
import http.client
import json
import socket
import sys
import threading
import time

from websockets.sync.client import connect

address, pid, writer, flooder = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
host, port = address.split(":")
port = int(port)

SLOW_READERS = 10
MESSAGES = 1500
BODY = "x" * 12000         # ~12 KB an event: 1500 of them are ~18 MB per reader, past its bound
                           # (4 MiB) and the kernel's buffers (up to 4 MiB more)
SLOW_CLIENT_BYTES = 4 << 20  # StreamHub.slowClientBytes
IN_FLIGHT = 256              # InFlightLimitMiddleware.maxInFlight
failures = []


def check(name, condition, detail=""):
    if condition:
        print("ok " + name, flush=True)
    else:
        print("FAIL " + name + ": " + str(detail), flush=True)
        failures.append(name)


def rss_mib():
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0


class RSSWatch(threading.Thread):
    """The Gateway's resident memory every 50 ms, and the highest seen."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak = 0
        self.running = True

    def run(self):
        while self.running:
            self.peak = max(self.peak, rss_mib())
            time.sleep(0.05)


def request(method, path, token, body=None, connection=None):
    own = connection is None
    connection = connection or http.client.HTTPConnection(host, port, timeout=30)
    headers = {"Authorization": "Bearer " + token}
    if body is not None:
        headers["Content-Type"] = "application/json"
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    if own:
        connection.close()
    return response.status, data


def healthy():
    try:
        connection = http.client.HTTPConnection(host, port, timeout=10)
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False


# A channel of the writer's group to carry the events.
status, data = request("POST", "/v1/channels", writer, json.dumps({"group": "web", "name": "flood", "open": True}))
assert status == 201, (status, data)
channel = json.loads(data)["id"]
for _ in range(20):   # warm up the paths before the baseline
    request("GET", "/v1/channels?group=web", writer)
baseline = rss_mib()
watch = RSSWatch()
watch.start()

# --- Slow readers: upgrade, then never read. A tiny receive buffer so the Gateway's side fills fast.
stream_path = "/v1/stream?groups=web"
slow = []
for _ in range(SLOW_READERS):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, port))
    sock.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                  "Authorization: Bearer %s\r\n\r\n" % (stream_path, address, writer)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    slow.append(sock)

# --- A healthy reader that must receive every message, once and in order.
received = []
reader_done = threading.Event()


def read_all():
    with connect("ws://%s%s&batch=true" % (address, stream_path), additional_headers={"Authorization": "Bearer " + writer},
                 max_size=2 ** 24) as ws:
        ws.recv(timeout=10)   # hello
        while len([e for e in received if e.get("type") == "message.created"]) < MESSAGES:
            for line in ws.recv(timeout=60).split("\n"):
                received.append(json.loads(line))
    reader_done.set()


reader = threading.Thread(target=read_all, daemon=True)
reader.start()
time.sleep(0.5)

# --- The writer sends the messages (a 429 is retried) while the flooder floods.
sent = []
throttled_writer = [0]


def write(share):
    connection = http.client.HTTPConnection(host, port, timeout=30)
    for i in share:
        while True:
            status, data = request("POST", "/v1/messages", writer,
                                   json.dumps({"channel_id": channel, "body": "%d %s" % (i, BODY)}), connection)
            if status == 429:
                throttled_writer[0] += 1
                time.sleep(0.05)
                continue
            assert status == 201, (status, data[:200])
            sent.append(i)
            break


flood_statuses = {}
flood_lock = threading.Lock()
stop_flood = threading.Event()


def flood():
    connection = http.client.HTTPConnection(host, port, timeout=30)
    while not stop_flood.is_set():
        try:
            status, _ = request("GET", "/v1/me", flooder, connection=connection)
        except (OSError, http.client.HTTPException):
            connection = http.client.HTTPConnection(host, port, timeout=30)
            continue
        with flood_lock:
            flood_statuses[status] = flood_statuses.get(status, 0) + 1


flooders = [threading.Thread(target=flood, daemon=True) for _ in range(4)]
for thread in flooders:
    thread.start()
writers = [threading.Thread(target=write, args=(range(k, MESSAGES, 4),)) for k in range(4)]
for thread in writers:
    thread.start()
for thread in writers:
    thread.join()
stop_flood.set()
for thread in flooders:
    thread.join()
check("every message was accepted", len(sent) == MESSAGES, len(sent))
reader_done.wait(120)
created = [e for e in received if e.get("type") == "message.created"]
stream = created[0]["stream"] if created else ""
seqs = [e["seq"] for e in received if e.get("stream") == stream]
check("the healthy reader received every message once, in order",
      len(created) == MESSAGES and seqs == sorted(set(seqs)), "%d of %d" % (len(created), MESSAGES))
check("the flooding person was throttled (429) and never got a server error",
      flood_statuses.get(429, 0) > 0 and all(code < 500 for code in flood_statuses), flood_statuses)
peak_stream = watch.peak

# --- The slow readers were closed: each now reads what was written before the close: a close
# frame 4008, or the connection's end.
def drain(sock, outcome):
    """Reads what the Gateway wrote until it ends the connection (at most 60 s)."""
    sock.settimeout(60)
    data = b""
    try:
        while True:
            chunk = sock.recv(1 << 16)
            if not chunk:
                outcome["ended"] = True
                break
            data = (data + chunk)[-4096:]
    except OSError as error:
        outcome["error"] = repr(error)
    # The server's close frame: 0x88, a short length, then the code (4008 = 0x0FA8).
    close = data.rfind(b"\x88")
    outcome["told"] = close >= 0 and data[close + 2:close + 4] == b"\x0f\xa8"
    sock.close()


outcomes = [{} for _ in slow]
drains = [threading.Thread(target=drain, args=(sock, outcome)) for sock, outcome in zip(slow, outcomes)]
for thread in drains:
    thread.start()
for thread in drains:
    thread.join()
slow_closed = sum(1 for outcome in outcomes if outcome.get("ended"))
told = sum(1 for outcome in outcomes if outcome.get("told"))
# (A reader that reads nothing may never see the close frame: it waits behind what the reader did
# not take, and the connection ends when the close handshake times out.)
check("every slow reader was ended by the Gateway", slow_closed == SLOW_READERS, outcomes)

# --- Slowloris: connections that send a request's head and trickle its body (here the public
# sign-in, which reads a body of up to 64 KiB) hold the in-flight places; past the limit, requests
# are refused at once with 503 busy, and once they go the Gateway serves again.
held = []
for _ in range(IN_FLIGHT + 20):
    sock = socket.create_connection((host, port))
    sock.sendall(("POST /v1/session HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                  "Content-Length: 60000\r\n\r\n{\"token\":" % address).encode())
    held.append(sock)
time.sleep(1)
busy = 0
for _ in range(20):
    status, data = request("GET", "/v1/channels?group=web", writer)
    if status == 503 and json.loads(data)["error"]["code"] == "busy":
        busy += 1
check("past the in-flight limit a request is refused 503 busy", busy > 0, busy)
for sock in held:
    sock.close()
served_again = False
for _ in range(100):
    status, _ = request("GET", "/v1/channels?group=web", writer)
    if status == 200:
        served_again = True
        break
    time.sleep(0.1)
check("the Gateway serves again once they go", served_again and healthy())
watch.running = False
watch.join()

growth = watch.peak - baseline
bound = 64 + SLOW_READERS * SLOW_CLIENT_BYTES / (1 << 20)
print(json.dumps({"bench": "gateway-flood", "baseline_rss_mib": round(baseline, 1), "peak_rss_mib": round(watch.peak, 1),
                  "peak_during_stream_mib": round(peak_stream, 1), "growth_mib": round(growth, 1), "bound_mib": bound,
                  "messages": MESSAGES, "event_kib": len(BODY) // 1024, "slow_readers": SLOW_READERS,
                  "slow_told_4008": told, "flood_statuses": flood_statuses, "writer_429": throttled_writer[0], "busy_503": busy}), flush=True)
check("the Gateway's memory grew less than the bound", growth < bound, "%.1f MiB" % growth)
if failures:
    print("gateway flood FAILED: " + ", ".join(failures), flush=True)
    sys.exit(1)
print("gateway flood ok", flush=True)
