"""Settings from environment variables, one prefix per service (e.g. CUSTOMERS_DATABASE_URL).

Broker address and topic prefix fall back to the unprefixed names so one
environment can configure the whole stack.
"""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _either(prefix: str, name: str) -> AliasChoices:
    return AliasChoices(f"{prefix}{name}", name)


class ServiceSettings(BaseSettings):
    """Common settings of every service; subclasses set `service` and `env_prefix`."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    service: str = "service"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/crm"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    topic_prefix: str = ""
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    log_level: str = "INFO"
    log_json: bool = True
    # consumer chassis
    consumer_batch_size: int = Field(default=500, ge=1, le=10_000)
    # members of the service's consumer group in this process: the group splits the partitions between them
    # and each applies its own side by side with the others; more than 1 only for services whose handlers lock
    # what they read before they write (see services/grading)
    consumer_members: int = Field(default=1, ge=1, le=16)
    consumer_enabled: bool = True
    # how long the group waits for a silent (killed) member before its partitions move
    consumer_session_timeout_ms: int = Field(default=10_000, ge=1_000)
    retry_initial_seconds: float = 0.2
    retry_max_seconds: float = 10.0
    # outbox relay
    relay_enabled: bool = True
    relay_batch_size: int = Field(default=500, ge=1, le=10_000)
    relay_poll_seconds: float = 0.2
    publish_timeout_seconds: float = 10.0
    # Chaos testing only: the name of a fault point at which the process kills itself (see shared/faults.py).
    fault_point: str = ""

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    @property
    def group_id(self) -> str:
        return f"{self.topic_prefix}crm-{self.service}"


def settings_class(service: str, default_port: int) -> type[ServiceSettings]:
    """Build the settings class of one service: env prefix `<SERVICE>_`, shared fallbacks."""
    prefix = f"{service.upper()}_"
    name, port = service, default_port  # class bodies cannot see a function argument they shadow

    class _Settings(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix=prefix, extra="ignore", populate_by_name=True)

        service: str = name
        http_port: int = port
        # Each service owns its database: no unprefixed fallback here on purpose.
        database_url: str = f"postgresql+asyncpg://postgres@127.0.0.1:5432/crm_{name}"
        kafka_bootstrap_servers: str = Field(
            default="127.0.0.1:9092", validation_alias=_either(prefix, "KAFKA_BOOTSTRAP_SERVERS")
        )
        topic_prefix: str = Field(default="", validation_alias=_either(prefix, "CRM_TOPIC_PREFIX"))

    _Settings.__name__ = f"{service.capitalize()}Settings"
    return _Settings
