"""Opens the Gateway's dashboard in headless Chromium (Debian's chromium, driven over the DevTools
protocol), signs in with a token, and checks that a message sent and a task moved through the REST
API appear without a reload. Saves a screenshot. Prints one JSON line; exits 0 when every check held.

usage: dashboard_check.py BASE_URL TOKEN SCREENSHOT.png [AGENT FAKE_CLAUDE.py]
(DASHBOARD_WORKER="NAME TOKEN" in the environment adds a worker in no channel signing in.)

With AGENT and the fake Claude, it also starts a session of AGENT through the REST API and checks
the sessions panel: the "needs you" badge and the tools in flight, Allow, the live tail, the cost,
and Stop, all clicked in the page.
"""
import json
import os
import sys
import time
import urllib.request

from chromium import Browser

base, token, screenshot = sys.argv[1], sys.argv[2], sys.argv[3]
session_agent, fake_claude = (sys.argv[4], sys.argv[5]) if len(sys.argv) > 5 else (None, None)
results = {}


def rest(method, path, body=None):
    request = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=20) as response:
        return json.loads(response.read() or b"{}")


with Browser() as browser:
    evaluate, wait_for = browser.evaluate, browser.wait_for
    results["signed_in"] = browser.sign_in(base, token, "ann")   # the form, the name, and "live"
    evaluate("window.__noReload = 42")

    body = f"hello from the API {time.time()}"
    channel = evaluate("document.querySelector('#channels li.selected')?.dataset.channel")
    rest("POST", "/v1/messages", {"channel_id": channel, "body": body})
    results["message_seen"] = wait_for(f"document.getElementById('messages').innerText.includes({json.dumps(body)})")
    # Ten more: the list numbers them past nine ("10.", "11.").
    for n in range(10):
        rest("POST", "/v1/messages", {"channel_id": channel, "body": f"more {n}"})
    items = "document.querySelectorAll('#messages li[data-message]')"
    results["numbers_past_nine"] = wait_for(
        f"{items}.length === 11 && {items}[9].querySelector('.number').textContent === '10.'"
        f" && {items}[10].querySelector('.number').textContent === '11.'")

    title = f"Task {int(time.time())}"
    created = rest("POST", "/v1/tasks", {"title": title, "group": "web"})["task"]
    results["task_seen"] = wait_for(
        f"document.querySelector('[data-status=STATUS_TODO]').innerText.includes({json.dumps(title)})")
    rest("POST", f"/v1/tasks/{created['id']}/move", {"expected_version": created["version"], "status": "STATUS_IN_PROGRESS"})
    results["task_moved"] = wait_for(
        f"document.querySelector('[data-status=STATUS_IN_PROGRESS]').innerText.includes({json.dumps(title)})"
        f" && !document.querySelector('[data-status=STATUS_TODO]').innerText.includes({json.dumps(title)})")
    results["services_shown"] = wait_for("document.querySelector('#services tbody').innerText.includes('btmsg')")
    if session_agent:
        started = rest("POST", "/v1/sessions", {"agent": session_agent, "provider": "claude", "command": "/usr/bin/python3",
                                                "args": [fake_claude, "--approval"], "prompt": "tidy the tests"})
        row = f"document.querySelector('[data-session=\"{started['id']}\"]')"
        results["session_needs_you"] = wait_for(
            f"{row}?.dataset.state === 'needs_input' && {row}.innerText.includes('needs you')"
            f" && {row}.querySelector('.tools').innerText.includes('t1_a')")
        evaluate(f"{row}.click(); {row}.querySelector('[data-action=allow]').click(); true")
        results["session_allowed"] = wait_for(f"{row}?.dataset.state === 'idle'")
        results["session_tail"] = wait_for("document.getElementById('tail').innerText.includes('On it: tidy the tests')"
                                           " && document.getElementById('tail').innerText.includes('permission: allow')")
        results["session_cost"] = wait_for(f"parseFloat({row}.querySelector('.cost').innerText.slice(1)) > 0")
        evaluate(f"{row}.querySelector('[data-action=stop]').click(); true")
        results["session_stopped"] = wait_for(f"['stopped', 'finished'].includes({row}?.dataset.state)"
                                              f" && !{row}.querySelector('[data-action=stop]')")
    results["no_reload"] = evaluate("window.__noReload === 42")

    browser.screenshot(screenshot)
    results["screenshot"] = os.path.getsize(screenshot) > 1000

    # DASHBOARD_WORKER="NAME TOKEN": a worker of the group who is in no channel signs in: the page
    # loads whole, with no refusal shown (no channel opened that they may not read).
    if os.environ.get("DASHBOARD_WORKER"):
        name, worker_token = os.environ["DASHBOARD_WORKER"].split()
        evaluate("document.getElementById('signout').click(); true")
        wait_for("!document.getElementById('signin-panel').hidden")
        results["worker_signed_in"] = browser.sign_in(base, worker_token, name)
        results["worker_sees_no_refusal"] = wait_for(
            "document.getElementById('signin-error').textContent === '' && !document.getElementById('app').hidden"
            " && document.getElementById('channel-title').textContent === 'no channel yet'"
            " && !document.getElementById('messages').querySelector('.error')")

print(json.dumps(results))
sys.exit(0 if all(results.values()) else 1)
