# syntax=docker/dockerfile:1
# One image runs the web server (default), `celery worker` and `celery beat`; `migrate` is a release step.
# No secret is baked in: SECRET_KEY, POSTGRES_PASSWORD, vendor keys come from the environment at run time
# (.dockerignore keeps .env, data/ and the virtualenv out of the build context).
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
RUN python -m venv /venv
COPY pyproject.toml ./
RUN /venv/bin/pip install ".[s3]"

FROM python:3.11-slim
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=dashboard.settings DATA_DIR=/data MEDIA_ROOT=/data/media PORT=8000 LOG_FORMAT=json
# /data/media exists (owned by app) before a named volume is mounted there, so the volume inherits the owner.
RUN useradd --system --create-home --uid 1000 app && mkdir -p /data/media && chown -R app /data
COPY --from=build /venv /venv
WORKDIR /app
COPY --chown=app . .
# collectstatic needs settings to import: a local-mode start (no DATABASE_URL) with a throwaway data dir,
# deleted in the same layer, so no generated key stays in the image.
RUN DATA_DIR=/tmp/build ENV_FILE=none python manage.py collectstatic --noinput && rm -rf /tmp/build
USER app
EXPOSE 8000
# gunicorn.conf.py: bind 0.0.0.0:$PORT, WEB_CONCURRENCY uvicorn workers (WEB_THREADS threads each for plain
# requests; long-polls and event streams wait on the event loop), multiprocess metrics under $DATA_DIR.
CMD ["gunicorn", "-c", "dashboard/gunicorn.conf.py", "dashboard.asgi:application"]
