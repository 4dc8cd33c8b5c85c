"""The package layout promises of DEVELOPERS.md: constructs/ is a source root, never a package."""

from __future__ import annotations

import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_constructs_resolves_to_the_installed_package() -> None:
    constructs = importlib.import_module("constructs")
    location = Path(constructs.__file__).resolve()
    assert "site-packages" in location.parts, location
    assert ROOT / "constructs" not in location.parents
    assert hasattr(constructs, "Construct")


def test_constructs_folder_holds_no_python_file_of_its_own() -> None:
    stray = [p.name for p in (ROOT / "constructs").iterdir() if p.suffix == ".py" or p.name == "__init__.py"]
    assert stray == []


def test_package_imports_from_constructs_source_root() -> None:
    import sagemaker_tiers

    assert Path(sagemaker_tiers.__file__).resolve().parent == ROOT / "constructs" / "sagemaker_tiers"
    assert (ROOT / "constructs" / "sagemaker_tiers" / "py.typed").is_file()
    assert sagemaker_tiers.__version__.count(".") == 2
    for name in sagemaker_tiers.__all__:
        assert getattr(sagemaker_tiers, name) is not None, name


def test_every_public_module_documents_itself() -> None:
    missing = []
    for path in (ROOT / "constructs" / "sagemaker_tiers").rglob("*.py"):
        text = path.read_text()
        if not text.lstrip().startswith('"""'):
            missing.append(str(path.relative_to(ROOT)))
    assert missing == []
