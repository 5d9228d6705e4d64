"""Hostile clients of the agor Bus, written from docs/PROTOCOL.md with pyzmq (no agor code): each
tries one way in that must be refused, and the suite checks the refusal and that the service goes
on serving an honest client afterwards.

Usage: hostile.py AGOR HOME. HOME runs btmsg and diagnostics; group g1 has alice, bob, mallory,
flooder, q1..q10 (workers) and chief (its operator); group g2 has carol (worker) and boss2 (its
manager). Prints "ok CASE" per case, a JSON line of the flood's figures, then "hostile ok".
"""
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import uuid

import zmq

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AGOR, HOME = sys.argv[1], sys.argv[2]


def load_stubs():
    out = tempfile.mkdtemp(prefix="agor-pb-")
    subprocess.run(["protoc", f"--proto_path={ROOT}/proto", f"--python_out={out}",
                    "bus/v1/envelope.proto", "btmsg/v1/btmsg.proto"], check=True)
    sys.path.insert(0, out)
    from bus.v1 import envelope_pb2
    from btmsg.v1 import btmsg_pb2
    return envelope_pb2, btmsg_pb2


pb, bt = load_stubs()
with open(os.path.join(HOME, "config.toml"), "rb") as f:
    CONFIG = tomllib.load(f)
ENDPOINTS = CONFIG["services"]["btmsg"]
CTX = zmq.Context()


def key(name):
    with open(os.path.join(HOME, "keys", f"{name}.key"), "rb") as f:
        k = tomllib.load(f)
    return k["public_key"].encode(), k["secret_key"].encode()


def server_key(service):
    with open(os.path.join(HOME, "directory", f"{service}.cert"), "rb") as f:
        return tomllib.load(f)["public_key"].encode()


def socket(kind, name=None, keypair=None, server=None, endpoint=None):
    """A socket speaking CURVE as `name` (or with `keypair`); no name and no keypair: the NULL mechanism."""
    s = CTX.socket(kind)
    s.linger = 0
    if name or keypair:
        public, secret = keypair or key(name)
        s.curve_publickey, s.curve_secretkey = public, secret
        s.curve_serverkey = server or server_key("btmsg")
    s.connect(endpoint or (ENDPOINTS["pub"] if kind == zmq.SUB else ENDPOINTS["rpc"]))
    return s


def envelope(method, request_id=None, on_behalf_of="", version=1):
    return pb.Envelope(version=version, kind=pb.KIND_REQUEST, method=method, request_id=request_id or str(uuid.uuid4()),
                       timestamp_us=int(time.time() * 1e6), on_behalf_of=on_behalf_of).SerializeToString()


def call(sock, method, body=b"", timeout_ms=5000, **kw):
    """One request; (reply envelope, body) or None when nothing came back in time."""
    sock.send_multipart([envelope(method, **kw), body])
    return receive(sock, timeout_ms)


def receive(sock, timeout_ms=5000):
    if not sock.poll(timeout_ms):
        return None
    frames = sock.recv_multipart()
    env = pb.Envelope()
    env.ParseFromString(frames[0])
    return env, (frames[1] if len(frames) > 1 else b"")


def send_body(to, text, group=""):
    return bt.SendRequest(to=to, body=text, group=group).SerializeToString()


def error_code(answer):
    assert answer is not None, "no answer"
    env, _ = answer
    return env.error.code if env.kind == pb.KIND_ERROR else 0


def honest_still_served():
    alice = socket(zmq.DEALER, "alice")
    answer = call(alice, "bus.ping")
    assert answer is not None and answer[0].kind == pb.KIND_REPLY, answer
    alice.close()


def ok(case):
    honest_still_served()
    print("ok", case, flush=True)


def refused_at_handshake(sock, case):
    answer = call(sock, "bus.ping", timeout_ms=1500)
    assert answer is None, f"{case}: answered {answer}"
    sock.close()
    ok(case)


def agor(*args):
    result = subprocess.run([AGOR, *args, "--home", HOME], capture_output=True, text=True)
    assert result.returncode == 0, result
    return result.stdout


# --- Handshakes: only CURVE with a key in the directory, to the right server key.
refused_at_handshake(socket(zmq.DEALER), "NULL mechanism")
plain = CTX.socket(zmq.DEALER)
plain.linger = 0
plain.plain_username, plain.plain_password = b"alice", b"secret"
plain.connect(ENDPOINTS["rpc"])
refused_at_handshake(plain, "PLAIN mechanism")
refused_at_handshake(socket(zmq.DEALER, keypair=zmq.curve_keypair()), "an unknown CURVE key")
refused_at_handshake(socket(zmq.DEALER, "alice", server=zmq.curve_keypair()[0]), "a wrong server key")

# --- A key revoked while its connection is open: the next request is refused.
mallory = socket(zmq.DEALER, "mallory")
assert error_code(call(mallory, "btmsg.whoami", bt.Empty().SerializeToString())) == 0
agor("revoke", "mallory")
deadline = time.time() + 10
while True:
    code = error_code(call(mallory, "btmsg.whoami", bt.Empty().SerializeToString()))
    if code == 401 or time.time() > deadline:
        break
    time.sleep(0.1)
assert code == 401, f"a revoked key's request answered {code}"
mallory.close()
ok("a key revoked mid-connection")

# --- Another principal's request id: dedup is per sender, so bob gets his own message, not alice's reply.
chief = socket(zmq.DEALER, "chief")
for a, b in [("alice", "bob"), ("bob", "alice")] + [(f"q{i}", "bob") for i in range(1, 11)] + [("flooder", "bob")]:
    assert error_code(call(chief, "btmsg.allow", bt.AllowRequest(**{"from": a}, to=b, group="g1").SerializeToString())) == 0
alice, bob = socket(zmq.DEALER, "alice"), socket(zmq.DEALER, "bob")
shared_id = str(uuid.uuid4())
first = call(alice, "btmsg.send", send_body("bob", "from alice"), request_id=shared_id)
second = call(bob, "btmsg.send", send_body("alice", "from bob"), request_id=shared_id)
a_reply, b_reply = bt.SendReply(), bt.SendReply()
a_reply.ParseFromString(first[1])
b_reply.ParseFromString(second[1])
assert b_reply.message.sender == "bob" and b_reply.message.id != a_reply.message.id, (a_reply, b_reply)
# The same id again from alice is her own retry: the same message, not a second one.
again = call(alice, "btmsg.send", send_body("bob", "from alice"), request_id=shared_id)
retry = bt.SendReply()
retry.ParseFromString(again[1])
assert retry.message.id == a_reply.message.id
ok("a request id replayed by another principal")

# --- Acting for someone else without the delegate right.
assert error_code(call(alice, "btmsg.send", send_body("bob", "as chief"), on_behalf_of="chief")) == 403
assert error_code(call(alice, "btmsg.whoami", bt.Empty().SerializeToString(), on_behalf_of="nobody-at-all")) == 403
ok("a spoofed on_behalf_of")

# --- Other groups: sends across groups, into a group the sender is not in.
assert error_code(call(alice, "btmsg.send", send_body("carol", "across"))) == 403
assert error_code(call(alice, "btmsg.send", send_body("carol", "into g2", group="g2"))) == 403
assert error_code(call(alice, "btmsg.send", send_body("bob", "via g2", group="g2"))) == 403
ok("cross-group and non-member sends")

# --- Subscriptions to another group's stream (and to everything): nothing of g2 arrives.
spy_g2 = socket(zmq.SUB, "alice")
spy_g2.setsockopt(zmq.SUBSCRIBE, b"btmsg/g2/")
spy_all = socket(zmq.SUB, "alice")
spy_all.setsockopt(zmq.SUBSCRIBE, b"")
time.sleep(0.5)
boss2 = socket(zmq.DEALER, "boss2")
assert error_code(call(boss2, "btmsg.send", send_body("carol", "g2 only"))) == 0
seen = []
end = time.time() + 1.5
for spy in (spy_g2, spy_all):
    while time.time() < end and spy.poll(100):
        topic = spy.recv_multipart()[0]
        if topic.startswith(b"btmsg/g2/"):
            seen.append(topic)
assert not seen, f"g2's events reached a member of g1 only: {seen}"
spy_g2.close()
spy_all.close()
ok("subscriptions to another group's stream")

# --- Malformed and oversize frames: answered with 400 where there is someone to answer, the rest dropped.
raw = socket(zmq.DEALER, "alice")
raw.send_multipart([b"\xff\xfe\xfd"])
assert error_code(receive(raw)) == 400
raw.send_multipart([b"\x08", b"", b"extra"])
assert error_code(receive(raw)) == 400
raw.send_multipart([envelope("btmsg.whoami", version=99), b""])
assert error_code(receive(raw)) in (400, 426)
raw.send_multipart([envelope("btmsg.send"), b"\x0a\xff\xff\xff\xff\x0f"])
assert error_code(receive(raw)) == 400
limit = CONFIG.get("bus", {}).get("max_message_size", 1 << 20)
big = socket(zmq.DEALER, "alice")
big.send_multipart([envelope("btmsg.send"), b"x" * (limit + 1)])
assert receive(big, 1500) is None, "an oversize frame was answered"
big.close()
raw.close()
ok("malformed and oversize frames")

# --- One client floods while ten keep their pace: the flood is throttled, every request of the
# ten is served. Latencies are printed, not asserted.
def steady(name, seconds, out):
    s = socket(zmq.DEALER, name)
    end = time.time() + seconds
    n = 0
    while time.time() < end:
        n += 1
        t0 = time.perf_counter()
        answer = call(s, "btmsg.send", send_body("bob", f"{name} {n}"), timeout_ms=10000)
        out.append((time.perf_counter() - t0) * 1000 if answer is not None and answer[0].kind == pb.KIND_REPLY else None)
        time.sleep(0.01)
    s.close()


def service_threads():
    """The service's (SERVICE_PID's) threads' CPU time and time spent runnable but waiting for a
    CPU (the run queue), in ms, summed over its threads (/proc/PID/task/*/schedstat)."""
    pid = os.environ.get("SERVICE_PID")
    cpu = wait = 0
    if not pid:
        return 0, 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                ran, waited, _ = f.read().split()
        except OSError:
            continue
        cpu += int(ran)
        wait += int(waited)
    return cpu / 1e6, wait / 1e6


def phase(seconds, flood):
    results = [[] for _ in range(10)]
    threads = [threading.Thread(target=steady, args=(f"q{i + 1}", seconds, results[i])) for i in range(10)]
    for t in threads:
        t.start()
    flood_result = None
    if flood:
        # The flood in a process of its own: in this one it would hold the interpreter's lock and
        # slow the steady clients' own reading, which is not what is measured.
        outcome = multiprocessing.Queue()
        flooder = multiprocessing.Process(target=lambda: outcome.put(flood()))
        flooder.start()
        flood_result = outcome.get(timeout=120)
        flooder.join()
    for t in threads:
        t.join()
    latencies = [x for r in results for x in r]
    assert None not in latencies, f"{latencies.count(None)} of the steady clients' requests failed"
    latencies.sort()
    return latencies, flood_result


def p(latencies, q):
    return round(latencies[min(len(latencies) - 1, int(len(latencies) * q))], 3)


FLOOD = int(os.environ.get("FLOOD", "20000"))


def flood():
    global CTX
    CTX = zmq.Context()   # a forked child makes its own
    # FLOOD_NICE: the flooder at a lower CPU priority, standing in for a flooder on another machine
    # (on this one it takes a core the service and the steady clients share).
    os.nice(int(os.environ.get("FLOOD_NICE", "0")))
    s = socket(zmq.DEALER, "flooder")
    time.sleep(0.3)
    wall, cpu = time.perf_counter(), time.process_time()
    for n in range(FLOOD):
        s.send_multipart([envelope("btmsg.send"), send_body("bob", f"flood {n}")])
    served = throttled = other = 0
    while served + throttled + other < FLOOD:
        answer = receive(s, 10000)
        assert answer is not None, f"the flood's requests went unanswered after {served + throttled + other}"
        code = error_code(answer)
        if code == 0:
            served += 1
        elif code == 503:
            throttled += 1
        else:
            other += 1
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    s.close()
    return served, throttled, other, round(wall * 1000), round(cpu * 1000)


before = service_threads()
quiet, _ = phase(3, None)
between = service_threads()
loud, (served, throttled, other, flood_wall_ms, flooder_cpu_ms) = phase(3, flood)
after = service_threads()
assert served + throttled == FLOOD and other == 0 and throttled > 0, (served, throttled, other)
print(json.dumps({"bench": "flood", "flood_requests": FLOOD, "flood_served": served, "flood_throttled": throttled,
                  "steady_clients": 10, "quiet_p50_ms": p(quiet, 0.5), "quiet_p99_ms": p(quiet, 0.99),
                  "flood_p50_ms": p(loud, 0.5), "flood_p99_ms": p(loud, 0.99),
                  "p99_ratio": round(p(loud, 0.99) / p(quiet, 0.99), 2),
                  "flood_wall_ms": flood_wall_ms, "flooder_cpu_ms": flooder_cpu_ms,
                  # With SERVICE_PID: the service's CPU time and run-queue wait in each phase (ms).
                  "service_cpu_ms": [round(between[0] - before[0]), round(after[0] - between[0])],
                  "service_runqueue_wait_ms": [round(between[1] - before[1]), round(after[1] - between[1])]}), flush=True)
ok("one client flooding while ten keep their pace")
print("hostile ok")
