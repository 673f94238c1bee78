# segsync as a container: `segsync run` (the daemon) by default.
#
#   docker build -t segsync .
#   docker run -v $PWD/config:/app/config:ro -v segsync-state:/app/state \
#     -v $PWD/data:/app/data:ro -e SEGSYNC_MAILCHIMP__API_KEY=... -p 8080:8080 segsync
#
# Only the runtime dependencies are installed, at the versions pinned in requirements.lock
# (no dev extras, no compilers, no curl); the
# HEALTHCHECK asks /healthz with Python's own urllib. Keys come from the environment or
# from files in /run/secrets (segsync_mailchimp__api_key, segsync_klaviyo__api_key, …).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md requirements.lock ./
COPY connector ./connector
RUN pip install -c requirements.lock . && rm -rf /src

RUN useradd --system --uid 10001 --user-group --home-dir /app --create-home segsync \
    && mkdir -p /app/config /app/state /app/data \
    && chown -R segsync:segsync /app

WORKDIR /app
ENV SEGSYNC_CONFIG_DIR=/app/config \
    SEGSYNC_STATE_PATH=/app/state/segsync.db \
    SEGSYNC_SOURCE_URL=duckdb:////app/data/customers.duckdb \
    SEGSYNC_HTTP__BIND=0.0.0.0:8080
USER 10001:10001
VOLUME ["/app/config", "/app/state"]
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; port = os.environ.get('SEGSYNC_HTTP__BIND', '0.0.0.0:8080').rsplit(':', 1)[-1]; u.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)"]

ENTRYPOINT ["segsync"]
CMD ["run"]
