"""Authentication and roles, the same for every service.

Standard: OAuth 2.0 bearer tokens (RFC 6750) that are JWTs (RFC 7519) signed
with HS256 by the company's identity provider, or minted by `crm token` for
local use. Claims: `sub` (the user id, e.g. a rep id), `role` (rep | manager |
admin), `team` (team id; required for rep and manager). Services share the
secret `CRM_AUTH_SECRET`. Revoked subjects (a rep who left, see handover) are
refused through `Principal` checks in the owning service.

Scope rule (domain.md §1, confidentiality): a rep sees own customers, a
manager the team's, an admin everything.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Literal

import jwt
from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.errors import DomainError

Role = Literal["rep", "manager", "admin"]
ROLES: tuple[str, ...] = ("rep", "manager", "admin")


class AuthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_AUTH_", extra="ignore")

    secret: str = "dev-only-secret-change-me-in-production-0123456789"
    issuer: str = "crm"
    token_ttl_seconds: int = 8 * 3600


class Unauthenticated(DomainError):
    status = 401
    code = "unauthenticated"


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: Role
    team_id: str | None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def can_see(self, *, owner_rep_id: str | None, team_id: str | None) -> bool:
        """The confidentiality rule: own (rep), own team (manager), all (admin)."""
        if self.role == "admin":
            return True
        if self.role == "manager":
            return team_id is not None and team_id == self.team_id
        return owner_rep_id is not None and owner_rep_id == self.user_id


def mint(user_id: str, role: Role, team_id: str | None = None, *, settings: AuthSettings | None = None, ttl: int | None = None) -> str:
    settings = settings or AuthSettings()
    now = int(time.time())
    claims = {"sub": user_id, "role": role, "iss": settings.issuer, "iat": now, "exp": now + (ttl or settings.token_ttl_seconds)}
    if team_id:
        claims["team"] = team_id
    return jwt.encode(claims, settings.secret, algorithm="HS256")


def decode(token: str, settings: AuthSettings | None = None) -> Principal:
    settings = settings or AuthSettings()
    try:
        claims = jwt.decode(token, settings.secret, algorithms=["HS256"], issuer=settings.issuer, options={"require": ["sub", "exp"]})
    except jwt.ExpiredSignatureError as exc:
        raise Unauthenticated("the token has expired", field="authorization") from exc
    except jwt.PyJWTError as exc:
        raise Unauthenticated(f"invalid token: {exc}", field="authorization") from exc
    role = claims.get("role")
    if role not in ROLES:
        raise Unauthenticated(f"the token's role must be one of {', '.join(ROLES)}", field="role")
    team = claims.get("team")
    if role in ("rep", "manager") and not team:
        raise Unauthenticated("a rep or manager token must name a team", field="team")
    return Principal(user_id=str(claims["sub"]), role=role, team_id=team)


_bearer = HTTPBearer(auto_error=False, description="JWT bearer token (`crm token --help`)")


async def current_principal(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("send `Authorization: Bearer <token>`", field="authorization")
    return decode(credentials.credentials)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_role(principal: Principal, *roles: Role) -> None:
    if principal.role not in roles:
        raise DomainError(f"this needs the role {' or '.join(roles)}", code="forbidden", status=403, field="role")
