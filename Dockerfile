# The API and the worker share this image; migrations run as a one-off job:
#   docker run IMAGE payments-service migrate
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /srv/payments

COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY alembic ./alembic
COPY sandbox ./sandbox
RUN pip install --no-compile . && useradd --system --uid 10001 payments
USER payments

ENV PAYMENTS_ENVIRONMENT=production
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["payments-service", "serve", "--host", "0.0.0.0", "--port", "8000"]
