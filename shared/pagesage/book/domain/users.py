"""Who is signed in: a person's profile and their sessions (session storage, never committed).

Secrets are never serialized: `sessionToken` and `githubAccessToken` are `SecretStr` (their
`repr` and `str` show `**********`) and excluded from every dump (`model_dump`,
`model_dump_json`), so a profile written anywhere holds neither. They are accepted on input,
which is all a profile read back from a session store needs: the token itself lives only in the
session cookie (httpOnly) and in memory; `get_secret_value()` gives it where it must be
compared. A profile that went through a dump comes back without them (None).

Timestamps are aware UTC, ISO 8601 in JSON; `schemaVersion` is "1.0.0".
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Annotated, Literal
from zoneinfo import available_timezones

from pydantic import AwareDatetime, Field, IPvAnyAddress, SecretStr, field_validator, model_validator

from pagesage.book.domain.model import SCHEMA_VERSION, BookModel, Count, Id
from pagesage.domain.jobs import utcnow
from pagesage.domain.limits import LineText

UserRole = Literal["admin", "editor", "reviewer", "viewer"]
"""What a person may do: `admin` everything (the only role of version 1), `editor` edit
annotations, `reviewer` review and approve pages, `viewer` read only."""

OAuthScope = Annotated[LineText, Field(min_length=1, max_length=200)]
"""One granted OAuth scope ("repo", "user:email")."""


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


class UserPreferences(BookModel):
    """How a person likes things shown: `timezone` an IANA time zone name ("America/New_York"),
    `dateFormat` a display pattern ("YYYY-MM-DD")."""

    theme: Literal["light", "dark"] = "light"
    timezone: LineText = Field(default="UTC", min_length=1, max_length=64)
    date_format: LineText = Field(default="YYYY-MM-DD", min_length=1, max_length=40)

    @field_validator("timezone")
    @classmethod
    def _iana(cls, value: str) -> str:
        zones = _time_zones()
        if zones and value not in zones and value != "UTC":  # no tz database here: accept the name
            raise ValueError(f"unknown IANA time zone {value!r}")
        return value


class UserProfile(BookModel):
    """A signed-in person: identity, role, session times, OAuth grant, preferences.

    `userId` is PageSage's id of the person ("user_abc123"); `githubId`/`githubUsername` are
    kept for profiles that carry them (PageSage identifies people by `userId`, from a verified
    Google identity). `isAdmin` is true exactly when `role` is `admin`. `sessionToken` and
    `githubAccessToken` are write-only: accepted, never serialized (see the module docstring).
    """

    user_id: Id
    github_id: Count | None = None
    github_username: LineText | None = Field(default=None, max_length=100)
    name: LineText = Field(min_length=1, max_length=200)
    email: LineText | None = Field(default=None, max_length=320)
    avatar_url: str | None = Field(default=None, max_length=2000)
    role: UserRole = "admin"
    is_admin: bool = True
    session_token: SecretStr | None = Field(default=None, exclude=True, max_length=4096,
                                            description="The session's secret token (httpOnly cookie); "
                                                        "accepted on input, never serialized.")
    session_created_at: AwareDatetime
    session_expires_at: AwareDatetime
    last_activity_at: AwareDatetime
    github_access_token: SecretStr | None = Field(default=None, exclude=True, max_length=4096,
                                                  description="GitHub OAuth token; accepted on input, "
                                                              "never serialized.")
    github_scopes: list[OAuthScope] = Field(default_factory=list, max_length=100)
    preferences: UserPreferences = Field(default_factory=UserPreferences)
    created_at: AwareDatetime = Field(default_factory=utcnow)
    updated_at: AwareDatetime = Field(default_factory=utcnow)
    schema_version: str = SCHEMA_VERSION

    @model_validator(mode="after")
    def _consistent(self) -> UserProfile:
        if self.is_admin != (self.role == "admin"):
            raise ValueError("isAdmin must be true exactly when role is admin")
        if self.session_expires_at <= self.session_created_at:
            raise ValueError("sessionExpiresAt must be after sessionCreatedAt")
        if self.updated_at < self.created_at:
            raise ValueError("updatedAt must not be before createdAt")
        return self


class UserSession(BookModel):
    """One session of a person: `sessionId` names it (not the secret token), from `createdAt`
    until `expiresAt`; `ipAddress`/`userAgent` as the client was seen when it signed in."""

    session_id: Id
    user_id: Id
    created_at: AwareDatetime = Field(default_factory=utcnow)
    expires_at: AwareDatetime
    ip_address: IPvAnyAddress | None = None
    user_agent: LineText | None = Field(default=None, max_length=1000)
    schema_version: str = SCHEMA_VERSION

    @model_validator(mode="after")
    def _expires_after_created(self) -> UserSession:
        if self.expires_at <= self.created_at:
            raise ValueError("expiresAt must be after createdAt")
        return self

    def is_active(self, now: datetime | None = None) -> bool:
        """True while the session has not expired (at `now`, default the current time)."""
        return (now or utcnow()) < self.expires_at
