"""A team end to end, watched the way a person and a dashboard see it. Starts a manager (the fake
team agent, Tests/Fixtures/agents/mcp_agent.py) on the webshop fixture through the Gateway's REST
API; the manager spawns a builder and a checker through agor's MCP tools; they claim the tasks,
lease files, message each other; the builder asks for an approval, which is answered by clicking
Allow in the dashboard (headless Chromium); all finish. Meanwhile a WebSocket client records the
group's whole stream. Prints one JSON line of checks; exits 0 when every check held.

usage: team_e2e.py BASE_URL TOKEN SCREENSHOT.png MCP_AGENT.py BUILD_TASK CHECK_TASK
"""
import json
import os
import sys
import threading
import time
import urllib.request

from websockets.sync.client import connect

from chromium import Browser

base, token, screenshot, mcp_agent, build_task, check_task = sys.argv[1:7]
group, project = "shop", "webshop"
results = {}
frames = []
done = threading.Event()


def rest(method, path, body=None):
    request = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=20) as response:
        return json.loads(response.read() or b"{}")


def record():
    """Every event of the group's streams, in the order the Gateway delivered them."""
    url = base.replace("http://", "ws://") + "/v1/stream?groups=" + group
    with connect(url, additional_headers={"Authorization": "Bearer " + token}, open_timeout=10, max_size=2 ** 22) as ws:
        ws.recv(timeout=10)   # hello
        while not done.is_set():
            try:
                frame = ws.recv(timeout=0.5)
            except TimeoutError:
                continue
            for line in frame.split("\n"):
                event = json.loads(line)
                if "seq" in event:
                    frames.append(event)


recorder = threading.Thread(target=record, daemon=True)
recorder.start()
time.sleep(0.5)

with Browser() as browser:
    results["signed_in"] = browser.sign_in(base, token, "ann")
    lead = rest("POST", "/v1/sessions", {"agent": "lead", "provider": "claude", "command": "/usr/bin/python3", "args": [mcp_agent],
                                         "project": project, "prompt": f"lead: build={build_task} check={check_task} project={project}"})
    lead_row = f"document.querySelector('[data-session=\"{lead['id']}\"]')"
    # The team as a tree: both children under the manager, at depth 1.
    results["team_tree"] = browser.wait_for(
        f"{lead_row} && [...document.querySelectorAll('tr[data-parent=\"{lead['id']}\"][data-depth=\"1\"]')]"
        ".map((r) => r.querySelector('.member').innerText).sort().join() === '└ builder (claude),└ checker (claude)'", 40)
    builder_row = f"[...document.querySelectorAll('tr[data-parent=\"{lead['id']}\"]')].find((r) => r.innerText.includes('builder'))"
    # The builder holds src/cart.py (exclusive, tied to its task) while it waits for a person.
    results["builder_needs_you"] = browser.wait_for(f"{builder_row}?.dataset.state === 'needs_input' && {builder_row}.innerText.includes('needs you')", 40)
    results["leases_shown"] = browser.wait_for(
        "document.querySelector('#leases tr[data-holder=\"builder\"]')?.innerText.includes('webshop:src/cart.py')"
        " && document.querySelector('#leases tr[data-holder=\"builder\"]').innerText.includes('exclusive')", 20)
    browser.screenshot(screenshot)
    browser.evaluate(f"{builder_row}.querySelector('[data-action=allow]').click(); true")
    results["team_finished"] = browser.wait_for(
        f"{lead_row}?.dataset.state === 'finished' && [...document.querySelectorAll('tr[data-parent=\"{lead['id']}\"]')]"
        ".every((r) => r.dataset.state === 'finished')", 60)
    results["tasks_done"] = browser.wait_for(
        "document.querySelector('[data-status=STATUS_DONE]').innerText.includes('Build the cart')"
        " && document.querySelector('[data-status=STATUS_DONE]').innerText.includes('Test the cart')", 20)
    results["leases_gone"] = browser.wait_for("!document.querySelector('#leases tr[data-holder]')", 20)
    results["no_reload"] = browser.evaluate("document.readyState === 'complete'")

time.sleep(1)
done.set()
recorder.join(timeout=5)

# ---- the stream: each stream gapless and in order, and the team's steps in causal order --------
by_stream = {}
for frame in frames:
    by_stream.setdefault(frame["stream"], []).append(frame["seq"])
results["streams_gapless"] = bool(by_stream) and all(seqs == list(range(seqs[0], seqs[0] + len(seqs))) for seqs in by_stream.values())

sessions = {s["id"]: s for s in rest("GET", "/v1/sessions?parent=" + lead["id"]).get("sessions", [])}
by_agent = {s["agent"]: s["id"] for s in sessions.values()}
results["children_linked"] = sorted(by_agent) == ["builder", "checker"] and all(s.get("depth") == 1 for s in sessions.values())


def when(frame):
    """When the event was written: each service stamps its own events as it commits them (one
    machine, one clock). Arrival order at the Gateway is kept per stream only: two services'
    streams may interleave either way, so the team's steps are ordered by these times."""
    return int(frame.get("time_us", 0))


def check_chain(chain):
    """The names of the steps missing, and of those that happened before the step listed before them."""
    missing, out_of_order, last = [], [], 0
    for name, predicate in chain:
        found = next((f for f in frames if predicate(f)), None)
        if found is None:
            missing.append(name)
            continue
        if when(found) < last:
            out_of_order.append(name)
        last = max(last, when(found))
    return missing, out_of_order


def on(session, kind):
    return lambda f: f["stream"] == f"runner/{group}/{session}" and f.get("type") == kind


def tool(session, name):
    return lambda f: f["stream"] == f"runner/{group}/{session}" and f.get("type") == "tool.call" \
        and f.get("event", {}).get("tool_call", {}).get("name") == "mcp__agor__" + name


def board(kind, by):
    return lambda f: f["stream"].startswith("bttask/") and f.get("event", {}).get("kind") == kind and f.get("event", {}).get("by") == by


def message(sender):
    return lambda f: f["stream"].startswith("btmsg/") and f.get("event", {}).get("message_created", {}).get("sender") == sender


builder, checker = by_agent.get("builder", "?"), by_agent.get("checker", "?")
chain = [
    ("lead spawns", tool(lead["id"], "spawn_agent")),
    ("builder starts", on(builder, "session.started")),
    ("builder claims", board("task.claimed", "builder")),
    ("builder leases", board("lease.acquired", "builder")),
    ("builder messages", message("builder")),
    ("builder asks", on(builder, "approval.requested")),
    ("person answers", on(builder, "approval.answered")),
    ("task done", board("task.moved", "builder")),
    ("lease ends with it", lambda f: f["stream"].startswith("bttask/") and f.get("event", {}).get("kind") == "lease.released"
        and f.get("event", {}).get("lease", {}).get("holder") == "builder"),
    ("builder finishes", on(builder, "session.finished")),
    ("lead finishes", on(lead["id"], "session.finished")),
]
missing, out_of_order = check_chain(chain)
results["builder_steps_in_order"] = not missing and not out_of_order
checker_chain = [("checker claims", tool(checker, "task_claim")), ("checker leases", board("lease.acquired", "checker")),
                 ("checker replies", message("checker")), ("checker's task done", board("task.moved", "checker")),
                 ("checker finishes", on(checker, "session.finished"))]
checker_missing, checker_out_of_order = check_chain(checker_chain)
results["checker_steps_in_order"] = not checker_missing and not checker_out_of_order
missing += checker_missing
out_of_order += checker_out_of_order
results["screenshot"] = os.path.exists(screenshot) and os.path.getsize(screenshot) > 1000
report = dict(results, missing=missing, out_of_order=out_of_order, frames=len(frames))
if not all(results.values()):
    # What each session said last, to see where the team stopped.
    for who, sid in [("lead", lead["id"])] + sorted(by_agent.items()):
        events = rest("GET", f"/v1/sessions/{sid}/events?limit=2000").get("events", [])
        report["tail_" + who] = [json.dumps(e.get("event", {}))[:300 if "error" not in e.get("event", {}) else 3000] for e in events[-12:]]
print(json.dumps(report))
sys.exit(0 if all(v for k, v in results.items()) else 1)
