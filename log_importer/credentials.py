"""Where the token_auth and the password come from, without putting them in the process list.

Sources of the token, first found wins: --token-auth, --token-auth-file FILE, the
MATOMO_TOKEN_AUTH environment variable, --login with --password (or MATOMO_PASSWORD: a token is
then created through UsersManager.createAppSpecificTokenAuth, api.obtain_token), --config
(Matomo's own config.ini.php and PHP, matomo_config.py). A file that holds a secret (the token
file, a --config-file with a token or password in it) is refused when its group or others may
read it, as ssh refuses a private key that others can read.
"""
from __future__ import annotations

import os
import stat

from .errors import UsageError

TOKEN_ENV = "MATOMO_TOKEN_AUTH"
PASSWORD_ENV = "MATOMO_PASSWORD"


def check_private(path: str, what: str) -> None:
    """Raise UsageError when `path` may be read (or written) by its group or by others."""
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        raise UsageError("%s %s: %s" % (what, path, e.strerror)) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UsageError("%s %s holds a secret and others may read it (mode %04o): run chmod 600 %s"
                         % (what, path, stat.S_IMODE(mode), path))


def read_token_file(path: str) -> str:
    """The token in `path` (its first non-empty line, stripped). Raises UsageError when the file
    cannot be read, is empty, or may be read by others."""
    check_private(path, "--token-auth-file")
    try:
        with open(path, encoding="utf8") as f:
            lines = [line.strip() for line in f]
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError("--token-auth-file %s: %s" % (path, getattr(e, "strerror", None) or e)) from None
    token = next((line for line in lines if line), "")
    if not token:
        raise UsageError("--token-auth-file %s is empty" % path)
    return token


def token_and_password(token_auth, token_auth_file, login, password, environ=None):
    """(token or None, password or None) from the options and the environment.

    --token-auth and --token-auth-file exclude each other; the environment is read only for
    what the options leave open (MATOMO_TOKEN_AUTH unless --login is given; MATOMO_PASSWORD
    for --login without --password). Raises UsageError.
    """
    env = os.environ if environ is None else environ
    if token_auth and token_auth_file:
        raise UsageError("give either --token-auth or --token-auth-file, not both")
    token = token_auth or (read_token_file(token_auth_file) if token_auth_file else None)
    if token is None and not login:
        token = env.get(TOKEN_ENV) or None
    if login and not password:
        password = env.get(PASSWORD_ENV) or None
        if not password and not token:
            raise UsageError("--login needs --password (or the %s environment variable)" % PASSWORD_ENV)
    return token, password
