from pydantic import Field

from shared.settings import settings_class


class GradingSettings(settings_class("grading", default_port=8002)):  # type: ignore[misc]
    # Grading's handlers lock every customer row they re-grade before reading its facts, and all events of a
    # customer share its key: three group members per process apply their partitions side by side.
    consumer_members: int = Field(default=3, ge=1, le=16)
