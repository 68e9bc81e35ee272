"""Portal pages: promotions (list, detail, approve and reject)."""

from __future__ import annotations

urlpatterns: list = []
