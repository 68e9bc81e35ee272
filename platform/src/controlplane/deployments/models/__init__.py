"""Deployment models."""

from controlplane.deployments.models.deployments import Deployment, Environment, EnvironmentKind
from controlplane.deployments.models.promotions import Promotion, PromotionApproval, PromotionState
from controlplane.deployments.models.rules import ReleaseRules
from controlplane.deployments.models.secrets import EnvironmentSecret

__all__ = ["Deployment", "Environment", "EnvironmentKind", "EnvironmentSecret", "Promotion", "PromotionApproval", "PromotionState",
           "ReleaseRules"]
