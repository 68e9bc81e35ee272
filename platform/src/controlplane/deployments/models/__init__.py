"""Deployment models."""

from controlplane.deployments.models.deployments import Deployment, Environment
from controlplane.deployments.models.promotions import Promotion, PromotionState
from controlplane.deployments.models.secrets import EnvironmentSecret

__all__ = ["Deployment", "Environment", "EnvironmentSecret", "Promotion", "PromotionState"]
