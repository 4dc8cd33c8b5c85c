"""The library as a user installs it: sdist and wheel built from a clean copy, the wheel installed (not editable)
into a fresh virtual environment outside the repository, and README's "Use it in your own app" synthesized there
with the real CDK CLI, cdk-nag and Control Tower's rules (cdklabs' cfn-guard plugin) on.

This is the one slow test of its kind (a build, a venv and a full install): pip's cache makes the install
download-free after the first run, and the versions are constrained to the dev pins so it installs what every
other test uses.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_ecr_assets as ecr_assets

from sagemaker_tiers.training import EXAMPLE_IMAGE_DIRECTORY
from tests.conftest import ROOT

SECTION = "## Use it in your own app"
#: cdklabs' cfn-guard plugin: installed beside the wheel, add_gates turns on Control Tower's rules too.
CFN_GUARD = "cdklabs-cdk-validator-cfnguard"


def _own_app_blocks(markdown: str) -> tuple[str, str]:
    """The section's ``cdk.json`` and ``app.py`` code blocks (the first json and python blocks after its heading)."""
    section = markdown.split(SECTION, 1)[1] if SECTION in markdown else markdown
    cdk_json = re.search(r"```json\n(.*?)\n```", section, re.S)
    app_py = re.search(r"```python\n(.*?)\n```", section, re.S)
    assert cdk_json and app_py, "the section must hold a json and a python block"
    return cdk_json.group(1), app_py.group(1)


def _run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{args[:3]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def _dev_pins() -> list[str]:
    """The dev extra's exact pins of what the library and its [nag] extra install."""
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    return [pin for pin in dev if pin.split("==")[0] in {"aws-cdk-lib", "constructs", "cdk-nag", CFN_GUARD}]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("own-app")
    # A clean copy of what git tracks, so nothing built or cached in the worktree leaks into the package.
    source = work / "source"
    files = _run("git", "ls-files", "--cached", "--others", "--exclude-standard", cwd=ROOT).splitlines()
    for name in files:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    dist = work / "dist"
    _run(sys.executable, "-m", "build", "--outdir", dist, source)  # sdist, then the wheel from the sdist
    wheel = next(dist.glob("*.whl"))

    venv = work / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)  # this interpreter's pip installs into it (--python)
    constraints = work / "constraints.txt"
    constraints.write_text("\n".join(_dev_pins()) + "\n")
    # --no-compile skips byte-compiling aws-cdk-lib (over a minute here); our own package is then compiled as pip
    # compiles it by default, so its __pycache__ folders exist as in any pip install.
    _run(
        sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--disable-pip-version-check",
        "--quiet", "--no-compile", "-c", constraints, f"{wheel}[nag]", CFN_GUARD,
    )
    _run(venv / "bin" / "python", "-m", "compileall", "-q", _site_packages(venv) / "sagemaker_tiers")

    app = work / "app"
    app.mkdir()
    cdk_json, app_py = _own_app_blocks((ROOT / "README.md").read_text())
    (app / "cdk.json").write_text(cdk_json)
    (app / "app.py").write_text(app_py)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{ROOT / 'node_modules' / '.bin'}{os.pathsep}{env.get('PATH', '')}"
    # The cdk.json's own "app" command (python3 app.py), run by the venv's python3 first on PATH.
    _run("cdk", "synth", "--quiet", "--output", app / "cdk.out", cwd=app, env=env)
    return {"dist": dist, "wheel": wheel, "venv": venv, "out": app / "cdk.out"}


def test_the_readme_section_synthesizes_from_a_wheel_with_cdk_nag_and_control_tower_on(installed: dict[str, Path]) -> None:
    report = json.loads((installed["out"] / "validation-report.json").read_text())
    plugins = {p["pluginName"]: p for p in report["pluginReports"]}
    assert {"AwsSolutions", "Serverless", "cdk-validator-cfnguard"} <= set(plugins)
    assert [v["ruleName"] for p in plugins.values() for v in p["violations"]] == []
    site = _site_packages(installed["venv"])
    assert (site / "sagemaker_tiers" / "__init__.py").is_file()  # a real install, not a link to the repository
    assert not list(site.glob("__editable__*")) and not list(site.glob("*.egg-link"))


def test_the_package_readme_shows_the_same_app_and_cdk_json() -> None:
    assert _own_app_blocks((ROOT / "PACKAGE_README.md").read_text()) == _own_app_blocks((ROOT / "README.md").read_text())


def test_the_example_image_asset_hash_is_the_same_as_in_the_repository(installed: dict[str, Path]) -> None:
    site = _site_packages(installed["venv"])
    # pip compiled train.py into the installed image folder: exactly what .dockerignore must keep out of the hash.
    assert list((site / "sagemaker_tiers" / "training" / "example_image" / "__pycache__").glob("*.pyc"))
    assets = json.loads((installed["out"] / "MlPlatform.assets.json").read_text())
    (installed_hash,) = assets["dockerImages"]
    here = ecr_assets.DockerImageAsset(
        Stack(App(), "Here"), "Image", directory=str(EXAMPLE_IMAGE_DIRECTORY), platform=ecr_assets.Platform.LINUX_AMD64
    )
    assert installed_hash == here.asset_hash


def test_the_sdist_and_wheel_hold_the_library_the_license_and_the_package_readme(installed: dict[str, Path]) -> None:
    (sdist,) = installed["dist"].glob("*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = [n.split("/", 1)[1] for n in tar.getnames() if "/" in n]
    assert "LICENSE" in names and "PACKAGE_README.md" in names
    assert [n for n in names if n.startswith(("tests/", "stacks/", "scripts/")) or "__pycache__" in n] == []
    with zipfile.ZipFile(installed["wheel"]) as wheel:
        members = wheel.namelist()
        metadata = wheel.read(next(n for n in members if n.endswith(".dist-info/METADATA"))).decode()
    assert "sagemaker_tiers/training/example_image/.dockerignore" in members
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in members)
    assert "License-Expression: Apache-2.0" in metadata
    assert "Provides-Extra: nag" in metadata
    description = metadata.split("\n\n", 1)[1]
    assert description.startswith("# sagemaker-tiers\n\nAWS CDK constructs (Python)")
    assert "make synth" not in description  # the repository's README is not the package's
