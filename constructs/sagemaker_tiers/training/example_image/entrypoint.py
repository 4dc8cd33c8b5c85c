"""Entry point of the example image: SageMaker runs the container as ``docker run <image> train`` for a training job
(https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-dockerfile.html) and as
``docker run <image> serve`` for an endpoint
(https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-inference-code.html). Any other argument exits
with status 2 and the usage on standard error."""

from __future__ import annotations

import sys

USAGE = "usage: entrypoint.py train|serve"


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else ""
    if command == "train":
        import train

        return train.main()
    if command == "serve":
        import serve

        return serve.serve()
    print(f"{USAGE} (SageMaker passes one of them), got {argv[1:]!r}", file=sys.stderr, flush=True)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
