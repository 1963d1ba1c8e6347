# Relief: multi-stage build. The runtime image has no compiler and runs as a non-root user.
# Configure with RELIEF_DATABASE_URL and RELIEF_SECRET_KEY (production refuses the default secret).

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/relief
WORKDIR /src
# Dependencies first, so code changes do not re-download them.
COPY pyproject.toml README.md ./
RUN /opt/relief/bin/pip install --upgrade pip \
 && mkdir -p relief handlers models notifications \
 && touch relief/__init__.py handlers/__init__.py models/__init__.py notifications/__init__.py \
 && /opt/relief/bin/pip install . \
 && /opt/relief/bin/pip uninstall -y relief
COPY relief relief
COPY handlers handlers
COPY models models
COPY notifications notifications
# No [embedded] extra: production points RELIEF_DATABASE_URL at a managed PostgreSQL.
RUN /opt/relief/bin/pip install --no-deps . && /opt/relief/bin/relief --help >/dev/null

FROM python:3.11-slim
RUN groupadd --system --gid 10001 relief \
 && useradd --system --uid 10001 --gid relief --home-dir /app --shell /usr/sbin/nologin relief \
 && mkdir -p /app && chown relief:relief /app
COPY --from=build /opt/relief /opt/relief
ENV PATH=/opt/relief/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    RELIEF_ENV=production \
    RELIEF_HOST=0.0.0.0 \
    RELIEF_PORT=8080 \
    RELIEF_DATA_DIR=/app/var \
    RELIEF_SHUTDOWN_TIMEOUT=8
WORKDIR /app
USER relief
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('RELIEF_PORT', '8080')}/healthz\", timeout=2)"]
# relief serve drains in-flight requests on SIGTERM for up to RELIEF_SHUTDOWN_TIMEOUT (8 s here, inside
# docker stop's 10 s grace; raise both together, e.g. docker run --stop-timeout 35 -e RELIEF_SHUTDOWN_TIMEOUT=30).
STOPSIGNAL SIGTERM
CMD ["relief", "serve"]
