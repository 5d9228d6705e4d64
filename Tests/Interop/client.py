"""A third-party client of the agor Bus, written from docs/PROTOCOL.md: pyzmq + protobuf.

Usage: client.py AGOR_HOME. Talks to the `echo` service with the operator's CURVE key: a request,
an error reply, and sequenced events (live, batched, replayed). Prints "interop ok" on success.
"""
import os
import subprocess
import sys
import tempfile
import time
import tomllib
import uuid

import zmq

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_stubs():
    out = tempfile.mkdtemp(prefix="agor-pb-")
    subprocess.run(["protoc", f"--proto_path={ROOT}/proto", f"--python_out={out}", "bus/v1/envelope.proto"], check=True)
    sys.path.insert(0, out)
    from bus.v1 import envelope_pb2  # noqa: E402
    return envelope_pb2


def main(home):
    pb = load_stubs()
    with open(os.path.join(home, "config.toml"), "rb") as f:
        config = tomllib.load(f)
    with open(os.path.join(home, "keys", "operator.key"), "rb") as f:
        key = tomllib.load(f)
    with open(os.path.join(home, "directory", "echo.cert"), "rb") as f:
        server_key = tomllib.load(f)["public_key"].encode()
    endpoints = config["services"]["echo"]

    ctx = zmq.Context()

    def curve(sock):
        sock.curve_secretkey = key["secret_key"].encode()
        sock.curve_publickey = key["public_key"].encode()
        sock.curve_serverkey = server_key
        sock.linger = 0

    dealer = ctx.socket(zmq.DEALER)
    curve(dealer)
    dealer.connect(endpoints["rpc"])

    def call(method, body=b"", raw=None):
        env = pb.Envelope(version=1, kind=pb.KIND_REQUEST, method=method, request_id=str(uuid.uuid4()),
                          timestamp_us=int(time.time() * 1e6))
        dealer.send_multipart(raw if raw is not None else [env.SerializeToString(), body])
        if not dealer.poll(5000):
            raise SystemExit(f"no reply to {method}")
        frames = dealer.recv_multipart()
        reply = pb.Envelope()
        reply.ParseFromString(frames[0])
        return reply, (frames[1] if len(frames) > 1 else b"")

    env, body = call("bus.ping")
    ping = pb.PingReply()
    ping.ParseFromString(body)
    assert env.kind == pb.KIND_REPLY and ping.service == "echo" and ping.principal == "operator", (env, ping)

    env, body = call("echo", b"hello from python")
    assert body == b"hello from python", body

    env, _ = call("x", raw=[b"\xff\xff\xff"])
    assert env.kind == pb.KIND_ERROR and env.error.code == 400, env

    sub = ctx.socket(zmq.SUB)
    curve(sub)
    sub.setsockopt(zmq.SUBSCRIBE, b"echo.py")
    sub.connect(endpoints["pub"])
    time.sleep(0.5)  # let the subscription reach the publisher; replay covers anything missed

    env, body = call("echo.emit", b'{"stream": "echo.py", "count": 50, "payload": "p"}')
    assert env.kind == pb.KIND_REPLY, env

    seen = []

    def take(envelope_bytes):
        e = pb.Envelope()
        e.ParseFromString(envelope_bytes)
        if e.kind == pb.KIND_EVENT and e.seq == len(seen) + 1:
            seen.append(e.seq)

    deadline = time.time() + 5
    while len(seen) < 50 and time.time() < deadline:
        if not sub.poll(500):
            break
        topic, env_bytes, body = sub.recv_multipart()
        env = pb.Envelope()
        env.ParseFromString(env_bytes)
        if env.kind == pb.KIND_EVENT_BATCH:
            batch = pb.EventBatch()
            batch.ParseFromString(body)
            assert len(batch.items) == env.batch_count
            for item in batch.items:
                take(item.envelope)
        elif env.kind == pb.KIND_EVENT:
            take(env_bytes)
    live = len(seen)
    # Fill whatever the slow join missed from the replay endpoint.
    while len(seen) < 50:
        req = pb.ReplayRequest(stream="echo.py", after_seq=len(seen))
        env, body = call("bus.replay", req.SerializeToString())
        reply = pb.ReplayReply()
        reply.ParseFromString(body)
        assert reply.events, "replay returned nothing"
        for item in reply.events:
            take(item.envelope)
    assert seen == list(range(1, 51)), seen
    print(f"interop ok: ping, echo, error reply, 50 events in order ({live} live, {50 - live} replayed)")


if __name__ == "__main__":
    main(sys.argv[1])
