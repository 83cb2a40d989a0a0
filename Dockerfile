# One image for every service of the project and for the topic initialiser:
#   python -m services.gateway | routing | chat | customer | cases
#   python -m shared.topics          (one-shot: creates the Kafka topics, exits 0)
# Build: docker build -t omnichannel:latest .
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8000 \
    LOG_LEVEL=INFO \
    LOG_JSON=true

# Unprivileged user with a fixed numeric id (Kubernetes runAsNonRoot can verify it).
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /app --shell /usr/sbin/nologin app

WORKDIR /app

# Runtime dependencies first: this layer is reused until the lock changes.
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock

# Then the project itself (its dependencies are already in place).
COPY pyproject.toml ./
COPY services/ ./services/
COPY shared/ ./shared/
RUN pip install --no-cache-dir --no-deps . \
    && rm -rf build ./*.egg-info

USER 10001:10001

# The services' HTTP ports; `python -m deploy.generate` writes this line from shared/registry.py.
EXPOSE 8000 8101 8102 8103 8104

# Ready = Kafka and MongoDB connected (the endpoint answers 503 otherwise; urlopen raises on it).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/ready' % os.environ.get('HTTP_PORT', '8000'), timeout=4)"]

CMD ["python", "-m", "services.gateway"]
