"""The embedded renderer as a provider: real H.264 MP4s with no vendor account."""

import os

from videos.providers.base import InvalidJob, Job, LocalResult, Provider
from videos.providers.render import RenderCancelled, RenderSpec, render

__all__ = ["SIMULATED_MARK", "LocalProvider", "RenderCancelled"]
SIMULATED_MARK = "SIMULATED"


class LocalProvider(Provider):
    name = "local"
    synchronous = True

    def is_configured(self) -> bool:
        return True

    def check(self, job: Job) -> None:
        if not 12 <= job.frame_rate <= 60:
            raise InvalidJob("frame_rate must be between 12 and 60", field="frame_rate")

    def generate(self, job: Job, out_dir: str) -> LocalResult:
        """Render `job` into `out_dir`. Raises RenderCancelled when `job.cancelled()` turns true."""
        result = LocalResult(
            video_path=os.path.join(out_dir, "video.mp4"),
            thumbnail_path=os.path.join(out_dir, "thumbnail.jpg"),
            last_frame_path=os.path.join(out_dir, "last.png"),
        )
        spec = RenderSpec(
            prompt=job.prompt,
            width=job.width,
            height=job.height,
            duration=float(job.duration),
            frame_rate=job.frame_rate,
            seed=job.seed if job.seed is not None else 0,
            strategy=job.strategy,
            head_image=job.head_image.data if job.head_image else None,
            tail_image=job.tail_image.data if job.tail_image else None,
            # Every catalog model is a vendor's: rendered here, it is a simulation, and says so on screen.
            mark=SIMULATED_MARK if job.vendor_model else None,
        )
        render(spec, video_path=result.video_path, thumbnail_path=result.thumbnail_path,
               last_frame_path=result.last_frame_path, progress=job.progress, cancelled=job.cancelled)
        return result
