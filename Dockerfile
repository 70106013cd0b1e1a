# syntax=docker/dockerfile:1
# One image runs the web server (default), `celery worker` and `celery beat`; `migrate` is a release step.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
RUN python -m venv /venv
COPY pyproject.toml ./
RUN /venv/bin/pip install ".[s3]"

FROM python:3.11-slim
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=dashboard.settings DATA_DIR=/data MEDIA_ROOT=/data/media PORT=8000
# /data/media exists (owned by app) before a named volume is mounted there, so the volume inherits the owner.
RUN useradd --system --create-home --uid 1000 app && mkdir -p /data/media && chown -R app /data
COPY --from=build /venv /venv
WORKDIR /app
COPY --chown=app . .
# collectstatic needs settings to import: a throwaway key, only for this build step
RUN SECRET_KEY=build-only DATA_DIR=/tmp/build python manage.py collectstatic --noinput \
    && rm -rf /tmp/build
USER app
EXPOSE 8000
VOLUME ["/data"]
CMD ["sh", "-c", "gunicorn dashboard.wsgi --bind 0.0.0.0:${PORT} --workers 3 --threads 4 --timeout 120 --access-logfile -"]
