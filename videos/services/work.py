"""The life of one video, split by concern (see videos/lifecycle.py for the stages and their rules):

- dispatch.py: start a video, vendor slots;
- vendor.py: submit, poll, download, cancel at the vendor;
- render.py: the local render;
- results.py: store, complete, fail and refund.

This module keeps the names the rest of the code imports.
"""

from videos.services.dispatch import vendor_dispatch, video_start
from videos.services.job import job_for_video
from videos.services.results import vendor_fail, video_fail
from videos.services.poller import Poller, vendor_poll_due
from videos.services.vendor import Retry, vendor_cancel, vendor_job_cancel, video_fetch, video_poll

__all__ = ["Poller", "Retry", "job_for_video", "vendor_cancel", "vendor_dispatch", "vendor_fail", "vendor_job_cancel",
           "vendor_poll_due", "video_fail", "video_fetch", "video_poll", "video_start"]
