"""sam-server under load (a benchmark: it prints, it does not assert speeds).

    python3 tests/server/load_test.py --model M.samrt [--clients 8] [--predicts 200]

Run 1: N concurrent clients each send P predicts (one click at a random point, three
masks) while another client uploads two more images and a generator run goes on; it
prints requests per second, p50/p99 latency (end to end and the server's own
server_ms), errors (which must be 0) and the server's peak RSS. Run 2: clients are
killed mid-request (half-sent bodies, a big upload cut off, a generator run whose
client vanishes) and the server must keep answering correctly afterwards.
Environment: SAMRT_BIN, SAMRT_GOLDEN_DIR (for the images)."""

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from server_util import GOLDEN, Server  # noqa: E402


def read(name):
    with open(os.path.join(GOLDEN, "images", name), "rb") as f:
        return f.read()


def percentile(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(p / 100 * len(v)))] if v else float("nan")


def run_load(server, image_id, clients, predicts):
    latencies, server_ms, errors, lock = [], [], [], threading.Lock()

    def client(seed):
        rng = random.Random(seed)
        for _ in range(predicts):
            body = {"points": [[rng.uniform(0, 1800), rng.uniform(0, 1200)]], "labels": [1], "multimask": True}
            t0 = time.perf_counter()
            try:
                status, answer = server.json("POST", f"/api/images/{image_id}/predict", body)
                ok = status == 200 and len(answer["masks"]) == 3
            except Exception as e:  # noqa: BLE001 (a benchmark counts every failure)
                ok, answer = False, str(e)
            dt = 1e3 * (time.perf_counter() - t0)
            with lock:
                latencies.append(dt)
                if ok:
                    server_ms.append(answer["server_ms"])
                else:
                    errors.append(answer)

    def side_traffic():
        for name in ("dog.jpg", "groceries.jpg"):
            status, _ = server.json("POST", "/api/images", read(name))
            if status not in (200, 201):
                errors.append(f"upload {name}: {status}")
        status, job = server.json("POST", f"/api/images/{image_id}/auto?async=1", {})
        if status != 202:
            errors.append(f"auto: {status}")
            return
        while server.json("GET", f"/api/jobs/{job['job']}")[1]["state"] in ("queued", "running"):
            time.sleep(0.5)
        state = server.json("GET", f"/api/jobs/{job['job']}")[1]
        side["auto"] = state

    side = {}
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)] + [threading.Thread(target=side_traffic)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads[:-1]:
        t.join()
    wall = time.perf_counter() - t0
    threads[-1].join()
    n = len(latencies)
    print(f"run 1: {clients} clients x {predicts} predicts (one click, 3 masks at 1800x1200), with 2 uploads and a default generator run alongside")
    print(f"  {n} predicts in {wall:.1f} s = {n / wall:.1f} requests/s; errors {len(errors)}")
    print(f"  latency end to end: p50 {percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms")
    print(f"  server_ms:          p50 {percentile(server_ms, 50):.1f} ms, p99 {percentile(server_ms, 99):.1f} ms")
    if "auto" in side:
        print(f"  generator run: {side['auto']['state']}, {side['auto'].get('n_masks', 0)} masks, {side['auto']['seconds']:.1f} s")
    for e in errors[:5]:
        print("  error:", e)
    return errors


def single_click(server, image_id, reps=30):
    """One client alone: the latency of a click with nothing else running."""
    ends, servers = [], []
    for i in range(reps):
        t0 = time.perf_counter()
        status, answer = server.json("POST", f"/api/images/{image_id}/predict", {"points": [[500 + i, 375]], "labels": [1]})
        ends.append(1e3 * (time.perf_counter() - t0))
        servers.append(answer["server_ms"])
    print(f"one client alone, {reps} clicks: server_ms p50 {percentile(servers, 50):.1f} ms, end to end p50 {percentile(ends, 50):.1f} ms")


def run_kills(server, image_id):
    """Clients that vanish mid-request; then the server must still answer."""
    port = server.port
    script = (
        "import socket, sys, time\n"
        "s = socket.create_connection(('127.0.0.1', %d))\n"
        "kind = sys.argv[1]\n"
        "if kind == 'half-body':\n"
        "    s.sendall(b'POST /api/images/%s/predict HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 500\\r\\n\\r\\n{\"points\": [[1')\n"
        "elif kind == 'half-upload':\n"
        "    s.sendall(b'POST /api/images HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 40000000\\r\\n\\r\\n' + b'\\xff\\xd8\\xff' + b'x' * 3000000)\n"
        "elif kind == 'half-headers':\n"
        "    s.sendall(b'POST /api/images/%s/pre')\n"
        "elif kind == 'auto':\n"
        "    body = b'{\"points_per_side\": 16}'\n"
        "    s.sendall(b'POST /api/images/%s/auto HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: %%d\\r\\n\\r\\n' %% len(body) + body)\n"
        "elif kind == 'predict':\n"
        "    body = b'{\"points\": [[500, 375]]}'\n"
        "    s.sendall(b'POST /api/images/%s/predict HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: %%d\\r\\n\\r\\n' %% len(body) + body)\n"
        "print('sent', flush=True)\n"
        "time.sleep(60)\n"
    ) % (port, image_id.encode().decode(), image_id, image_id, image_id)
    kinds = ["half-body", "half-upload", "half-headers", "auto", "predict"] * 4
    killed = 0
    for kind in kinds:
        p = subprocess.Popen([sys.executable, "-c", script, kind], stdout=subprocess.PIPE, text=True)
        p.stdout.readline()
        time.sleep(random.uniform(0, 0.3))
        p.send_signal(signal.SIGKILL)
        p.wait()
        p.stdout.close()
        killed += 1
    ok = 0
    for i in range(20):
        status, answer = server.json("POST", f"/api/images/{image_id}/predict", {"points": [[500, 375]], "labels": [1]})
        ok += status == 200 and len(answer["masks"]) == 3
    health = server.json("GET", "/api/health")[0]
    print(f"run 2: {killed} clients killed mid-request ({', '.join(sorted(set(kinds)))}); afterwards {ok}/20 predicts answered, health {health}, "
          f"server {'alive' if server.alive() else 'DEAD'}")
    return ok == 20 and health == 200 and server.alive()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--predicts", type=int, default=200)
    ap.add_argument("--threads", default="0")
    a = ap.parse_args()
    server = Server(a.model, "--threads", a.threads)
    try:
        t0 = time.perf_counter()
        status, info = server.json("POST", "/api/images", read("truck.jpg"))
        print(f"{os.path.basename(a.model)}: truck.jpg encoded in {info['encode_ms'] / 1e3:.2f} s (upload to answer {time.perf_counter() - t0:.2f} s)")
        single_click(server, info["id"])
        errors = run_load(server, info["id"], a.clients, a.predicts)
        survived = run_kills(server, info["id"])
        print(f"server peak RSS {server.rss_peak_kb() / 1024:.0f} MiB")
    finally:
        rc = server.stop()
    print(f"sam-server exit status on SIGTERM: {rc}")
    return 0 if not errors and survived and rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
