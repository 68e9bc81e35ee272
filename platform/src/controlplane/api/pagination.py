"""Cursor pagination for every list (stable under inserts, no COUNT over big tables)."""

from rest_framework.pagination import CursorPagination


class DefaultPagination(CursorPagination):
    """Newest first; a view may set `cursor_ordering`; `?limit=` picks the page size (at most 500)."""

    ordering = "-created_at"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500

    def get_ordering(self, request, queryset, view):  # noqa: D102 - DRF hook
        ordering = getattr(view, "cursor_ordering", self.ordering)
        return (ordering,) if isinstance(ordering, str) else tuple(ordering)
