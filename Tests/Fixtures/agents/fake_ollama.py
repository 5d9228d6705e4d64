"""A fake Ollama server: POST /api/chat answers in Ollama's streaming format (chunked
application/x-ndjson), from what the conversation holds so far. Every request body is logged, one
JSON line each, so a test can check the history the client sent.

usage: fake_ollama.py PORT_FILE LOG_FILE

  model "missing"                  404 {"error":"model 'missing' not found"}
  first user turn                  a tool call (get_weather, no id), then done
  after a tool message             "It is" " sunny." then done with counts
  a later user turn                "Second" " answer" then done
  a user turn containing fail-mid  a text piece, then an error line (status still 200)
  first user turn "use agor tools" calls whoami, send (to m1) and send (to nobody), then
                                   answers "Done." once the tool messages are in
  model "not-http"                 a reply that is not HTTP
  model "bad-chunk"                a chunk size that is not hexadecimal
  model "cut"                      the connection ends inside a chunk
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, log_file = sys.argv[1], sys.argv[2]


def line(content="", done=False, **extra):
    message = {"role": "assistant", "content": content}
    message.update(extra.pop("message", {}))
    body = {"model": "fake", "created_at": "2026-12-02T00:00:00Z", "message": message, "done": done}
    body.update(extra)
    return body


class Chat(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with open(log_file, "a") as log:
            log.write(json.dumps(body) + "\n")
        if body.get("model") == "missing":
            data = json.dumps({"error": "model 'missing' not found"}).encode()
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if body.get("model") in ("not-http", "bad-chunk", "cut"):
            if body["model"] == "not-http":
                self.wfile.write(b"SMTP ready\r\n\r\n")
            else:
                self.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                self.wfile.write(b"zz\r\n" if body["model"] == "bad-chunk" else b"400\r\n{\"model\":\"fake\"")
            self.wfile.flush()
            self.close_connection = True
            return
        messages = body["messages"]
        users = [m for m in messages if m["role"] == "user"]
        agor = "use agor tools" in users[0]["content"]
        if "fail-mid" in users[-1]["content"]:
            lines = [line("Let me"), {"error": "an error was encountered while running the model"}]
        elif agor and messages[-1]["role"] == "tool":
            lines = [line("Done."), line(done=True, done_reason="stop", prompt_eval_count=40, eval_count=2)]
        elif agor:
            calls = [{"function": {"index": 0, "name": "whoami", "arguments": {}}},
                     {"function": {"index": 1, "name": "send", "arguments": {"to": "m1", "body": "hello from ollama"}}},
                     {"function": {"index": 2, "name": "send", "arguments": {"to": "nobody", "body": "lost"}}}]
            lines = [line(message={"tool_calls": calls}), line(done=True, done_reason="stop", prompt_eval_count=20, eval_count=3)]
        elif messages[-1]["role"] == "tool":
            lines = [line("It is"), line(" sunny."), line(done=True, done_reason="stop", prompt_eval_count=30, eval_count=4)]
        elif len(users) == 1:
            call = {"function": {"index": 0, "name": "get_weather", "arguments": {"city": "Tokyo"}}}
            lines = [line(message={"tool_calls": [call]}), line(done=True, done_reason="stop", prompt_eval_count=20, eval_count=3)]
        else:
            lines = [line("Second"), line(" answer"), line(done=True, done_reason="stop", prompt_eval_count=50, eval_count=2)]
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for item in lines:
            data = (json.dumps(item) + "\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


import signal
signal.signal(signal.SIGTERM, signal.SIG_DFL)   # a test runner may hand SIGTERM down ignored
server = ThreadingHTTPServer(("127.0.0.1", 0), Chat)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
