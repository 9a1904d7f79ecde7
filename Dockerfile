# syntax=docker/dockerfile:1
#
# sora-bot in a container: the wheels are built in one stage and installed into a slim
# runtime stage that has no compiler, no pip cache and no source tree. PyAV's manylinux
# wheel bundles its own FFmpeg libraries, so no system ffmpeg is needed.
#
#   docker build -t sora-bot .
#   docker run -d --name sora-bot --env-file .env -v sora-data:/data \
#       -v "$PWD/sora-bot.toml:/config/sora-bot.toml:ro" sora-bot
#
# See docs/operations.md ("Docker") for compose, volumes, upgrades and the healthcheck.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --------------------------------------------------------------------------- builder
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY adapters ./adapters
COPY storage ./storage

# One wheel for the project and one for every dependency it needs at run time.
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# --------------------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="sora-bot" \
      org.opencontainers.image.description="Discord and Telegram bot that generates short videos through OpenAI-compatible video relays" \
      org.opencontainers.image.licenses="MIT"

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SORA_BOT_STORAGE__PATH=/data/sora-bot.db \
    SORA_BOT_STORAGE__MEDIA_DIR=/data/media \
    SORA_BOT_METRICS__HOST=0.0.0.0

# The wheels are bind-mounted from the builder, never copied: they stay out of the image.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels /wheels/sora_bot-*.whl \
    && groupadd --system --gid 10001 sora \
    && useradd --system --uid 10001 --gid sora --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin sora \
    && mkdir -p /data /config \
    && chown sora:sora /data

# The database, its WAL files and the media waiting for delivery live on this volume.
VOLUME ["/data"]
# Mount the config at /config/sora-bot.toml (found from here as ./sora-bot.toml); without
# it, everything comes from SORA_BOT_* variables.
WORKDIR /config
USER 10001:10001

# /metrics and /healthz when [metrics] port is 9464; Telegram webhooks on 8443.
EXPOSE 9464 8443

# /healthz of the running bot when [metrics] port is set, else "the database accepts
# writes" (see `sora-bot healthcheck --help`).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["sora-bot", "healthcheck"]

ENTRYPOINT ["sora-bot"]
CMD ["run"]
