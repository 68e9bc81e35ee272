"""GitOps models."""

from controlplane.gitops.models.links import (
    DeliveryOutcome,
    Forge,
    ForgeDelivery,
    ForgeIdentity,
    IdentitySource,
    RepositoryLink,
)
from controlplane.gitops.models.merge_requests import (
    Condition,
    ForgeReport,
    MergeRequest,
    MergeRequestApproval,
    MergeRequestPromotion,
    MergeRequestState,
)

__all__ = ["Condition", "DeliveryOutcome", "Forge", "ForgeDelivery", "ForgeIdentity", "ForgeReport", "IdentitySource",
           "MergeRequest", "MergeRequestApproval", "MergeRequestPromotion", "MergeRequestState", "RepositoryLink"]
