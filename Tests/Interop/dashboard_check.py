"""Opens the Gateway's dashboard in headless Chromium (Debian's chromium, driven over the DevTools
protocol), signs in with a token, and checks that a message sent and a task moved through the REST
API appear without a reload. Saves a screenshot. Prints one JSON line; exits 0 when every check held.

usage: dashboard_check.py BASE_URL TOKEN SCREENSHOT.png [AGENT FAKE_CLAUDE.py]

With AGENT and the fake Claude, it also starts a session of AGENT through the REST API and checks
the sessions panel: the "needs you" badge and the tools in flight, Allow, the live tail, the cost,
and Stop, all clicked in the page.
"""
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

from websockets.sync.client import connect

base, token, screenshot = sys.argv[1], sys.argv[2], sys.argv[3]
session_agent, fake_claude = (sys.argv[4], sys.argv[5]) if len(sys.argv) > 5 else (None, None)
results = {}


def rest(method, path, body=None):
    request = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=20) as response:
        return json.loads(response.read() or b"{}")


browser_path = shutil.which("chromium") or shutil.which("chromium-browser")
profile = tempfile.mkdtemp(prefix="agor-chromium-")
browser = subprocess.Popen([browser_path, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                            "--no-first-run", "--remote-debugging-port=0", "--window-size=1400,1000",
                            "--user-data-dir=" + profile, "about:blank"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
try:
    endpoint = None
    deadline = time.time() + 30
    while time.time() < deadline and endpoint is None:
        line = browser.stderr.readline()
        match = re.search(r"DevTools listening on (ws://\S+)", line)
        if match:
            endpoint = match.group(1)
    if endpoint is None:
        raise SystemExit(json.dumps({"error": "chromium did not start"}))
    port = re.search(r":(\d+)/", endpoint).group(1)
    targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
    page = next(t for t in targets if t["type"] == "page")

    with connect(page["webSocketDebuggerUrl"], max_size=2 ** 26, open_timeout=10) as cdp:
        counter = [0]

        def call(method, **params):
            counter[0] += 1
            cdp.send(json.dumps({"id": counter[0], "method": method, "params": params}))
            while True:
                reply = json.loads(cdp.recv(timeout=30))
                if reply.get("id") == counter[0]:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply.get("result", {})

        def evaluate(expression):
            result = call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
            return result.get("result", {}).get("value")

        def wait_for(expression, seconds=20):
            end = time.time() + seconds
            while time.time() < end:
                if evaluate(expression):
                    return True
                time.sleep(0.2)
            return False

        call("Page.enable")
        call("Page.navigate", url=base + "/")
        results["sign_in_form"] = wait_for("!document.getElementById('signin-panel').hidden")
        evaluate(f"document.getElementById('token').value = {json.dumps(token)}; document.getElementById('signin').requestSubmit(); true")
        results["signed_in"] = wait_for("document.getElementById('who').textContent.includes('ann')")
        results["live"] = wait_for("document.getElementById('live').textContent === 'live'")
        evaluate("window.__noReload = 42")

        body = f"hello from the API {time.time()}"
        channel = evaluate("document.querySelector('#channels li.selected')?.dataset.channel")
        rest("POST", "/v1/messages", {"channel_id": channel, "body": body})
        results["message_seen"] = wait_for(f"document.getElementById('messages').innerText.includes({json.dumps(body)})")

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

        shot = call("Page.captureScreenshot", format="png")
        with open(screenshot, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        results["screenshot"] = os.path.getsize(screenshot) > 1000
finally:
    browser.kill()
    browser.wait()
    shutil.rmtree(profile, ignore_errors=True)

print(json.dumps(results))
sys.exit(0 if all(results.values()) else 1)
