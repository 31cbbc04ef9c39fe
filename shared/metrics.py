"""Prometheus metrics of the chassis (each service process has its own registry: the default one)."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS_CONSUMED = Counter("crm_events_consumed_total", "Events applied", ["service", "topic", "type"])
EVENTS_DUPLICATE = Counter("crm_events_duplicate_total", "Redelivered events skipped", ["service", "topic"])
EVENTS_DEAD_LETTERED = Counter("crm_events_dead_lettered_total", "Events sent to a DLQ", ["service", "topic", "reason"])
BATCH_SECONDS = Histogram("crm_consumer_batch_seconds", "Time to apply one batch", ["service", "topic"])
CONSUMER_RETRIES = Counter("crm_consumer_retries_total", "Transient failures retried", ["service", "topic"])
OUTBOX_PUBLISHED = Counter("crm_outbox_published_total", "Outbox rows published", ["service"])
OUTBOX_BACKLOG = Gauge("crm_outbox_backlog", "Unpublished outbox rows seen by the relay", ["service"])
OUTBOX_RELAY_ERRORS = Counter("crm_outbox_relay_errors_total", "Relay attempts that failed", ["service"])
HTTP_REQUESTS = Counter("crm_http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
HTTP_SECONDS = Histogram("crm_http_request_seconds", "HTTP latency", ["service", "method", "route"])
