"""The service under load: ``POST /v1/assessments/{id}/score`` from 32 concurrent clients.

    python benchmarks/service_load.py [--clients 32] [--seconds 20] [--assessments 64]
                                      [--workers 1]

Starts ``carescore serve --dev`` (``--workers`` uvicorn workers, SQLite in a temporary folder) on
loopback, stores and submits ``--assessments`` assessments of the bundled examples,
then has ``--clients`` threads score them in turn for ``--seconds``, each on its own
keep-alive connection, and measures every request's latency from the client. The
floor is the same load on ``GET /v1/facilities/{id}`` (an authenticated read of one
record: the service's own cost without scoring), measured in the same run. At the end
the number of scores the database holds must equal the number of 201 answers: no
lost write. Aims: score p50 <= 25 ms and p95 <= 60 ms, no error.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "questionnaires" / "examples"


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _request(
    connection: http.client.HTTPConnection, method: str, path: str, key: str, body: Any = None
) -> tuple[int, bytes, dict[str, str]]:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    if isinstance(body, tuple):  # (body, extra headers)
        body, extra = body
        headers.update(extra)
    payload = None if body is None else json.dumps(body, default=str)
    connection.request(method, path, body=payload, headers=headers)
    answer = connection.getresponse()
    return answer.status, answer.read(), dict(answer.getheaders())


def _paced(
    connection: http.client.HTTPConnection, method: str, path: str, key: str, body: Any = None
) -> tuple[int, bytes, dict[str, str]]:
    """A request of the set-up, sent again after ``Retry-After`` when the key's rate
    limit answers 429 (as a well-behaved agency system does)."""
    while True:
        status, content, headers = _request(connection, method, path, key, body)
        if status != 429:
            return status, content, headers
        time.sleep(float(headers.get("retry-after", headers.get("Retry-After", "1"))))


def _prepare(port: int, key: str, count: int) -> tuple[list[int], list[int]]:
    documents = [
        yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(EXAMPLES.glob("*.yaml"))
    ]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    facilities, assessments = [], []
    for k in range(count):
        status, body, _ = _paced(
            connection, "POST", "/v1/facilities", key, {"reference": f"L-{k}", "name": f"Load {k}"}
        )
        assert status == 201, body
        facility = json.loads(body)["id"]
        status, body, headers = _paced(
            connection,
            "POST",
            f"/v1/facilities/{facility}/assessments",
            key,
            documents[k % len(documents)],
        )
        assert status == 201, body
        assessment = json.loads(body)["id"]
        attest = {"attested_name": "Load", "attestation": "True and complete."}
        status, body, _ = _paced(
            connection,
            "POST",
            f"/v1/assessments/{assessment}/submit",
            key,
            (attest, {"If-Match": headers.get("etag", headers.get("ETag", '"1"'))}),
        )
        assert status == 200, body
        facilities.append(facility)
        assessments.append(assessment)
    connection.close()
    return facilities, assessments


def _load(
    port: int, keys: list[str], paths: list[str], method: str, clients: int, seconds: float
) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine: list[float] = []
        seen: dict[int, int] = {}
        start.wait()
        k = index
        while time.perf_counter() < stop_at[0]:
            path = paths[k % len(paths)]
            k += clients
            began = time.perf_counter()
            status, _, _ = _request(connection, method, path, keys[index % len(keys)])
            mine.append(time.perf_counter() - began)
            seen[status] = seen.get(status, 0) + 1
        connection.close()
        with lock:
            latencies.extend(mine)
            for status, n in seen.items():
                statuses[status] = statuses.get(status, 0) + n

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    stop_at[0] = time.perf_counter() + seconds
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "per_second": len(ordered) / elapsed,
        "p50_ms": 1000 * statistics.median(ordered),
        "p95_ms": 1000 * ordered[int(0.95 * (len(ordered) - 1))],
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--assessments", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="carescore-load-"))
    port = _port()
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "scoring"]
    org = subprocess.run(
        [*command, "admin", "create-org", "Load Agency", "--data-dir", str(folder)],
        capture_output=True,
        text=True,
        check=True,
        env=environment,
    ).stdout.strip()
    keys = [  # a key per client, as agency systems each have their own
        subprocess.run(
            [*command, "admin", "create-api-key", org, "--data-dir", str(folder)],
            capture_output=True,
            text=True,
            check=True,
            env=environment,
        ).stdout.strip()
        for _ in range(args.clients)
    ]
    key = keys[0]
    server = subprocess.Popen(
        [
            *command,
            "serve",
            "--dev",
            "--port",
            str(port),
            "--data-dir",
            str(folder),
            "--workers",
            str(args.workers),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=environment,
    )
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        facilities, assessments = _prepare(port, key, args.assessments)
        reads = [f"/v1/facilities/{f}" for f in facilities]
        scores = [f"/v1/assessments/{a}/score" for a in assessments]
        warm = _load(port, keys, scores[:4], "POST", 4, 2.0)  # warm-up: imports, caches
        floor = _load(port, keys, reads, "GET", args.clients, args.seconds)
        scored = _load(port, keys, scores, "POST", args.clients, args.seconds)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        kept = 0
        for facility in facilities:
            _, body, _ = _request(connection, "GET", f"/v1/facilities/{facility}/scores", key)
            kept += len(json.loads(body))
        connection.close()
    finally:
        server.terminate()
        server.wait(timeout=60)
    created = scored["statuses"].get("201", 0) + warm["statuses"].get("201", 0)
    report = {
        "clients": args.clients,
        "seconds": args.seconds,
        "floor_read": floor,
        "score": scored,
        "scores_kept": kept,
        "scores_answered": created,
        "lost_writes": created - kept,
        "score_p50_over_floor": scored["p50_ms"] / floor["p50_ms"],
        "score_p95_over_floor": scored["p95_ms"] / floor["p95_ms"],
    }
    print(json.dumps(report, indent=2))
    print(
        f"{args.clients} clients, {args.seconds:.0f} s each: read (floor) p50 "
        f"{floor['p50_ms']:.1f} ms p95 {floor['p95_ms']:.1f} ms; score p50 "
        f"{scored['p50_ms']:.1f} ms p95 {scored['p95_ms']:.1f} ms "
        f"({report['score_p50_over_floor']:.1f}x / {report['score_p95_over_floor']:.1f}x the "
        f"floor), {scored['per_second']:.0f} scores/s; statuses {scored['statuses']}; "
        f"scores kept {kept:,} of {created:,} answered 201 (warm-up included)"
    )


if __name__ == "__main__":
    main()
