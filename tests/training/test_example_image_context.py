"""The example image's build context: every file its Dockerfile copies survives its .dockerignore (an allowlist:
``*`` then ``!<file>`` per copied file, no comments), and nothing else
(pip's __pycache__ in an installed wheel) does. CDK stages the image asset with the same rules
(``IgnoreStrategy.docker``), so a file ignored here is missing from ``docker build`` at deploy time."""

from __future__ import annotations

import re

from aws_cdk import IgnoreStrategy

from sagemaker_tiers.training import EXAMPLE_IMAGE_DIRECTORY


def _copied_sources() -> list[str]:
    sources: list[str] = []
    for line in (EXAMPLE_IMAGE_DIRECTORY / "Dockerfile").read_text().splitlines():
        if re.match(r"\s*(COPY|ADD)\s", line, re.I):
            words = [w for w in line.split()[1:] if not w.startswith("--")]
            sources.extend(words[:-1])  # the last word is the destination
    return sources


def _ignores() -> IgnoreStrategy:
    patterns = [
        line.strip()
        for line in (EXAMPLE_IMAGE_DIRECTORY / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return IgnoreStrategy.docker(str(EXAMPLE_IMAGE_DIRECTORY), patterns)


def test_every_copied_file_is_in_the_build_context() -> None:
    sources = _copied_sources()
    assert {"train.py", "serve.py", "entrypoint.py"} <= set(sources)
    ignores = _ignores()
    assert [s for s in sources if ignores.ignores(str(EXAMPLE_IMAGE_DIRECTORY / s))] == []


def test_bytecode_and_other_files_stay_out_of_the_context() -> None:
    ignores = _ignores()
    for path in ("__pycache__/train.cpython-311.pyc", "notes.txt", "data/train.csv"):
        assert ignores.ignores(str(EXAMPLE_IMAGE_DIRECTORY / path)), path
