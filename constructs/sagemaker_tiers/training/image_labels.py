"""What a training image folder declares about itself in its Dockerfile's ``LABEL`` instructions, read at synth.

An image declares whether it also serves (answers SageMaker's hosting contract, ``docker run <image> serve`` with
``GET /ping`` and ``POST /invocations`` on port 8080:
https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-inference-code.html) with
``LABEL sagemaker-tiers.serves="true"`` or ``"false"``. The label is in the image too (``docker inspect``), so
the declaration travels with it. :class:`TrainingPipeline` refuses a pipeline without ``inference_image_uri``
whose image declares it cannot serve.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from sagemaker_tiers.core.validation import ValidationError

#: The label a Dockerfile sets to "true" or "false" to declare whether the image serves.
SERVES_LABEL = "sagemaker-tiers.serves"


def dockerfile_labels(dockerfile: Path) -> dict[str, str]:
    """Every ``LABEL key=value`` of the Dockerfile (continuation lines joined, quotes removed; later wins)."""
    labels: dict[str, str] = {}
    for instruction in _instructions(dockerfile.read_text()):
        keyword, _, arguments = instruction.partition(" ")
        if keyword.upper() != "LABEL":
            continue
        try:
            words = shlex.split(arguments, comments=False, posix=True)
        except ValueError as error:
            raise ValidationError(f"{dockerfile}: cannot read the LABEL instruction {instruction!r}: {error}") from None
        for word in words:
            key, equals, value = word.partition("=")
            if not equals:
                raise ValidationError(f"{dockerfile}: LABEL takes key=value pairs, got {word!r} in {instruction!r}")
            labels[key] = value
    return labels


def dockerfile_serves(dockerfile: Path) -> bool | None:
    """``True``/``False`` as the Dockerfile's :data:`SERVES_LABEL` declares; ``None`` when it declares nothing."""
    value = dockerfile_labels(dockerfile).get(SERVES_LABEL)
    if value is None:
        return None
    if value.lower() not in ("true", "false"):
        raise ValidationError(f'{dockerfile}: LABEL {SERVES_LABEL} must be "true" or "false", got {value!r}')
    return value.lower() == "true"


def _instructions(text: str) -> list[str]:
    """Dockerfile instructions with their backslash continuations joined and comment lines dropped."""
    instructions: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if current and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        if current.strip():
            instructions.append(current.strip())
        current = ""
    if current.strip():
        instructions.append(current.strip())
    return instructions
