"""The policy file ops can change (contract.md, Policies and time): TOML, one section per concern.

Durations are ISO 8601 (`P3D`, `PT36H`, `PT5S`). A malformed file stops the
service at start-up with an error naming the key (e.g. `complaints.sla.A`).
The file is `CRM_POLICY_FILE`, else `config/policy.toml` in the project.
Every section has defaults, so a missing section means the handbook's defaults.
"""

from __future__ import annotations

import os
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "config" / "policy.toml"
Section = TypeVar("Section", bound=BaseModel)


def _iso_only(value: Any) -> Any:
    if isinstance(value, str) and not value.strip().upper().startswith("P"):
        raise ValueError(f"{value!r} is not an ISO 8601 duration such as P3D, PT36H or PT5S")
    return value


# An ISO 8601 duration (P3D, PT36H, PT5S); nothing else is accepted in a policy file.
Duration = Annotated[timedelta, BeforeValidator(_iso_only)]


class PolicyError(RuntimeError):
    """The policy file cannot be used; the message names the file and the key."""


class PolicyModel(BaseModel):
    """Base for policy sections: unknown keys are errors (a typo must not pass silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def policy_path() -> Path:
    return Path(os.environ.get("CRM_POLICY_FILE") or DEFAULT_FILE)


def read_document(path: Path | None = None) -> dict[str, Any]:
    path = path or policy_path()
    if not path.exists():
        if path == DEFAULT_FILE:
            return {}
        raise PolicyError(f"policy file {path} does not exist (CRM_POLICY_FILE)")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"policy file {path}: {exc}") from exc


def load_section(name: str, model: type[Section], *, path: Path | None = None, document: dict[str, Any] | None = None) -> Section:
    doc = read_document(path) if document is None else document
    raw = doc.get(name, {})
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join([name, *(str(p) for p in err['loc'])])}: {err['msg']}" for err in exc.errors()
        )
        raise PolicyError(f"policy file {path or policy_path()}: {problems}") from exc


def iso_duration(value: timedelta) -> str:
    """timedelta -> ISO 8601 duration text, for documents and reasons."""
    from pydantic import TypeAdapter

    return TypeAdapter(timedelta).dump_python(value, mode="json")
