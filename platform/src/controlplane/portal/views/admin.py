"""Portal pages for platform admins: runtime targets and their health, quotas and usage per project."""

from __future__ import annotations

urlpatterns: list = []
