"""What the sam-server tests share: starting a server on a free loopback port, HTTP calls
with the standard library, and COCO RLE strings back into masks."""

import http.client
import json
import os
import re
import subprocess
import tempfile
import threading
import time

import numpy as np

SOURCE = os.environ.get("SAMRT_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
GOLDEN = os.environ.get("SAMRT_GOLDEN_DIR", os.path.join(SOURCE, "..", "shared", "golden"))
BIN = os.environ.get("SAMRT_BIN", os.path.join(SOURCE, "build", "bin"))
HAVE_GOLDEN = os.path.exists(os.path.join(GOLDEN, "sam_tiny", "sam_tiny_seed0.pth"))


def converted_tiny(tmp):
    """The golden tiny SAM checkpoint through sam-convert (once per directory)."""
    out = os.path.join(tmp, "tiny.samrt")
    if not os.path.exists(out):
        subprocess.run([os.path.join(BIN, "sam-convert"), os.path.join(GOLDEN, "sam_tiny", "sam_tiny_seed0.pth"), "-o", out],
                       check=True, capture_output=True)
    return out


class Server:
    """sam-server on 127.0.0.1 with --port 0; its log is kept (and shown on failure)."""

    def __init__(self, model, *args):
        self.proc = subprocess.Popen([os.path.join(BIN, "sam-server"), "--model", model, "--port", "0", *args],
                                     stderr=subprocess.PIPE, text=True)
        self.log = []
        first = self.proc.stderr.readline()
        self.log.append(first)
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", first)
        if not m:
            self.proc.kill()
            raise RuntimeError("sam-server did not start: " + first + self.proc.stderr.read())
        self.port = int(m.group(1))
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stderr:
            self.log.append(line)

    def request(self, method, path, body=None, headers=None, timeout=600):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, r.getheader("Content-Type", ""), data, r

    def json(self, method, path, body=None, headers=None):
        status, ctype, data, _ = self.request(method, path, body, headers)
        return status, (json.loads(data) if data and ctype.startswith("application/json") else data)

    def rss_peak_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return 0

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGTERM, and the exit status (0 for a clean stop)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(timeout=5)
        self.proc.stderr.close()
        return self.proc.returncode


def rle_counts(s):
    """pycocotools' rleFrString."""
    counts, p = [], 0
    while p < len(s):
        x, k, more = 0, 0, True
        while more:
            c = ord(s[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def rle_mask(counts_string, h, w):
    flat = np.zeros(h * w, dtype=np.uint8)
    pos = 0
    for i, n in enumerate(rle_counts(counts_string)):
        if i & 1:
            flat[pos:pos + n] = 1
        pos += n
    return flat.reshape(w, h).T  # runs go down the columns


def tmpdir(prefix):
    return tempfile.mkdtemp(prefix=prefix)


def wait_for(pred, timeout=60, step=0.2):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(step)
    return False
