"""A third-party btmsg client, written from docs/PROTOCOL.md and docs/BTMSG.md: pyzmq + protobuf.

Usage: btmsg_client.py AGOR_HOME. The operator sends a direct message to `wes` and wes reads it; the
group's event stream announces it; a malformed body is refused with 400. Prints "btmsg interop ok".
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
    subprocess.run(["protoc", f"--proto_path={ROOT}/proto", f"--python_out={out}",
                    "bus/v1/envelope.proto", "btmsg/v1/btmsg.proto"], check=True)
    sys.path.insert(0, out)
    from bus.v1 import envelope_pb2  # noqa: E402
    from btmsg.v1 import btmsg_pb2  # noqa: E402
    return envelope_pb2, btmsg_pb2


def toml(path):
    with open(path, "rb") as f:
        return tomllib.load(f)


def main(home):
    bus, btmsg = load_stubs()
    endpoints = toml(os.path.join(home, "config.toml"))["services"]["btmsg"]
    server_key = toml(os.path.join(home, "directory", "btmsg.cert"))["public_key"].encode()
    ctx = zmq.Context()

    def socket(kind, who):
        key = toml(os.path.join(home, "keys", f"{who}.key"))
        sock = ctx.socket(kind)
        sock.curve_secretkey = key["secret_key"].encode()
        sock.curve_publickey = key["public_key"].encode()
        sock.curve_serverkey = server_key
        sock.linger = 0
        return sock

    def client(who):
        dealer = socket(zmq.DEALER, who)
        dealer.connect(endpoints["rpc"])

        def call(method, body=b"", reply_type=None):
            env = bus.Envelope(version=1, kind=bus.KIND_REQUEST, method=method, request_id=str(uuid.uuid4()),
                               timestamp_us=int(time.time() * 1e6))
            dealer.send_multipart([env.SerializeToString(), body])
            if not dealer.poll(5000):
                raise SystemExit(f"no reply to {method}")
            frames = dealer.recv_multipart()
            reply = bus.Envelope()
            reply.ParseFromString(frames[0])
            if reply.kind == bus.KIND_ERROR:
                return reply, None
            message = reply_type()
            message.ParseFromString(frames[1])
            return reply, message
        return call

    operator, wes = client("operator"), client("wes")

    sub = socket(zmq.SUB, "wes")
    sub.setsockopt(zmq.SUBSCRIBE, b"btmsg/default/")
    sub.connect(endpoints["pub"])
    time.sleep(0.5)  # let the subscription reach the publisher; replay covers anything missed

    env, sent = operator("btmsg.send", btmsg.SendRequest(to="wes", body="hello from python").SerializeToString(),
                         btmsg.SendReply)
    assert env.kind == bus.KIND_REPLY and sent.message.group == "default", env

    env, inbox = wes("btmsg.inbox", btmsg.InboxRequest().SerializeToString(), btmsg.MessageList)
    assert [m.id for m in inbox.messages] == [sent.message.id], inbox
    env, read = wes("btmsg.read", btmsg.MessageRef(id=sent.message.id).SerializeToString(), btmsg.Message)
    assert read.body == "hello from python" and read.read, read

    env, _ = wes("btmsg.send", b"\xff\xff", btmsg.SendReply)
    assert env.kind == bus.KIND_ERROR and env.error.code == 400, env

    # The message is announced on the group's stream (live, or else by replay).
    created = None
    deadline = time.time() + 3
    while created is None and time.time() < deadline and sub.poll(500):
        topic, env_bytes, body = sub.recv_multipart()
        e = bus.Envelope()
        e.ParseFromString(env_bytes)
        items = []
        if e.kind == bus.KIND_EVENT:
            items = [(e, body)]
        elif e.kind == bus.KIND_EVENT_BATCH:
            batch = bus.EventBatch()
            batch.ParseFromString(body)
            for item in batch.items:
                inner = bus.Envelope()
                inner.ParseFromString(item.envelope)
                items.append((inner, item.body))
        for inner, inner_body in items:
            if inner.method == "message.created":
                event = btmsg.Event()
                event.ParseFromString(inner_body)
                if event.message_created.id == sent.message.id:
                    created = event.message_created
    how = "live"
    if created is None:
        how = "replayed"
        env, replay = wes("bus.replay", bus.ReplayRequest(stream="btmsg/default/").SerializeToString(), bus.ReplayReply)
        for item in replay.events:
            inner = bus.Envelope()
            inner.ParseFromString(item.envelope)
            event = btmsg.Event()
            event.ParseFromString(item.body)
            if inner.method == "message.created" and event.message_created.id == sent.message.id:
                created = event.message_created
    assert created is not None and created.body == "" and created.recipient == "wes", created
    print(f"btmsg interop ok: send, inbox, read, error reply, event ({how})")


if __name__ == "__main__":
    main(sys.argv[1])
