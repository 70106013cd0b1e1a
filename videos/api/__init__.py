"""/api/v3 video endpoints as a package: inputs (requests), outputs (responses), errors, endpoints.

Nothing is imported here: the output schemas are used outside the API (webhook payloads, the dashboard) and
must not pull in the router, whose import registers it on the NinjaAPI (dashboard/api.py).
"""
