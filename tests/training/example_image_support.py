"""Running the example image's code the way SageMaker runs the container, without Docker: a temporary folder laid
out like ``/opt/ml`` (``SM_ROOT``), ``entrypoint.py train`` and ``entrypoint.py serve`` as local processes.

Used by the example image's tests and by the walking skeleton (tests/test_walking_skeleton.py)."""

from __future__ import annotations

import csv
import http.client
import json
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sagemaker_tiers.training import EXAMPLE_IMAGE_DIRECTORY

ENTRYPOINT = EXAMPLE_IMAGE_DIRECTORY / "entrypoint.py"
COLUMNS = ["tenure", "monthly_charges", "support_calls", "churn"]


def write_csv(path: Path, rows: int, seed: int, columns: list[str] = COLUMNS) -> None:
    """Churn depends on short tenure, high charges and many support calls, plus noise."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for _ in range(rows):
            tenure = rng.uniform(0, 72)
            charges = rng.uniform(20, 120)
            calls = rng.randint(0, 9)
            score = -0.06 * tenure + 0.03 * charges + 0.4 * calls - 1.5 + rng.gauss(0, 0.5)
            values = {"tenure": tenure, "monthly_charges": charges, "support_calls": calls, "churn": int(score > 0)}
            writer.writerow([f"{values[c]:.4f}" if c in values else "0" for c in columns])


def sagemaker_layout(root: Path, hyperparameters: dict[str, str]) -> Path:
    (root / "input" / "config").mkdir(parents=True)
    (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (root / "model").mkdir()
    (root / "output").mkdir()
    return root


def run_container(root: Path, command: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``docker run <image> <command>`` to completion, as a local process on ``root``."""
    return subprocess.run(
        [sys.executable, str(ENTRYPOINT), command],
        env={"SM_ROOT": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def free_port() -> int:
    """8080 (SageMaker's port) when it is free on 127.0.0.1, else any free port."""
    for candidate in (8080, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise RuntimeError("no free port on 127.0.0.1")  # pragma: no cover


@dataclass
class Server:
    process: subprocess.Popen
    port: int

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            connection.close()


@contextmanager
def serving(root: Path, startup_timeout: float = 20) -> Iterator[Server]:
    """``docker run <image> serve`` on ``root``'s model, on 127.0.0.1 and a free port (``SAGEMAKER_BIND_TO_PORT``);
    ready once it accepts connections; stopped with SIGTERM (as SageMaker stops containers) on exit."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(ENTRYPOINT), "serve"],
        env={"SM_ROOT": str(root), "SM_SERVE_HOST": "127.0.0.1", "SAGEMAKER_BIND_TO_PORT": str(port), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    server = Server(process, port)
    deadline = time.monotonic() + startup_timeout
    try:
        while True:
            if process.poll() is not None:
                raise AssertionError(f"serve exited with {process.returncode}: {process.stderr.read()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"serve did not listen on {port} within {startup_timeout} s") from None
                time.sleep(0.05)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                process.kill()
                process.wait()
        process.stdout.close()
        process.stderr.close()


def trained_model(root: Path, hyperparameters: dict[str, str]) -> Path:
    """Train the example model on generated data in a fresh ``/opt/ml`` layout; the layout's root."""
    sagemaker_layout(root, hyperparameters)
    write_csv(root / "input" / "data" / "train" / "part-0.csv", 300, seed=1)
    write_csv(root / "input" / "data" / "validation" / "part-0.csv", 100, seed=3)
    result = run_container(root, "train")
    assert result.returncode == 0, result.stderr
    return root
