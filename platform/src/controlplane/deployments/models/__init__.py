"""Deployment models."""

from controlplane.deployments.models.deployments import Deployment, Environment
from controlplane.deployments.models.promotions import Promotion, PromotionState

__all__ = ["Deployment", "Environment", "Promotion", "PromotionState"]
