# One image for all four services (customers, grading, complaints, notifier), the
# migrations and the topic set-up. The service is chosen by the command:
#   crm serve <customers|grading|complaints|notifier>
#   crm migrate
#   crm topics --bootstrap kafka:9092 --partitions 6
# Configuration comes from environment variables (see shared/settings.py and
# docker-compose.yml): <SERVICE>_DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS,
# <SERVICE>_HTTP_HOST, <SERVICE>_HTTP_PORT.

FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# README* is optional: the glob lets the build work with or without it.
COPY pyproject.toml README* ./
COPY shared ./shared
COPY services ./services
RUN pip install .


FROM python:3.11-slim

# <SERVICE>_HTTP_HOST: listen on every interface inside the container (the code's default is 127.0.0.1).
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH \
    CUSTOMERS_HTTP_HOST=0.0.0.0 \
    GRADING_HTTP_HOST=0.0.0.0 \
    COMPLAINTS_HTTP_HOST=0.0.0.0 \
    NOTIFIER_HTTP_HOST=0.0.0.0

RUN groupadd --system --gid 10001 crm \
 && useradd --system --uid 10001 --gid crm --home-dir /app --create-home --shell /usr/sbin/nologin crm

COPY --from=build /opt/venv /opt/venv

WORKDIR /app
# The default policies; mount another file and point CRM_POLICY_FILE at it to change them.
COPY config/policy.toml /app/config/policy.toml
ENV CRM_POLICY_FILE=/app/config/policy.toml
USER crm:crm

# Default HTTP ports of customers, grading, complaints, notifier.
EXPOSE 8001 8002 8003 8004

# SIGTERM lets uvicorn drain and the consumer commit (graceful shutdown up to 30 s).
STOPSIGNAL SIGTERM
CMD ["crm", "serve", "customers"]
