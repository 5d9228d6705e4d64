"""A fake agent that works through agor's MCP tools, printing a provider's real stream shapes
(../shared/provider-formats.md). One file on purpose: the runner's sandbox lets a session read the
script it starts, not the script's folder.

As Codex (`exec --json [resume THREAD] PROMPT`, the runner's Codex launch): thread.started,
turn.started, items started and completed (reasoning, a command, a file change, an MCP tool call
to agor's `whoami` through the server its CODEX_HOME/config.toml names, the agent's message),
turn.completed with the thread's usage.

As Claude Code (stream-json, --mcp-config): each MCP call is a `tool_use` named mcp__agor__TOOL and
its `tool_result`. What it does comes from its first turn:

  lead: build=TASK check=TASK project=P     spawns `builder` (worker) and `checker` (tester) through
                                            spawn_agent, then ends when both have reported finished
  build: task=TASK peer=NAME project=P      claims TASK, leases src/cart.py exclusively (tied to the
                                            task), tells NAME, asks to use Bash (an approval), moves
                                            TASK to done (which ends the lease), ends
  check: task=TASK peer=NAME project=P      claims TASK, leases tests/ shared, waits for NAME's message,
                                            answers it, moves TASK to done, ends
"""
import json
import os
import subprocess
import sys
import uuid

args = sys.argv[1:]


# ---- a minimal MCP client over stdio, one JSON-RPC request at a time, as Claude and Codex do ----
class AgorTools:
    def __init__(self, command, args, env):
        full = dict(os.environ)
        full.update(env)
        self.child = subprocess.Popen([command] + list(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, env=full, text=True)
        self.next_id = 0
        self.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                    "clientInfo": {"name": "fake-agent", "version": "1"}})
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    @classmethod
    def from_claude_config(cls, path):
        server = json.load(open(path))["mcpServers"]["agor"]
        return cls(server["command"], server.get("args", []), server.get("env", {}))

    @classmethod
    def from_codex_home(cls, home):
        # The runner writes: command, args, and [mcp_servers.agor.env] key = "value" lines.
        command, args, env, section = None, [], {}, ""
        for raw in open(os.path.join(home, "config.toml")):
            line = raw.strip()
            if line.startswith("["):
                section = line
            elif "=" in line:
                key, value = (part.strip() for part in line.split("=", 1))
                if section == "[mcp_servers.agor]" and key == "command":
                    command = json.loads(value)
                elif section == "[mcp_servers.agor]" and key == "args":
                    args = json.loads(value)
                elif section == "[mcp_servers.agor.env]":
                    env[key] = json.loads(value)
        return cls(command, args, env)

    def send(self, obj):
        self.child.stdin.write(json.dumps(obj) + "\n")
        self.child.stdin.flush()

    def request(self, method, params):
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        while True:
            answer = json.loads(self.child.stdout.readline())
            if answer.get("id") == self.next_id:
                return answer

    def call(self, tool, **arguments):
        """(is_error, text) of one tool call."""
        answer = self.request("tools/call", {"name": tool, "arguments": arguments})
        result = answer.get("result", {})
        text = "".join(block.get("text", "") for block in result.get("content", []))
        return bool(result.get("isError")) or "error" in answer, text or json.dumps(answer.get("error"))

    def close(self):
        self.child.stdin.close()
        self.child.wait()


# ---- Claude Code's shapes ----
session = args[args.index("--session-id") + 1] if "--session-id" in args else "s-team"
counter = [0]


def out(obj):
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def say(text):
    counter[0] += 1
    out({"type": "assistant", "message": {"id": "msg_%d" % counter[0], "content": [{"type": "text", "text": text}],
         "usage": {"input_tokens": 12, "output_tokens": 6}}, "parent_tool_use_id": None, "session_id": session})


def use(tools, tool, **arguments):
    """One MCP call, shown as Claude shows it; fails the agent on a tool error."""
    counter[0] += 1
    call = "toolu_%d" % counter[0]
    out({"type": "assistant", "message": {"id": "msg_%d" % counter[0], "content": [{"type": "tool_use", "id": call,
         "name": "mcp__agor__" + tool, "input": arguments}], "usage": {"input_tokens": 12, "output_tokens": 6}},
         "parent_tool_use_id": None, "session_id": session})
    is_error, text = tools.call(tool, **arguments)
    out({"type": "user", "message": {"role": "user", "content": [{"tool_use_id": call, "type": "tool_result", "content": text,
         "is_error": is_error}]}, "parent_tool_use_id": None, "session_id": session})
    if is_error:
        finish("failed at " + tool + ": " + text, error=True)
        sys.exit(1)
    return json.loads(text) if text.startswith("{") else text


def finish(text, error=False):
    out({"type": "result", "subtype": "success", "is_error": error, "num_turns": 1, "result": text, "session_id": session,
         "total_cost_usd": 0.01})


def turns():
    for line in sys.stdin:
        message = json.loads(line)
        if message.get("type") == "user":
            content = message["message"]["content"]
            yield content if isinstance(content, str) else " ".join(b.get("text", "") for b in content)


def fields(text):
    return dict(part.split("=", 1) for part in text.split() if "=" in part)


def approval(tool, command):
    """Asks the runner (and so a person) before using a tool, as Claude's stdio permission prompt does."""
    out({"type": "control_request", "request_id": "perm_1", "request": {"subtype": "can_use_tool", "tool_name": tool,
         "input": {"command": command}}})
    for line in sys.stdin:
        answer = json.loads(line)
        if answer.get("type") == "control_response":
            return answer["response"]["response"]["behavior"]
    return "deny"



def as_claude():
    out({"type": "system", "subtype": "init", "cwd": ".", "session_id": session, "tools": ["Bash", "mcp__agor__send"],
         "model": "fake-team-1", "permissionMode": "default"})
    tools = AgorTools.from_claude_config(args[args.index("--mcp-config") + 1])
    incoming = turns()
    first = next(incoming)
    job = fields(first)
    use(tools, "whoami")

    if first.startswith("lead:"):
        use(tools, "spawn_agent", name="builder", role="worker",
            prompt="build: task=%s peer=checker project=%s" % (job["build"], job["project"]))
        use(tools, "spawn_agent", name="checker", role="tester",
            prompt="check: task=%s peer=builder project=%s" % (job["check"], job["project"]))
        finish("team started")
        # Each child's end comes back as a turn ("team: NAME finished ...").
        ended = set()
        for turn in incoming:
            for name in ("builder", "checker"):
                if "team: %s finished" % name in turn:
                    ended.add(name)
            say("heard: " + turn.splitlines()[0][:200])
            if ended == {"builder", "checker"}:
                status = use(tools, "team_status")
                states = sorted(s.get("state", "") for s in status.get("sessions", []))
                finish("team done: " + ", ".join(states))
                break
            finish("waiting for the team")
    elif first.startswith("build:"):
        use(tools, "task_claim", id=job["task"])
        use(tools, "lease_acquire", project=job["project"], paths=["src/cart.py"], exclusive=True, ttl_s=600, task=job["task"])
        use(tools, "send", to=job["peer"], body="cart ready for review")
        behavior = approval("Bash", "git push origin cart")
        say("permission: " + behavior)
        use(tools, "task_move", id=job["task"], status="done")   # its lease, tied to the task, ends with it
        finish("built, pushed: " + behavior)
    elif first.startswith("check:"):
        use(tools, "task_claim", id=job["task"])
        lease = use(tools, "lease_acquire", project=job["project"], paths=["tests/"], exclusive=False, ttl_s=600)
        use(tools, "wait", timeout_s=120)
        inbox = use(tools, "inbox")
        message = next(m for m in inbox.get("messages", []) if m.get("sender") == job["peer"])
        use(tools, "reply", message_id=message["id"], body="reviewed: tests pass")
        use(tools, "task_move", id=job["task"], status="done")
        use(tools, "lease_release", id=lease["leases"][0]["id"])
        finish("checked")
    tools.close()


# ---- Codex's shapes ----
def as_codex():
    prompt = args[-1] if args else ""
    thread = args[args.index("resume") + 1] if "resume" in args else str(uuid.uuid4())
    out({"type": "thread.started", "thread_id": thread})
    out({"type": "turn.started"})
    out({"type": "item.completed", "item": {"id": "item_0", "type": "reasoning", "text": "**Reading the docs**"}})
    command = {"id": "item_1", "type": "command_execution", "command": "/bin/bash -lc ls", "aggregated_output": "", "exit_code": None,
               "status": "in_progress"}
    out({"type": "item.started", "item": command})
    out({"type": "item.completed", "item": dict(command, aggregated_output="README.md\ndocs\n", exit_code=0, status="completed")})
    out({"type": "item.completed", "item": {"id": "item_2", "type": "file_change", "changes": [{"path": "docs/index.md", "kind": "update"}],
                                            "status": "completed"}})
    home = os.environ.get("CODEX_HOME", "")
    if home and os.path.exists(os.path.join(home, "config.toml")):
        tools = AgorTools.from_codex_home(home)
        call = {"id": "item_3", "type": "mcp_tool_call", "server": "agor", "tool": "whoami", "arguments": {}, "result": None, "error": None,
                "status": "in_progress"}
        out({"type": "item.started", "item": call})
        is_error, text = tools.call("whoami")
        tools.close()
        done = dict(call, status="failed" if is_error else "completed")
        if is_error:
            done["error"] = {"message": text}
        else:
            done["result"] = {"content": [{"type": "text", "text": text}]}
        out({"type": "item.completed", "item": done})
    out({"type": "item.completed", "item": {"id": "item_4", "type": "agent_message", "text": "Done: " + prompt}})
    out({"type": "turn.completed", "usage": {"input_tokens": 2400, "cached_input_tokens": 2000, "output_tokens": 120}})


if "exec" in args[:3]:
    as_codex()
else:
    as_claude()
