"""Cursor pagination for every list (stable under inserts, no COUNT over big tables)."""

from rest_framework.pagination import CursorPagination
from typing_extensions import override


class DefaultPagination(CursorPagination):
    """Newest first; a view may set `cursor_ordering`; `?limit=` picks the page size (at most 500)."""

    ordering = "-created_at"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500

    @override
    def get_ordering(self, request, queryset, view):
        ordering = getattr(view, "cursor_ordering", self.ordering)
        return (ordering,) if isinstance(ordering, str) else tuple(ordering)
