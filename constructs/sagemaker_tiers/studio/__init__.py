"""Studio, JumpStart and Canvas tier: a governed Studio domain, a curated JumpStart hub, Canvas set up as code."""

from sagemaker_tiers.studio.canvas import CanvasIdleShutdown
from sagemaker_tiers.studio.domain import CanvasOptions, SharedSpace, StudioDomain, StudioUser
from sagemaker_tiers.studio.hub import CuratedHub
from sagemaker_tiers.studio.instance_types import (
    DEFAULT_ALLOWED_INSTANCE_TYPES,
    DEFAULT_INSTANCE_TYPE,
    STUDIO_APP_INSTANCE_TYPES,
)
from sagemaker_tiers.studio.persona import PERSONA_SETTINGS, Persona, PersonaRole, PersonaSettings

__all__ = [
    "CanvasIdleShutdown",
    "CanvasOptions",
    "CuratedHub",
    "DEFAULT_ALLOWED_INSTANCE_TYPES",
    "DEFAULT_INSTANCE_TYPE",
    "PERSONA_SETTINGS",
    "Persona",
    "PersonaRole",
    "PersonaSettings",
    "STUDIO_APP_INSTANCE_TYPES",
    "SharedSpace",
    "StudioDomain",
    "StudioUser",
]
