"""Production settings with bench/bare_urls.py as the URL conf (bench/api_poll.py only)."""

from dashboard.settings import *  # noqa: F403

ROOT_URLCONF = "bench.bare_urls"
