"""Who a token_auth is: the super user, a user with write access to some sites, or nobody."""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field

SUPERUSER = "superuser"
WRITE = "write"
VIEW = "view"
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Access:
    kind: str
    login: str = "anonymous"
    sites: frozenset = field(default=frozenset())  # written to (WRITE), or viewed (VIEW)
    view_sites: frozenset = field(default=frozenset())  # viewed only, besides `sites` (WRITE)

    @property
    def superuser(self) -> bool:
        return self.kind == SUPERUSER

    def can_write(self, idsite: int) -> bool:
        return self.kind == SUPERUSER or (self.kind == WRITE and idsite in self.sites)

    def can_view(self, idsite: int) -> bool:
        return (self.can_write(idsite) or idsite in self.view_sites
                or (self.kind == VIEW and idsite in self.sites))


NOBODY = Access(ANONYMOUS)


def new_token() -> str:
    """32 hex chars, like Matomo's Model::generateTokenAuth (an md5)."""
    return hashlib.md5(os.urandom(32)).hexdigest()


class Tokens:
    def __init__(self, super_token: str, users: dict[str, str], write_tokens: dict[str, list[int]],
                 view_tokens: dict[str, list[int]] | None = None):
        """`write_tokens` / `view_tokens`: token -> the ids of the sites it may write to / view."""
        self.users = dict(users)
        self._access: dict[str, Access] = {super_token: Access(SUPERUSER, "admin")}
        self._expires: dict[str, int] = {}
        views = {t: frozenset(int(s) for s in sites) for t, sites in (view_tokens or {}).items()}
        for token, sites in views.items():
            self._access[token] = Access(VIEW, "viewer", sites)
        for token, sites in (write_tokens or {}).items():  # in both: write here, view there
            self._access[token] = Access(WRITE, "writer", frozenset(int(s) for s in sites),
                                         views.get(token, frozenset()))

    def add_user_token(self, token: str, login: str, expires: int | None) -> None:
        self._access[token] = Access(SUPERUSER, login)
        if expires:
            self._expires[token] = expires

    def access(self, token) -> Access | None:
        """The access of `token`; NOBODY when no token is given; None for an unknown token."""
        if not token:
            return NOBODY
        if type(token) is not str:
            token = str(token)
        a = self._access.get(token)
        if a is None:
            return None
        exp = self._expires.get(token)
        if exp is not None and exp < time.time():
            return None
        return a

    def check_password(self, login: str, password: str) -> bool:
        return login in self.users and self.users[login] == password
