"""Admin for repository links, forge identities, deliveries and merge-request promotions (secrets never shown)."""

from django.contrib import admin

from controlplane.gitops.models import ForgeDelivery, ForgeIdentity, MergeRequest, MergeRequestPromotion, RepositoryLink


@admin.register(RepositoryLink)
class RepositoryLinkAdmin(admin.ModelAdmin):
    """Linked repositories; the webhook secret and API token are write-only (set them through the API)."""

    list_display = ["repository_path", "forge", "project", "default_branch", "last_sync_at"]
    list_filter = ["forge"]
    exclude = ["encrypted_webhook_secret", "encrypted_api_token"]


@admin.register(ForgeIdentity)
class ForgeIdentityAdmin(admin.ModelAdmin):
    """Forge logins matched to people."""

    list_display = ["username", "forge", "user", "source"]
    list_filter = ["forge", "source"]


@admin.register(ForgeDelivery)
class ForgeDeliveryAdmin(admin.ModelAdmin):
    """Webhook deliveries received."""

    list_display = ["delivery_id", "link", "event", "action", "outcome", "received_at"]
    list_filter = ["outcome", "event"]


@admin.register(MergeRequest)
class MergeRequestAdmin(admin.ModelAdmin):
    """Merge requests of linked repositories."""

    list_display = ["iid", "link", "author", "state", "head_sha"]


@admin.register(MergeRequestPromotion)
class MergeRequestPromotionAdmin(admin.ModelAdmin):
    """Each merge request's promotion per workflow."""

    list_display = ["merge_request", "workflow", "condition", "head_sha"]
    list_filter = ["condition"]
