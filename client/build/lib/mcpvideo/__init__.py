"""Client and CLI for the MCPHub-compatible Video Generation API."""

from mcpvideo.client import Client
from mcpvideo.errors import (
    APIError,
    AuthenticationError,
    GenerationFailed,
    InsufficientCredits,
    ModelUnavailable,
    NotFound,
    RateLimited,
    ServerError,
    ValidationError,
    WaitTimeout,
)
from mcpvideo.objects import Page, Session, Video

__all__ = [
    "APIError", "AuthenticationError", "Client", "GenerationFailed", "InsufficientCredits", "ModelUnavailable",
    "NotFound", "Page", "RateLimited", "ServerError", "Session", "ValidationError", "Video", "WaitTimeout",
]
__version__ = "0.1.0"
