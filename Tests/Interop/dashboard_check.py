"""Opens the Gateway's dashboard in headless Chromium (Debian's chromium, driven over the DevTools
protocol), signs in with a token, and checks that a message sent and a task moved through the REST
API appear without a reload. Saves a screenshot. Prints one JSON line; exits 0 when every check held.

usage: dashboard_check.py BASE_URL TOKEN SCREENSHOT.png
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
