"""Example SageMaker inference server for the model ``train.py`` writes: standard library only.

It follows SageMaker's hosting contract
(https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-inference-code.html):

* SageMaker starts the container as ``docker run <image> serve`` and unpacks the model's ``model.tar.gz`` into
  ``/opt/ml/model`` before the container starts; this server reads ``model.json`` from there once, at start-up,
  and exits non-zero (the reason on standard error, which SageMaker sends to CloudWatch Logs) if it cannot;
* it listens on port 8080 (or ``SAGEMAKER_BIND_TO_PORT``, which SageMaker sets for a container of an inference
  pipeline) and answers ``GET /ping`` with 200 and an empty body (SageMaker's health check, 2-second timeout) and
  ``POST /invocations`` with predictions (SageMaker expects an answer within 60 seconds);
* it stops cleanly on ``SIGTERM`` (SageMaker sends it, then ``SIGKILL`` 30 seconds later). As the exec-form
  entry point, the process is PID 1, which ignores signals it has no handler for: the handler is installed here.

``/invocations`` takes ``text/csv``: one row per record, the feature values in the order of the model's
``features`` (no label column), or a header row (no cell a number) naming the features first, in any order. It answers ``text/csv``
(default), one ``<label>,<score>`` line per record (``label`` is 1 when the score reaches the model's threshold),
or ``application/json`` (``{"predictions": [{"label": 1, "score": 0.73}, ...]}``) when the ``Accept`` header asks
for it. A malformed request gets a 4xx answer naming the problem; the server keeps running.

``SM_ROOT`` replaces ``/opt/ml`` and ``SM_SERVE_HOST`` the address to listen on (default ``0.0.0.0``), for
running it outside a container (the tests start it on 127.0.0.1).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import signal
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DEFAULT_PORT = 8080
#: The largest request body accepted: SageMaker's real-time payload limit (6 MB).
MAX_BODY_BYTES = 6 * 1024 * 1024
CSV = "text/csv"
JSON = "application/json"


class ModelError(Exception):
    """The model in ``/opt/ml/model`` cannot be loaded."""


class RequestError(Exception):
    """A request the model cannot answer; ``status`` is the 4xx code to answer with."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


class Model:
    """The ridge-regression model of ``train.py``: standardize, weigh, threshold."""

    def __init__(self, document: dict[str, Any]) -> None:
        try:
            self.features: list[str] = [str(f) for f in document["features"]]
            self.means = [float(v) for v in document["means"]]
            self.stds = [float(v) for v in document["stds"]]
            self.intercept = float(document["intercept"])
            coefficients = document["coefficients"]
            self.weights = [float(coefficients[f]) for f in self.features]
            self.threshold = float(document["threshold"])
        except (KeyError, TypeError, ValueError) as error:
            raise ModelError(f"model.json is not a model written by train.py: {type(error).__name__}: {error}") from None
        if not self.features or not len(self.features) == len(self.means) == len(self.stds):
            raise ModelError("model.json must hold as many means and stds as features, and at least one feature")

    @classmethod
    def load(cls, root: str | None = None) -> Model:
        path = Path(root or os.environ.get("SM_ROOT", "/opt/ml")) / "model" / "model.json"
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise ModelError(f"cannot read the model {path}: {error}") from None
        if not isinstance(document, dict):
            raise ModelError(f"{path} must hold a JSON object")
        return cls(document)

    def score(self, row: list[float]) -> float:
        return self.intercept + sum(w * (v - m) / s for w, v, m, s in zip(self.weights, row, self.means, self.stds))

    def predict_csv(self, body: str) -> list[dict[str, float | int]]:
        """Predictions for every record of a CSV body (an optional header row names the features)."""
        rows = [r for r in csv.reader(io.StringIO(body)) if r and any(cell.strip() for cell in r)]
        if not rows:
            raise RequestError(HTTPStatus.BAD_REQUEST, "the request holds no CSV record")
        order = list(range(len(self.features)))
        if _is_header(rows[0]):
            header = [cell.strip() for cell in rows.pop(0)]
            missing = [f for f in self.features if f not in header]
            if missing:
                raise RequestError(HTTPStatus.BAD_REQUEST, f"header row lacks the features {missing}; the model takes {self.features}")
            order = [header.index(f) for f in self.features]
            width = len(header)
        else:
            width = len(self.features)
        predictions = []
        for number, record in enumerate(rows, start=1):
            if len(record) != width:
                raise RequestError(
                    HTTPStatus.BAD_REQUEST, f"record {number} has {len(record)} values, expected {width} ({', '.join(self.features)})"
                )
            try:
                values = [float(record[i]) for i in order]
            except ValueError:
                raise RequestError(HTTPStatus.BAD_REQUEST, f"record {number}: every feature value must be a number") from None
            if not all(math.isfinite(v) for v in values):
                raise RequestError(HTTPStatus.BAD_REQUEST, f"record {number}: feature values must be finite numbers")
            score = self.score(values)
            predictions.append({"label": int(score >= self.threshold), "score": score})
        return predictions


def _is_header(record: list[str]) -> bool:
    """A header row names columns: none of its cells is a number."""
    for cell in record:
        try:
            float(cell)
        except ValueError:
            continue
        return False
    return True


def _media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


def render(predictions: list[dict[str, float | int]], accept: str | None) -> tuple[str, bytes]:
    """The answer's content type and body for the ``Accept`` header (CSV unless JSON is asked for)."""
    wanted = [_media_type(part) for part in (accept or "").split(",") if part.strip()]
    if not wanted or any(w in (CSV, "*/*", "text/*") for w in wanted):
        lines = "".join(f"{p['label']},{p['score']:.6f}\n" for p in predictions)
        return CSV, lines.encode()
    if JSON in wanted or "application/*" in wanted:
        return JSON, json.dumps({"predictions": predictions}).encode()
    raise RequestError(HTTPStatus.NOT_ACCEPTABLE, f"Accept {accept!r} is not served; ask for {CSV} or {JSON}")


def make_handler(model: Model) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "sagemaker-tiers-example"
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path == "/ping":
                self._answer(HTTPStatus.OK, CSV, b"")
            else:
                self._error(HTTPStatus.NOT_FOUND, f"no such path {self.path!r}; GET /ping or POST /invocations")

        def do_POST(self) -> None:  # noqa: N802
            if self.path != "/invocations":
                self._error(HTTPStatus.NOT_FOUND, f"no such path {self.path!r}; GET /ping or POST /invocations")
                return
            try:
                body = self._body()
                content_type = _media_type(self.headers.get("Content-Type")) or CSV
                if content_type != CSV:
                    raise RequestError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"Content-Type {content_type!r} is not served; send {CSV}")
                try:
                    text = body.decode("utf-8")
                except UnicodeDecodeError:
                    raise RequestError(HTTPStatus.BAD_REQUEST, "the request body must be UTF-8 text") from None
                content, answer = render(model.predict_csv(text), self.headers.get("Accept"))
            except RequestError as error:
                self._error(error.status, str(error))
                return
            self._answer(HTTPStatus.OK, content, answer)

        def _body(self) -> bytes:
            length = self.headers.get("Content-Length")
            if length is None:
                raise RequestError(HTTPStatus.LENGTH_REQUIRED, "Content-Length is required")
            try:
                size = int(length)
            except ValueError:
                raise RequestError(HTTPStatus.BAD_REQUEST, f"Content-Length must be a number, got {length!r}") from None
            if size < 0 or size > MAX_BODY_BYTES:
                # Not read: close the connection instead of draining an oversized body.
                self.close_connection = True
                raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the body must be at most {MAX_BODY_BYTES} bytes, got {size}")
            return self.rfile.read(size)

        def _error(self, status: HTTPStatus, message: str) -> None:
            self._answer(status, JSON, json.dumps({"error": message}).encode())

        def _answer(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # one line per request on standard error
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    return Handler


def port() -> int:
    value = os.environ.get("SAGEMAKER_BIND_TO_PORT") or str(DEFAULT_PORT)
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ModelError(f"SAGEMAKER_BIND_TO_PORT must be a port number, got {value!r}")
    return int(value)


def serve() -> int:
    """Load the model, answer requests until SIGTERM or SIGINT; 1 if the model or the port is unusable."""
    try:
        model = Model.load()
        address = (os.environ.get("SM_SERVE_HOST") or "0.0.0.0", port())  # noqa: S104 - SageMaker reaches the container's port
        server = ThreadingHTTPServer(address, make_handler(model))
    except (ModelError, OSError) as error:
        print(f"serve failed: {error}", file=sys.stderr, flush=True)
        return 1
    server.daemon_threads = True

    def stop(signum: int, frame: Any) -> None:
        # shutdown() waits for serve_forever() to return, so it must run on another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"serving {len(model.features)} features on {address[0]}:{address[1]}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(serve())
