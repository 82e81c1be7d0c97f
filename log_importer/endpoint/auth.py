"""Who a token_auth is: the super user, a user with write access to some sites, or nobody."""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field

SUPERUSER = "superuser"
WRITE = "write"
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Access:
    kind: str
    login: str = "anonymous"
    sites: frozenset = field(default=frozenset())

    @property
    def superuser(self) -> bool:
        return self.kind == SUPERUSER

    def can_write(self, idsite: int) -> bool:
        return self.kind == SUPERUSER or (self.kind == WRITE and idsite in self.sites)

    def can_view(self, idsite: int) -> bool:
        return self.can_write(idsite)


NOBODY = Access(ANONYMOUS)


def new_token() -> str:
    """32 hex chars, like Matomo's Model::generateTokenAuth (an md5)."""
    return hashlib.md5(os.urandom(32)).hexdigest()


class Tokens:
    def __init__(self, super_token: str, users: dict[str, str], write_tokens: dict[str, list[int]]):
        self.users = dict(users)
        self._access: dict[str, Access] = {super_token: Access(SUPERUSER, "admin")}
        self._expires: dict[str, int] = {}
        for token, sites in (write_tokens or {}).items():
            self._access[token] = Access(WRITE, "writer", frozenset(int(s) for s in sites))

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
