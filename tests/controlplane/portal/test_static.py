"""The portal's static files come from the control plane itself (WhiteNoise), never from a CDN."""

from __future__ import annotations

import re

from django.test import Client

from flowyard_spec.states import Role


def test_the_portal_stylesheet_is_served_by_the_control_plane(tenant_a):
    client = Client()
    client.force_login(tenant_a.users[Role.VIEWER])
    page = client.get("/").content.decode()
    sources = re.findall(r'(?:href|src)="([^"]+\.(?:css|js))"', page)
    assert sources and all(source.startswith("/static/") for source in sources), sources
    answer = client.get(sources[0])
    assert answer.status_code == 200
    assert b"no asset comes from a CDN" in b"".join(answer.streaming_content)
