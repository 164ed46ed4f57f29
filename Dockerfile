# The Retrace API image: `retrace serve` as a non-root user (see compose.yaml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY hashing ./hashing
COPY ledger ./ledger
COPY labels ./labels
COPY api ./api
RUN pip install . && rm -rf /src

# The data folder holds the log signing key (a volume in compose.yaml); a named
# volume takes this folder's owner, so the service can write it.
RUN useradd --system --uid 10001 --home-dir /var/lib/retrace --create-home retrace \
    && chmod 0700 /var/lib/retrace
USER retrace
WORKDIR /var/lib/retrace
ENV RETRACE_LOG_KEY_FILE=/var/lib/retrace/log.key

EXPOSE 8000
CMD ["retrace", "serve", "--host", "0.0.0.0", "--port", "8000"]
