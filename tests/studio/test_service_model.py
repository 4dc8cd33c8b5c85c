"""Studio's enums are SageMaker's (botocore's service model), and what CloudFormation lags behind is derived too."""

from __future__ import annotations

import glob
import json
from functools import cache

import pytest

from sagemaker_tiers.studio import service_model
from sagemaker_tiers.studio.instance_types import STUDIO_APP_INSTANCE_TYPES, hidden_instance_types
from sagemaker_tiers.studio.persona import ALL_APP_TYPES, ALL_ML_TOOLS, PERSONA_SETTINGS
from tests.conftest import ROOT


@cache
def _api(shape: str) -> tuple[str, ...]:
    import botocore.session

    return tuple(botocore.session.get_session().get_service_model("sagemaker").shape_for(shape).enum)


@cache
def _cloudformation(definition: str) -> frozenset[str]:
    for path in glob.glob(str(ROOT / ".venv/lib/python3.*/site-packages/cfnlint/data/schemas/resources/*.json")):
        text = open(path).read()
        if '"typeName": "AWS::SageMaker::Domain"' in text:
            return frozenset(json.loads(text)["definitions"][definition]["enum"])
    raise AssertionError("cfn-lint's AWS::SageMaker::Domain schema not found")


@pytest.mark.parametrize(
    ("copied", "shape", "lags", "definition"),
    [
        (service_model.APP_INSTANCE_TYPES, "AppInstanceType", service_model.CLOUDFORMATION_LAGS_INSTANCE_TYPES, "AppInstanceType"),
        (service_model.ML_TOOLS, "MlTools", service_model.CLOUDFORMATION_LAGS_ML_TOOLS, "MlTools"),
        (service_model.APP_TYPES, "AppType", service_model.CLOUDFORMATION_LAGS_APP_TYPES, "AppType"),
    ],
)
def test_enums_are_botocores_and_the_lag_is_cloudformations(copied, shape, lags, definition) -> None:
    assert copied == tuple(v for v in _api(shape) if v != "system")
    assert lags == frozenset(copied) - _cloudformation(definition)


def test_no_type_the_api_refuses_is_ever_hidden() -> None:
    # ml.p5e.48xlarge is in CloudFormation's schema but not in SageMaker's AppInstanceType enum: it used to be
    # emitted in HiddenInstanceTypes of every domain and profile.
    assert "ml.p5e.48xlarge" not in STUDIO_APP_INSTANCE_TYPES
    hidden = hidden_instance_types(["ml.t3.medium"])
    assert set(hidden) <= set(_api("AppInstanceType")) and set(hidden) <= _cloudformation("AppInstanceType")
    assert set(hidden) == (set(_api("AppInstanceType")) & _cloudformation("AppInstanceType")) - {"system", "ml.t3.medium"}


def test_hidden_tools_and_app_types_cover_every_value_cloudformation_takes() -> None:
    assert set(ALL_ML_TOOLS) == set(_api("MlTools")) & _cloudformation("MlTools")
    assert set(ALL_APP_TYPES) == set(_api("AppType")) & _cloudformation("AppType")
    for persona, settings in PERSONA_SETTINGS.items():
        assert set(settings.visible_ml_tools) <= set(ALL_ML_TOOLS), persona
        assert set(settings.app_types) <= set(ALL_APP_TYPES), persona


def test_cloudformation_and_the_api_together_hide_every_tool_and_app_type_a_persona_does_not_use() -> None:
    for persona, settings in PERSONA_SETTINGS.items():
        beyond = settings.hidden_beyond_cloudformation()
        tools = set(settings.hidden_ml_tools(jumpstart=True)) | set(beyond["HiddenMlTools"])
        assert tools == set(_api("MlTools")) - set(settings.visible_ml_tools), persona
        apps = set(settings.hidden_app_types) | set(beyond["HiddenAppTypes"])
        assert apps == set(_api("AppType")) - set(settings.app_types), persona
