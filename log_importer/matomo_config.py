"""--config: get a token from a local Matomo installation, as Matomo's import_logs.py does.

Matomo keeps no token in config.ini.php; its `misc/cron/updatetoken.php` (run with PHP, beside
that config) writes a fresh token to a file and prints the file's name.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from urllib.parse import urlparse

from .config import Config
from .errors import ConfigError

NO_TOKEN = ("no token: give --token-auth-file, MATOMO_TOKEN_AUTH or --token-auth, or --login with "
            "MATOMO_PASSWORD or --password (or --config with a local Matomo)")


def token_from_config(config: Config) -> str:
    """The token updatetoken.php writes, run with --php-binary (and --testmode with
    --enable-testmode, for Matomo's test environment, as import_logs.py passes it). Raises
    ConfigError with what to do instead."""
    path = config.config_file
    if not path:
        raise ConfigError(NO_TOKEN)
    if not os.access(path, os.R_OK):
        raise ConfigError("cannot read --config %s: it must be Matomo's config/config.ini.php, readable "
                          "by this user" % path)
    script = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(path)), "..", "misc", "cron",
                                           "updatetoken.php"))
    if not os.path.exists(script):
        raise ConfigError("--config %s: %s not found; is this a Matomo installation?" % (path, script))
    binary = shutil.which(config.php_binary)
    if binary is None:
        raise ConfigError("--config needs PHP to read the token (%s not found: give it with --php-binary); use "
                          "--token-auth instead" % config.php_binary)
    host = urlparse(config.url).hostname or ""
    command = [binary, script] + (["--testmode"] if config.enable_testmode else []) + ["--matomo-domain=" + host]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ConfigError("running %s failed: %s; use --token-auth instead" % (script, e)) from None
    if proc.returncode != 0:
        raise ConfigError("%s failed (exit %d): %s; use --token-auth instead"
                          % (script, proc.returncode, " ".join(proc.stderr.split())[:200]))
    token_file = proc.stdout.strip()
    try:
        with open(token_file, encoding="utf8") as f:
            fields = f.readline().rstrip("\n").split("\t")
    except OSError as e:
        raise ConfigError("cannot read the token file written by %s: %s" % (script, e.strerror)) from None
    if len(fields) < 2 or not fields[1]:
        raise ConfigError("the token file written by %s holds no token" % script)
    return fields[1].strip()
