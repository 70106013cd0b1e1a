"""Accepting user images (head/tail keyframes): SSRF-safe fetching, format sniffing, size caps.

No database access and no Django requirement: settings are read lazily, and only when
`allow_hosts` is not given. See DESIGN.md §2 "Images".
"""

from .accept import image_accept, image_pair_check
from .content import AcceptedImage
from .errors import ImageError

__all__ = ["AcceptedImage", "ImageError", "image_accept", "image_pair_check"]
