"""The ASGI application the web server runs (`gunicorn -c dashboard/gunicorn.conf.py dashboard.asgi:application`,
with uvicorn workers).

Long-polls and live streams are served asynchronously by dashboard.live (no thread held per waiting client);
every other request goes to the same Django WSGI application as before, on a pool of WEB_THREADS threads
(a2wsgi), so plain requests keep the thread-per-request model they were measured with. In front of both,
dashboard.fastpoll answers settled session and video polls from Redis without Django.
"""

import os

from a2wsgi import WSGIMiddleware
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
_django = get_wsgi_application()

from dashboard.fastpoll import FastPollApp  # noqa: E402 - after Django is set up
from dashboard.live import LiveApp  # noqa: E402

# Settled polls are answered from the poll cache before anything else (dashboard.fastpoll); the rest as before.
application = FastPollApp(LiveApp(WSGIMiddleware(_django, workers=int(os.environ.get("WEB_THREADS", "4")))))  # type: ignore[arg-type]
