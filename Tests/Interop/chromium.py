"""Headless Chromium (Debian's chromium) driven over the DevTools protocol, for the dashboard
tests: open a page, evaluate JavaScript in it, wait for a condition, take a screenshot."""
import base64
import json
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request

from websockets.sync.client import connect


class Browser:
    def __enter__(self):
        path = shutil.which("chromium") or shutil.which("chromium-browser")
        self.profile = tempfile.mkdtemp(prefix="agor-chromium-")
        self.process = subprocess.Popen([path, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                         "--no-first-run", "--remote-debugging-port=0", "--window-size=1400,1000",
                                         "--user-data-dir=" + self.profile, "about:blank"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            endpoint = None
            deadline = time.time() + 30
            while time.time() < deadline and endpoint is None:
                match = re.search(r"DevTools listening on (ws://\S+)", self.process.stderr.readline())
                if match:
                    endpoint = match.group(1)
            if endpoint is None:
                raise RuntimeError("chromium did not start")
            port = re.search(r":(\d+)/", endpoint).group(1)
            targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
            page = next(t for t in targets if t["type"] == "page")
            self.cdp = connect(page["webSocketDebuggerUrl"], max_size=2 ** 26, open_timeout=10)
            self.counter = 0
            self.call("Page.enable")
            return self
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def __exit__(self, *_):
        if getattr(self, "cdp", None):
            self.cdp.close()
        self.process.kill()
        self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    def call(self, method, **params):
        self.counter += 1
        self.cdp.send(json.dumps({"id": self.counter, "method": method, "params": params}))
        while True:
            reply = json.loads(self.cdp.recv(timeout=30))
            if reply.get("id") == self.counter:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result.get("result", {}).get("value")

    def wait_for(self, expression, seconds=20):
        end = time.time() + seconds
        while time.time() < end:
            if self.evaluate(expression):
                return True
            time.sleep(0.2)
        return False

    def navigate(self, url):
        self.call("Page.navigate", url=url)

    def sign_in(self, base, token, name):
        """Opens the dashboard and signs in with a token; whether the person's name and 'live' showed."""
        self.navigate(base + "/")
        if not self.wait_for("!document.getElementById('signin-panel').hidden"):
            return False
        self.evaluate(f"document.getElementById('token').value = {json.dumps(token)}; document.getElementById('signin').requestSubmit(); true")
        return self.wait_for(f"document.getElementById('who').textContent.includes({json.dumps(name)})") \
            and self.wait_for("document.getElementById('live').textContent === 'live'")

    def screenshot(self, path):
        shot = self.call("Page.captureScreenshot", format="png")
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
