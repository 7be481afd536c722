# The official Python image by default; the Docker test builds FROM a Debian bookworm
# stand-in (bin/docker-engine) where that cannot be pulled. Either has python3.
ARG BASE=python:3.11-slim
FROM ${BASE}

ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 MEDIASAGE_DATA_DIR=/data
# Every requirement is a pure-Python wheel: no compiler, and no pip cache kept.
COPY requirements.txt /tmp/
RUN python3 -m venv /venv \
    && /venv/bin/pip install --no-cache-dir --disable-pip-version-check -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt
# The user the processes run as; the entrypoint gives it PUID/PGID.
RUN groupadd --gid 1000 mediasage \
    && useradd --uid 1000 --gid 1000 --home-dir /app --no-create-home --shell /usr/sbin/nologin mediasage \
    && mkdir -p /data && chown mediasage:mediasage /data
WORKDIR /app
COPY . .
VOLUME /data
EXPOSE 8000
# /health answers 200 only while the database answers and the worker was seen lately.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=8)"]
ENTRYPOINT ["/app/bin/docker-entrypoint"]
CMD ["web"]
