"""A fake Claude Code for the runner's tests: prints stream-json lines in Claude's real shapes
(../shared/provider-formats.md), with parallel tool calls whose results come back out of order,
and with --approval asks for permission through the control protocol and waits for the answer on
stdin. With --input-format stream-json it answers each user line with a turn, until stdin ends."""
import json
import sys

args = sys.argv[1:]
session = args[args.index("--session-id") + 1] if "--session-id" in args else "s-fake"
if "--resume" in args:
    session = args[args.index("--resume") + 1]


def out(obj):
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def turn(n, prompt):
    mid = "msg_%d" % n
    usage = {"input_tokens": 10, "output_tokens": 5}
    out({"type": "assistant", "message": {"id": mid, "content": [{"type": "text", "text": "On it: " + prompt}], "usage": usage},
         "parent_tool_use_id": None, "session_id": session})
    if "delegate" in prompt:
        # An in-process sub-agent (the Task tool): its lines carry parent_tool_use_id = the call's id.
        task = "task_%d" % n
        out({"type": "assistant", "message": {"id": mid, "content": [{"type": "tool_use", "id": task, "name": "Task",
             "input": {"description": "check the tests", "subagent_type": "general-purpose", "prompt": "run the tests"}}],
             "usage": usage}, "parent_tool_use_id": None, "session_id": session})
        out({"type": "assistant", "message": {"id": mid + "s", "content": [{"type": "text", "text": "sub-agent: running them"}],
             "usage": usage}, "parent_tool_use_id": task, "session_id": session})
        out({"type": "assistant", "message": {"id": mid + "s", "content": [{"type": "tool_use", "id": task + "_bash", "name": "Bash",
             "input": {"command": "make test"}}], "usage": usage}, "parent_tool_use_id": task, "session_id": session})
        out({"type": "user", "message": {"role": "user", "content": [{"tool_use_id": task + "_bash", "type": "tool_result", "content": "ok"}]},
             "parent_tool_use_id": task, "session_id": session})
        out({"type": "user", "message": {"role": "user", "content": [{"tool_use_id": task, "type": "tool_result", "content": "all pass"}]},
             "parent_tool_use_id": None, "session_id": session})
    for tid, name in (("t%d_a" % n, "Bash"), ("t%d_b" % n, "Read")):
        out({"type": "assistant", "message": {"id": mid, "content": [{"type": "tool_use", "id": tid, "name": name, "input": {"x": tid}}],
             "usage": usage}, "parent_tool_use_id": None, "session_id": session})
    # Like Claude: it asks through stdio only with --permission-prompt-tool stdio (not when it may act without asking).
    if "--approval" in args and "--permission-prompt-tool" in args:
        out({"type": "control_request", "request_id": "r%d" % n,
             "request": {"subtype": "can_use_tool", "tool_name": "Bash", "input": {"command": "rm -rf build"}}})
        answer = json.loads(sys.stdin.readline())
        behavior = answer["response"]["response"]["behavior"]
        out({"type": "assistant", "message": {"id": mid + "x", "content": [{"type": "text", "text": "permission: " + behavior}]},
             "parent_tool_use_id": None, "session_id": session})
    # Results out of order: the second call's first.
    for tid in ("t%d_b" % n, "t%d_a" % n):
        out({"type": "user", "message": {"role": "user", "content": [{"tool_use_id": tid, "type": "tool_result", "content": "ok " + tid}]},
             "parent_tool_use_id": None, "session_id": session})
    out({"type": "result", "subtype": "success", "is_error": False, "num_turns": n, "result": "done " + prompt,
         "session_id": session, "total_cost_usd": 0.01 * n})


def probe_mcp():
    """With --probe-mcp: starts the MCP servers of --mcp-config as Claude would and calls whoami on
    `agor`, saying what came back (the runner's MCP configuration, end to end)."""
    import os
    import subprocess
    config = json.load(open(args[args.index("--mcp-config") + 1]))
    server = config["mcpServers"]["agor"]
    env = dict(os.environ)
    env.update(server.get("env", {}))
    child = subprocess.Popen([server["command"]] + server.get("args", []), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, env=env, text=True)
    def ask(obj):
        child.stdin.write(json.dumps(obj) + "\n")
        child.stdin.flush()
    ask({"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "fake-claude", "version": "1"}}})
    child.stdout.readline()
    ask({"jsonrpc": "2.0", "method": "notifications/initialized"})
    ask({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "whoami", "arguments": {}}})
    answer = json.loads(child.stdout.readline())
    child.stdin.close()
    child.wait()
    text = answer.get("result", {}).get("content", [{}])[0].get("text", json.dumps(answer))
    strict = "strict" if "--strict-mcp-config" in args else "not strict"
    out({"type": "assistant", "message": {"id": "mcp", "content": [{"type": "text", "text": "mcp (" + strict + "): " + text}]},
         "parent_tool_use_id": None, "session_id": session})


mode = args[args.index("--permission-mode") + 1] if "--permission-mode" in args else "default"
out({"type": "system", "subtype": "init", "cwd": ".", "session_id": session, "tools": ["Bash", "Read"], "model": "fake-1",
     "permissionMode": mode})
if "--probe-mcp" in args and "--mcp-config" in args:
    probe_mcp()
if "--input-format" in args:
    n = 0
    for line in sys.stdin:
        message = json.loads(line)
        if message.get("type") != "user":
            continue
        n += 1
        turn(n, message["message"]["content"])
else:
    turn(1, args[args.index("-p") + 1] if "-p" in args else "hello")
