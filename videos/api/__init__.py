"""/api/v3 video endpoints as a package: inputs (requests), outputs (responses), errors, endpoints."""

from videos.api.endpoints import router

__all__ = ["router"]
