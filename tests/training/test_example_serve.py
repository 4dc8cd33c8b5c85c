"""The example image serves: ``entrypoint.py serve`` started as a local process on a model ``entrypoint.py train``
wrote, answering SageMaker's hosting contract
(https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-inference-code.html): ``GET /ping`` 200 with an
empty body, ``POST /invocations`` with ``text/csv`` records in and predictions out, on the port SageMaker gives
(8080, or ``SAGEMAKER_BIND_TO_PORT``), stopping on SIGTERM. One server per module, trained once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from sagemaker_tiers.training import EXAMPLE_HYPERPARAMETERS
from tests.training.example_image_support import ENTRYPOINT, Server, serving, trained_model


@pytest.fixture(scope="module")
def model_root(tmp_path_factory: pytest.TempPathFactory):
    return trained_model(tmp_path_factory.mktemp("opt-ml"), EXAMPLE_HYPERPARAMETERS)


@pytest.fixture(scope="module")
def server(model_root):
    with serving(model_root) as running:
        yield running


def _model(model_root) -> dict:
    return json.loads((model_root / "model" / "model.json").read_text())


def _expected(model: dict, row: list[float]) -> float:
    return model["intercept"] + sum(
        model["coefficients"][f] * (v - m) / s for f, v, m, s in zip(model["features"], row, model["means"], model["stds"])
    )


def test_ping_answers_200_with_an_empty_body(server: Server) -> None:
    status, _, body = server.request("GET", "/ping")
    assert (status, body) == (200, b"")


def test_invocations_predicts_csv_records_with_the_trained_model(server: Server, model_root) -> None:
    model = _model(model_root)
    rows = [[2.0, 110.0, 8.0], [70.0, 25.0, 0.0]]  # a likely churner, a loyal customer
    body = "".join(",".join(str(v) for v in row) + "\n" for row in rows).encode()

    status, headers, answer = server.request("POST", "/invocations", body, {"Content-Type": "text/csv", "Accept": "text/csv"})

    assert status == 200 and headers["content-type"] == "text/csv"
    lines = [line.split(",") for line in answer.decode().splitlines()]
    assert [int(label) for label, _ in lines] == [1, 0]
    for (_, score), row in zip(lines, rows):
        assert float(score) == pytest.approx(_expected(model, row), abs=1e-6)


def test_a_header_row_names_the_features_in_any_order_and_json_is_served(server: Server, model_root) -> None:
    model = _model(model_root)
    body = b"support_calls,tenure,monthly_charges\n8,2,110\n"

    status, headers, answer = server.request("POST", "/invocations", body, {"Content-Type": "text/csv; charset=utf-8", "Accept": "application/json"})

    assert status == 200 and headers["content-type"] == "application/json"
    (prediction,) = json.loads(answer)["predictions"]
    assert prediction["label"] == 1
    assert prediction["score"] == pytest.approx(_expected(model, [2.0, 110.0, 8.0]))


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (b"1,2\n", {"Content-Type": "text/csv"}, 400, "record 1 has 2 values, expected 3"),
        (b"1,x,3\n", {"Content-Type": "text/csv"}, 400, "record 1: every feature value must be a number"),
        (b"1,nan,3\n", {"Content-Type": "text/csv"}, 400, "feature values must be finite numbers"),
        (b"tenure,charges\n1,2\n", {"Content-Type": "text/csv"}, 400, "header row lacks the features ['monthly_charges', 'support_calls']"),
        (b"\n\n", {"Content-Type": "text/csv"}, 400, "the request holds no CSV record"),
        (b'{"a": 1}', {"Content-Type": "application/json"}, 415, "Content-Type 'application/json' is not served"),
        (b"1,2,3\n", {"Content-Type": "text/csv", "Accept": "application/x-protobuf"}, 406, "is not served; ask for text/csv"),
        (b"\xff\xfe", {"Content-Type": "text/csv"}, 400, "must be UTF-8"),
    ],
)
def test_malformed_requests_get_4xx_naming_the_problem_and_the_server_keeps_serving(server: Server, body, headers, status, message) -> None:
    answer_status, answer_headers, answer = server.request("POST", "/invocations", body, headers)
    assert answer_status == status
    assert answer_headers["content-type"] == "application/json"
    assert message in json.loads(answer)["error"]
    assert server.request("GET", "/ping")[0] == 200


def test_other_paths_are_404(server: Server) -> None:
    assert server.request("GET", "/invocations")[0] == 404
    assert server.request("POST", "/predict", b"1,2,3", {"Content-Type": "text/csv"})[0] == 404


def test_an_oversized_body_is_refused_unread(server: Server) -> None:
    status, _, answer = server.request("POST", "/invocations", b"1,2,3", {"Content-Type": "text/csv", "Content-Length": str(7 * 1024 * 1024)})
    assert status == 413 and "at most 6291456 bytes" in json.loads(answer)["error"]


def test_sigterm_stops_the_server_cleanly(model_root) -> None:
    # As PID 1 in the container, the process ignores signals without a handler; serve installs one for SIGTERM.
    with serving(model_root) as running:
        running.process.send_signal(signal.SIGTERM)
        assert running.process.wait(timeout=10) == 0


def test_without_a_model_serve_exits_non_zero_naming_it(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, str(ENTRYPOINT), "serve"],
        env={"SM_ROOT": str(tmp_path), "SM_SERVE_HOST": "127.0.0.1", "SAGEMAKER_BIND_TO_PORT": "0", "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 1
    assert "cannot read the model" in result.stderr and "model.json" in result.stderr
