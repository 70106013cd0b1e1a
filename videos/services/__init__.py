"""Writes of the videos app. Import as a module: `from videos import services`."""

from videos.services.intake import VideoRequest, job_for, model_get, request_validate
from videos.services.results import WORDS
from videos.services.schedule import session_tick, sessions_tick_due
from videos.services.sessions import (
    session_create,
    session_delete,
    session_finish_if_done,
    session_replay,
    session_start,
    session_stop,
)
from videos.services.work import (
    Poller,
    Retry,
    job_for_video,
    vendor_cancel,
    vendor_dispatch,
    vendor_fail,
    vendor_job_cancel,
    vendor_poll_due,
    video_fail,
    video_fetch,
    video_poll,
    video_start,
)

__all__ = [
    "WORDS",
    "Poller",
    "Retry",
    "VideoRequest",
    "job_for",
    "job_for_video",
    "model_get",
    "request_validate",
    "session_create",
    "session_delete",
    "session_finish_if_done",
    "session_replay",
    "session_start",
    "session_stop",
    "session_tick",
    "sessions_tick_due",
    "vendor_cancel",
    "vendor_dispatch",
    "vendor_fail",
    "vendor_job_cancel",
    "vendor_poll_due",
    "video_fail",
    "video_fetch",
    "video_poll",
    "video_start",
]
