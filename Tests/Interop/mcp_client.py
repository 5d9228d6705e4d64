"""Drives `agor mcp` with the MCP client from PyPI (mcp 2.3.0), over stdio, against running
btmsg and bttask services. Argv: AGOR_BINARY HOME KEY_OF_WES KEY_OF_MIA TASK_ID.
wes is a worker; mia a manager who sends wes a message while wes waits.
Prints "mcp interop ok" when every step behaved."""
import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

agor, home, wes_key, mia_key, task_id = sys.argv[1:6]


def server(key):
    return StdioServerParameters(command=agor, args=["mcp", "--home", home, "--key", key])


def text(result):
    return "".join(part.text for part in result.content if getattr(part, "type", "") == "text")


def check(condition, what):
    if not condition:
        print("FAILED:", what, flush=True)
        sys.exit(1)


async def as_agent(key, body):
    async with stdio_client(server(key)) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            return await body(session)


async def wes_session(session):
    tools = await session.list_tools()
    names = {tool.name for tool in tools.tools}
    for expected in ["send", "reply", "inbox", "read", "ack", "wait", "channel_list", "channel_send",
                     "channel_history", "search", "task_ready", "task_claim", "task_show", "task_move",
                     "task_comment", "task_create", "whoami", "lease_acquire", "lease_renew", "lease_release", "lease_list"]:
        check(expected in names, f"tool {expected} listed")
    send = next(tool for tool in tools.tools if tool.name == "send")
    check(send.input_schema.get("required") == ["to", "body"], "send's schema requires to and body")

    me = json.loads(text(await session.call_tool("whoami", {})))
    check(me["name"] == "wes" and me["role"] == "worker", f"whoami is wes the worker: {me}")

    # A worker may not write first to a manager: the service's refusal, as a tool error.
    first = await session.call_tool("send", {"to": "mia", "body": "may I?"})
    check(first.is_error and text(first).startswith("forbidden:"), f"a worker's first message to a manager is refused: {text(first)}")

    # A refused call: a worker may not create tasks. A tool error with the service's code.
    refused = await session.call_tool("task_create", {"title": "not mine to make"})
    check(refused.is_error and text(refused).startswith("forbidden:"), f"task_create refused: {text(refused)}")
    # Bad arguments: a typed refusal, and the server keeps serving.
    bad = await session.call_tool("send", {"to": "mia"})
    check(bad.is_error and text(bad).startswith("bad_request:") and "body" in text(bad), f"missing body refused: {text(bad)}")
    typo = await session.call_tool("inbox", {"limt": 5})
    check(typo.is_error and "limt" in text(typo), f"unknown argument refused: {text(typo)}")
    unknown = await session.call_tool("no_such_tool", {})
    check(unknown.is_error, "an unknown tool is an error")

    claimed = await session.call_tool("task_claim", {"id": task_id[:8]})
    check(not claimed.is_error, f"claim by prefix: {text(claimed)}")
    task = json.loads(text(claimed))["task"]
    check(task["assignee"] == "wes" and task["status"] == "STATUS_IN_PROGRESS", f"claimed: {task}")
    again = await session.call_tool("task_claim", {"id": task_id})
    check(not again.is_error or "conflict" in text(again), "claiming one's own task again is not a crash")

    # wait: nothing yet; mia (another agor mcp) sends while wes waits; the wait returns it.
    async def mia_sends():
        await asyncio.sleep(1.0)
        async def send(mia):
            result = await mia.call_tool("send", {"to": "wes", "body": "your turn, wes"})
            check(not result.is_error, f"mia's send: {text(result)}")
        await as_agent(mia_key, send)
    sender = asyncio.create_task(mia_sends())
    waited = await session.call_tool("wait", {"timeout_s": 30})
    await sender
    messages = json.loads(text(waited)).get("messages", [])
    check(any(m["body"] == "your turn, wes" for m in messages), f"wait returned mia's message: {text(waited)}")

    read = await session.call_tool("read", {"id": messages[0]["id"][:8]})
    check(not read.is_error and json.loads(text(read))["read"], f"read by prefix marks it read: {text(read)}")
    replied = await session.call_tool("reply", {"message_id": messages[0]["id"], "body": "on it"})
    check(not replied.is_error and json.loads(text(replied))["message"]["reply_to"] == messages[0]["id"], f"reply: {text(replied)}")
    sent = await session.call_tool("send", {"to": "mia", "body": "hello from wes over mcp"})
    check(not sent.is_error, f"send accepted: {text(sent)}")
    check(json.loads(text(sent))["message"]["sender"] == "wes", "the message is wes's")

    empty = await session.call_tool("wait", {"timeout_s": 1})
    check(json.loads(text(empty)).get("messages", []) == [], f"a wait with nothing unread ends empty: {text(empty)}")

    # File leases: hold, see, a bad path refused, release.
    leased = await session.call_tool("lease_acquire", {"project": "site", "paths": ["src/"], "ttl_s": 120})
    check(not leased.is_error, f"lease_acquire: {text(leased)}")
    lease = json.loads(text(leased))["leases"][0]
    check(lease["holder"] == "wes" and lease["exclusive"], f"the lease is wes's, exclusive: {lease}")
    listed = json.loads(text(await session.call_tool("lease_list", {"project": "site", "path": "src/main.swift"})))
    check([l["id"] for l in listed["leases"]] == [lease["id"]], f"lease_list by path: {listed}")
    bad_path = await session.call_tool("lease_acquire", {"project": "site", "paths": ["../etc"]})
    check(bad_path.is_error and text(bad_path).startswith("bad_request:"), f"a path out of the project is refused: {text(bad_path)}")
    released = await session.call_tool("lease_release", {"id": lease["id"]})
    check(not released.is_error, f"lease_release: {text(released)}")

    # Answers come back in request order, also when asked together.
    results = await asyncio.gather(*[session.call_tool("whoami", {}) for _ in range(5)])
    check(all(json.loads(text(r))["name"] == "wes" for r in results), "five at once all answered")
    return True


async def main():
    ok = await as_agent(wes_key, wes_session)
    check(ok, "wes's session")
    print("mcp interop ok", flush=True)


asyncio.run(main())
