"""Hub content documents as SageMaker's public hub answers them, and a DescribeHubContent for moto (which lacks it).

The documents use only field names the SageMaker Python SDK reads from a hub content document
(``sagemaker.core.jumpstart.hub.interfaces.HubModelDocument``) and are shaped on the SDK's own test document
(``sagemaker-core/tests/unit/jumpstart/hub_content_document.json``, a gated Llama 2 model): the gated document below
keeps its values; the open ones follow the same shape for Hugging Face models with prepacked inference artifacts.
DescribeHubContent returns the document as a JSON *string* in ``HubContentDocument``
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeHubContent.html).
"""

from __future__ import annotations

import copy
import json
from typing import Any

REGION = "us-east-1"
CACHE = f"s3://jumpstart-cache-prod-{REGION}"
PRIVATE_CACHE = f"s3://jumpstart-private-cache-prod-{REGION}"
DLC = f"763104351884.dkr.ecr.{REGION}.amazonaws.com"

OPEN_MODEL = "huggingface-text2text-flan-t5-base"
GATED_MODEL = "meta-textgeneration-llama-2-13b-f"
NO_TRAINING_MODEL = "huggingface-translation-t5-small"
MARKETPLACE_MODEL = "cohere-command-r-plus"


def _environment(program: str = "inference.py", submit: str = "/opt/ml/model/code") -> list[dict[str, Any]]:
    return [
        {"Name": "SAGEMAKER_PROGRAM", "Type": "text", "Default": program, "Scope": "container", "RequiredForModelClass": True},
        {"Name": "SAGEMAKER_SUBMIT_DIRECTORY", "Type": "text", "Default": submit, "Scope": "container", "RequiredForModelClass": False},
        {"Name": "SAGEMAKER_CONTAINER_LOG_LEVEL", "Type": "text", "Default": "20", "Scope": "container", "RequiredForModelClass": False},
        {"Name": "SAGEMAKER_MODEL_SERVER_TIMEOUT", "Type": "text", "Default": "3600", "Scope": "container", "RequiredForModelClass": False},
        {"Name": "ENDPOINT_SERVER_TIMEOUT", "Type": "int", "Default": 3600, "Scope": "container", "RequiredForModelClass": True},
        {"Name": "MODEL_CACHE_ROOT", "Type": "text", "Default": "/opt/ml/model", "Scope": "container", "RequiredForModelClass": True},
        {"Name": "SAGEMAKER_ENV", "Type": "text", "Default": "1", "Scope": "container", "RequiredForModelClass": True},
        {"Name": "SAGEMAKER_MODEL_SERVER_WORKERS", "Type": "int", "Default": 1, "Scope": "container", "RequiredForModelClass": True},
    ]


def _container_hyperparameters(program: str) -> list[dict[str, Any]]:
    return [
        {"Name": "sagemaker_submit_directory", "Type": "text", "Default": "/opt/ml/input/data/code/sourcedir.tar.gz", "Scope": "container"},
        {"Name": "sagemaker_program", "Type": "text", "Default": program, "Scope": "container"},
        {"Name": "sagemaker_container_log_level", "Type": "text", "Default": "20", "Scope": "container"},
    ]


FLAN_T5: dict[str, Any] = {
    "Provider": "Hugging Face",
    "Url": "https://huggingface.co/google/flan-t5-base",
    "MinSdkVersion": "2.189.0",
    "TrainingSupported": True,
    "IncrementalTrainingSupported": False,
    "HostingEcrUri": f"{DLC}/huggingface-pytorch-inference:1.13.1-transformers4.26.0-gpu-py39-cu117-ubuntu20.04",
    "HostingArtifactUri": f"{CACHE}/huggingface-text2text/huggingface-text2text-flan-t5-base/artifacts/inference/v2.0.0/",
    "HostingScriptUri": f"{CACHE}/source-directory-tarballs/huggingface/inference/text2text/v1.1.2/sourcedir.tar.gz",
    "HostingPrepackedArtifactUri": f"{CACHE}/huggingface-text2text/huggingface-text2text-flan-t5-base/artifacts/inference-prepack/v2.0.0/infer-prepack-huggingface-text2text-flan-t5-base.tar.gz",
    "HostingPrepackedArtifactVersion": "2.0.0",
    "HostingUseScriptUri": False,
    "InferenceDependencies": [],
    "TrainingDependencies": ["accelerate==0.19.0", "peft==0.3.0", "sagemaker_jumpstart_script_utilities==1.1.4"],
    "Hyperparameters": [
        {"Name": "epochs", "Type": "int", "Default": 1, "Min": 1, "Max": 1000, "Scope": "algorithm"},
        {"Name": "learning_rate", "Type": "float", "Default": 0.0001, "Min": 1e-08, "Max": 1, "Scope": "algorithm"},
        {"Name": "batch_size", "Type": "int", "Default": 64, "Min": 1, "Max": 1024, "Scope": "algorithm"},
        {"Name": "peft_type", "Type": "text", "Default": "none", "Options": ["lora", "none"], "Scope": "algorithm"},
        {"Name": "seed", "Type": "int", "Default": 42, "Min": 1, "Scope": "algorithm"},
        *_container_hyperparameters("transfer_learning.py"),
    ],
    "TrainingScriptUri": f"{CACHE}/source-directory-tarballs/huggingface/transfer_learning/text2text/v1.2.1/sourcedir.tar.gz",
    "TrainingArtifactUri": f"{CACHE}/huggingface-training/train-huggingface-text2text-flan-t5-base.tar.gz",
    "TrainingEcrUri": f"{DLC}/huggingface-pytorch-training:1.13.1-transformers4.26.0-gpu-py39-cu117-ubuntu20.04",
    "TrainingMetrics": [{"Name": "huggingface-text2text:eval-loss", "Regex": "'eval_loss': ([0-9]+\\.[0-9]+)"}],
    "InferenceEnvironmentVariables": _environment(),
    "DefaultInferenceInstanceType": "ml.g5.2xlarge",
    "SupportedInferenceInstanceTypes": ["ml.g5.2xlarge", "ml.g5.4xlarge", "ml.g4dn.xlarge", "ml.p3.2xlarge"],
    "DefaultTrainingInstanceType": "ml.g5.2xlarge",
    "SupportedTrainingInstanceTypes": ["ml.g5.2xlarge", "ml.g5.4xlarge", "ml.p3.2xlarge"],
    "InferenceVolumeSize": 256,
    "TrainingVolumeSize": 256,
    "InferenceEnableNetworkIsolation": True,
    "TrainingEnableNetworkIsolation": True,
    "DefaultTrainingDatasetUri": f"{CACHE}/training-datasets/genuq/dev/",
    "ValidationSupported": True,
    "FineTuningSupported": True,
    "ResourceNameBase": "hf-text2text-flan-t5-base",
    "GatedBucket": False,
    "EncryptInterContainerTraffic": True,
    "MaxRuntimeInSeconds": 360000,
    "Capabilities": [],
    "ModelTypes": ["OPEN_WEIGHTS"],
    "Task": "Text2Text Generation",
    "Framework": "huggingface",
    "DataType": "text",
    "Dependencies": [],
}

# The SDK's own test document (a gated Llama 2 model), with the fields this library reads.
LLAMA_2: dict[str, Any] = {
    "Provider": "meta",
    "Url": "https://ai.meta.com/resources/models-and-libraries/llama-downloads/",
    "MinSdkVersion": "2.225.0",
    "TrainingSupported": True,
    "IncrementalTrainingSupported": True,
    "HostingEcrSpecs": {"Framework": "huggingface-llm", "FrameworkVersion": "2.0.0", "PyVersion": "py310"},
    "HostingEcrUri": f"{DLC}/huggingface-pytorch-tgi-inference:2.1.1-tgi2.0.0-gpu-py310-cu121-ubuntu22.04",
    "HostingArtifactUri": f"{PRIVATE_CACHE}/meta-textgeneration/meta-textgeneration-llama-2-13b-f/artifacts/inference-prepack/v1.1.0/",
    "HostingScriptUri": f"{CACHE}/source-directory-tarballs/meta/inference/textgeneration/v1.2.3/sourcedir.tar.gz",
    "HostingUseScriptUri": False,
    "HostingEulaUri": f"{CACHE}/fmhMetadata/eula/llamaEula.txt",
    "InferenceDependencies": [],
    "Hyperparameters": [
        {"Name": "int8_quantization", "Type": "text", "Default": "False", "Options": ["True", "False"], "Scope": "algorithm"},
        {"Name": "enable_fsdp", "Type": "text", "Default": "True", "Options": ["True", "False"], "Scope": "algorithm"},
        {"Name": "epoch", "Type": "int", "Default": 1, "Min": 1, "Max": 1000, "Scope": "algorithm"},
        {"Name": "learning_rate", "Type": "float", "Default": 0.0001, "Min": 1e-08, "Max": 1, "Scope": "algorithm"},
        {"Name": "lora_r", "Type": "int", "Default": 8, "Min": 1, "Scope": "algorithm"},
        {"Name": "target_modules", "Type": "text", "Default": "q_proj,v_proj", "Scope": "algorithm"},
        {"Name": "instruction_tuned", "Type": "text", "Default": "False", "Options": ["True", "False"], "Scope": "algorithm"},
        *_container_hyperparameters("transfer_learning.py"),
    ],
    "TrainingScriptUri": f"{CACHE}/source-directory-tarballs/training/meta-textgeneration/prepack/inference-meta-textgeneration/v1.2.0/sourcedir.tar.gz",
    "TrainingArtifactUri": f"{PRIVATE_CACHE}/meta-training/v1.1.0/train-meta-textgeneration-llama-2-13b-f.tar.gz",
    "TrainingEcrUri": f"{DLC}/huggingface-pytorch-training:2.0.0-transformers4.28.1-gpu-py310-cu118-ubuntu20.04",
    "TrainingMetrics": [
        {"Name": "huggingface-textgeneration:eval-loss", "Regex": "eval_epoch_loss=tensor\\(([0-9\\.]+)"},
        {"Name": "huggingface-textgeneration:train-loss", "Regex": "train_epoch_loss=([0-9\\.]+)"},
    ],
    "InferenceEnvironmentVariables": _environment(),
    "DefaultInferenceInstanceType": "ml.g5.12xlarge",
    "SupportedInferenceInstanceTypes": ["ml.g5.12xlarge", "ml.g5.24xlarge", "ml.g5.48xlarge", "ml.g6.12xlarge", "ml.p4d.24xlarge", "ml.p5.48xlarge"],
    "DefaultTrainingInstanceType": "ml.g5.24xlarge",
    "SupportedTrainingInstanceTypes": ["ml.g4dn.12xlarge", "ml.g5.24xlarge", "ml.g5.48xlarge", "ml.p3dn.24xlarge"],
    "InferenceVolumeSize": 256,
    "TrainingVolumeSize": 256,
    "InferenceEnableNetworkIsolation": True,
    "TrainingEnableNetworkIsolation": True,
    "ValidationSupported": True,
    "FineTuningSupported": True,
    "ResourceNameBase": "meta-textgeneration-llama-2-13b-f",
    "GatedBucket": True,
    "HostingArtifactS3DataType": "S3Prefix",
    "HostingArtifactCompressionType": "None",
    "EncryptInterContainerTraffic": True,
    "DisableOutputCompression": True,
    "MaxRuntimeInSeconds": 360000,
    "Capabilities": [],
    "ModelTypes": ["OPEN_WEIGHTS"],
    "Task": "Text Generation",
    "Framework": "meta",
    "DataType": "text",
    "Dependencies": [],
}

# An open model JumpStart offers for inference only.
T5_SMALL: dict[str, Any] = {
    **{k: v for k, v in copy.deepcopy(FLAN_T5).items() if not k.startswith("Training") and k not in (
        "Hyperparameters", "DefaultTrainingInstanceType", "SupportedTrainingInstanceTypes", "DefaultTrainingDatasetUri",
        "FineTuningSupported", "ValidationSupported",
    )},
    "Url": "https://huggingface.co/t5-small",
    "TrainingSupported": False,
    "HostingArtifactUri": f"{CACHE}/huggingface-infer/infer-huggingface-translation-t5-small.tar.gz",
    "ResourceNameBase": "hf-translation-t5-small",
    "Task": "Translation",
}
T5_SMALL.pop("HostingPrepackedArtifactUri")

# A proprietary model: served from a Marketplace model package, so the document has no hosting image.
COMMAND_R: dict[str, Any] = {
    "Provider": "Cohere",
    "MinSdkVersion": "2.189.0",
    "TrainingSupported": False,
    "HostingModelPackageArn": "arn:aws:sagemaker:us-east-1:865070037744:model-package/cohere-command-r-plus-v1",
    "ModelSubscriptionLink": "https://aws.amazon.com/marketplace/pp/prodview-example",
    "DefaultInferenceInstanceType": "ml.p5.48xlarge",
    "SupportedInferenceInstanceTypes": ["ml.p5.48xlarge"],
    "GatedBucket": False,
    "ModelTypes": ["PROPRIETARY"],
    "Task": "Text Generation",
    "DataType": "text",
}

DOCUMENTS: dict[str, tuple[str, dict[str, Any]]] = {
    OPEN_MODEL: ("2.3.1", FLAN_T5),
    GATED_MODEL: ("4.1.0", LLAMA_2),
    NO_TRAINING_MODEL: ("1.4.0", T5_SMALL),
    MARKETPLACE_MODEL: ("1.0.2", COMMAND_R),
}


class FakeHub:
    """SageMaker's public hub in moto: DescribeHubContent answers :data:`DOCUMENTS`; every request is kept."""

    def __init__(self) -> None:
        self.documents = copy.deepcopy(DOCUMENTS)
        self.requests: list[dict[str, Any]] = []

    def answer(self, account: str, request: dict[str, Any]) -> dict[str, Any]:
        name = request["HubContentName"]
        hub = request["HubName"]
        if hub != "SageMakerPublicHub" or request["HubContentType"] != "Model" or name not in self.documents:
            raise KeyError(f"Hub content {name} of type {request['HubContentType']} not found in hub {hub}")
        version, document = self.documents[name]
        wanted = request.get("HubContentVersion") or version
        arn = f"arn:aws:sagemaker:{REGION}:aws:hub-content/SageMakerPublicHub/Model/{name}/{wanted}"
        return {
            "HubContentName": name,
            "HubContentArn": arn,
            "HubContentVersion": wanted,
            "HubContentType": "Model",
            "DocumentSchemaVersion": "2.2.0",
            "HubName": hub,
            "HubArn": f"arn:aws:sagemaker:{REGION}:aws:hub/SageMakerPublicHub",
            "HubContentDisplayName": name,
            "HubContentDescription": f"{document.get('Task', 'Model')} by {document.get('Provider')}",
            "HubContentDocument": json.dumps(document),
            "HubContentSearchKeywords": ["@task:text-generation"],
            "HubContentDependencies": [],
            "HubContentStatus": "Available",
            "CreationTime": 1_700_000_000.0,
        }


def install(monkeypatch: Any) -> FakeHub:
    """Add DescribeHubContent to moto's SageMaker for this test (moto 5.2.5 lacks it)."""
    from moto.core.responses import ActionResult
    from moto.sagemaker.exceptions import ResourceNotFound
    from moto.sagemaker.responses import SageMakerResponse

    hub = FakeHub()

    def describe_hub_content(self: SageMakerResponse) -> ActionResult:
        request = {k: self._get_param(k) for k in ("HubName", "HubContentType", "HubContentName", "HubContentVersion")}
        hub.requests.append(request)
        try:
            return ActionResult(hub.answer(self.current_account, request))
        except KeyError as error:
            raise ResourceNotFound(message=str(error.args[0])) from None

    monkeypatch.setattr(SageMakerResponse, "describe_hub_content", describe_hub_content, raising=False)
    return hub
