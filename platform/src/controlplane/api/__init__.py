"""The API base layer: `ScopedViewSet` (tenant scoping and declared access, checked once), shared serializer
fields, pagination, the error handler and OpenAPI hooks, and the endpoints of the two layers below it
(`tenancy/`: teams, projects, memberships, tokens, me; `core/`: the audit log), plus the API root.

It sits above tenancy (it reads roles) and below every other app, whose `api/` packages build on it."""
