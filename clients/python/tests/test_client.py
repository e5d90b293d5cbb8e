"""The Python client against the real daemon (`picket serve` on 127.0.0.1, port 0).

PICKET_BIN names the binary (default: ../../target/debug/picket). Run from make test via
`python3 -m unittest discover -s clients/python/tests`.
"""

import hashlib
import http.server
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import picket_client as pc  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
BIN = os.environ.get("PICKET_BIN", str(ROOT / "target" / "debug" / "picket"))
SCAN_KEY, RESTORE_KEY = "sk-py-scan-only", "sk-py-scan-restore"
# A reversible-token rule, so restore has something to put back (the shipped packs label-mask).
PACK = """
[pack]
id = "py"
version = "1.0.0"
description = "Python client test pack"

[[rule]]
id = "py.email"
category = "pii"
label = "EMAIL"
kind = "regex"
pattern = '''[a-z0-9._]+@[a-z0-9-]+\\.[a-z]{2,}'''
score = 0.9
action = "mask"
mask = "token"

[rule.examples]
match = ["write to alice@example.com"]
no_match = ["nothing here"]
"""


def sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class Daemon:
    """`picket serve` with two API keys, on a free loopback port."""

    def __init__(self):
        self.dir = tempfile.TemporaryDirectory()
        config = Path(self.dir.name) / "picket.toml"
        packs = Path(self.dir.name) / "packs"
        packs.mkdir()
        (packs / "py.toml").write_text(PACK)
        config.write_text(
            '[packs]\ndirs = ["packs"]\nbuiltin = false\n'
            f'[[api_key]]\nname = "scan"\ntenant = "acme"\nsha256 = "{sha(SCAN_KEY)}"\nscopes = ["scan"]\n'
            f'[[api_key]]\nname = "both"\ntenant = "acme"\nsha256 = "{sha(RESTORE_KEY)}"\nscopes = ["scan", "restore"]\n'
        )
        self.proc = subprocess.Popen(
            [BIN, "serve", "--config", str(config), "--listen", "127.0.0.1:0", "--no-classifier"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.time() + 60
        self.url = None
        while time.time() < deadline and self.url is None:
            line = self.proc.stderr.readline()
            if not line and self.proc.poll() is not None:
                raise RuntimeError(f"picket serve exited with {self.proc.returncode}")
            m = re.search(r"127\.0\.0\.1:(\d+)", line)
            if m and "listening" in line:
                self.url = f"http://127.0.0.1:{m.group(1)}"
        if self.url is None:
            raise RuntimeError("picket serve never said where it listens")
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=20)
        self.dir.cleanup()


class AgainstDaemon(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon()

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()

    def client(self, key=RESTORE_KEY):
        return pc.Client(self.daemon.url, api_key=key)

    def test_scan_masks_and_restore_round_trips(self):
        c = self.client()
        self.assertTrue(c.ready())
        r = c.scan("please write to alice@example.com today", direction="input", session="py-1")
        self.assertIn(r["decision"], ("mask", "block"))
        self.assertNotIn("alice@example.com", r["masked"])
        self.assertTrue(any(f["label"] == "EMAIL" for f in r["findings"]))
        token = re.search(r"<EMAIL_\d+>", r["masked"]).group(0)
        self.assertEqual(c.restore("py-1", f"I wrote to {token}."), "I wrote to alice@example.com.")

    def test_batch_keeps_order_and_item_errors(self):
        results = self.client().batch([
            {"id": "a", "text": "nothing to see"},
            {"id": "b", "text": "mail bob@example.org", "direction": "output"},
            {"id": "c", "text": "x", "direction": "sideways"},
        ])
        self.assertEqual([r["id"] for r in results], ["a", "b", "c"])
        self.assertEqual(results[0]["decision"], "allow")
        self.assertIn("error", results[2])

    def test_typed_errors(self):
        with self.assertRaises(pc.Unauthorized) as e:
            pc.Client(self.daemon.url, api_key="sk-wrong").scan("hi")
        self.assertEqual((e.exception.status, e.exception.code), (401, "unauthorized"))
        with self.assertRaises(pc.Forbidden):
            self.client(SCAN_KEY).restore("py-1", "x")
        with self.assertRaises(pc.NotFound) as e:
            self.client().restore("never-made", "x")
        self.assertEqual(e.exception.code, "session_unknown")
        with self.assertRaises(pc.BadRequest) as e:
            self.client().scan("hi", direction="sideways")
        self.assertEqual(e.exception.status, 422)
        with self.assertRaises(pc.ConnectionFailed):
            pc.Client("http://127.0.0.1:9", timeout=2).scan("hi")

    def test_chat_stream_on_this_daemon(self):
        # The proxy route is being built separately; until it exists the helper must fail
        # loudly with the typed error rather than yield nothing.
        try:
            chunks = list(self.client().chat_stream({"model": "m", "messages": [{"role": "user", "content": "hi"}]}))
        except pc.NotFound:
            return
        except pc.PicketError as e:
            self.assertNotEqual(e.status, 0)
            return
        self.assertIsInstance(chunks, list)


class FakeUpstream(http.server.BaseHTTPRequestHandler):
    """OpenAI's documented SSE shape: `data: {chunk}` events, then `data: [DONE]`."""

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        self.server.seen.append(body)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        if body["messages"][0]["content"] == "block me":
            events = [{"choices": [{"delta": {"content": "Sure"}}]}, {"error": {"code": "blocked", "message": "output blocked"}}]
        else:
            events = [{"choices": [{"delta": {"role": "assistant"}}]}, {"choices": [{"delta": {"content": "Hel"}}]},
                      {"choices": [{"delta": {"content": "lo"}}]}]
        for e in events:
            self.wfile.write(f"data: {json.dumps(e)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, *args):
        pass


class StreamShape(unittest.TestCase):
    def setUp(self):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeUpstream)
        self.server.seen = []
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.client = pc.Client(f"http://127.0.0.1:{self.server.server_address[1]}")

    def tearDown(self):
        self.server.shutdown()
        self.server.server_close()

    def test_stream_yields_deltas_until_done(self):
        chunks = list(self.client.chat_stream({"model": "m", "messages": [{"role": "user", "content": "hi"}]}))
        self.assertEqual("".join(c.delta for c in chunks), "Hello")
        self.assertTrue(self.server.seen[0]["stream"])

    def test_error_event_raises(self):
        with self.assertRaises(pc.PicketError) as e:
            list(self.client.chat_stream({"model": "m", "messages": [{"role": "user", "content": "block me"}]}))
        self.assertEqual(e.exception.code, "blocked")


if __name__ == "__main__":
    unittest.main()
