"""Dashboard pages and their HTMX partials (STYLE §5): one view serves a page or, to htmx, its partial."""

from videos.views.actions import video_again, video_cancel, video_retry
from videos.views.catalog import pricing
from videos.views.generate import try_page, video_detail
from videos.views.history import history
from videos.views.quote import price_quote
from videos.views.sessions import session_delete, session_detail, session_list, session_stop

__all__ = ["history", "price_quote", "pricing", "session_delete", "session_detail", "session_list", "session_stop",
           "try_page", "video_again", "video_cancel", "video_detail", "video_retry"]
