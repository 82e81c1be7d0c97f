"""--config-file: every command-line option in a TOML or INI file, so a cron line stays short.

The default file is `$XDG_CONFIG_HOME/log-importer/config.toml` (else
`~/.config/log-importer/config.toml`), read when it exists. Keys are the long option names
without the leading dashes (`token-auth` or `token_auth`); `files` lists inputs used when the
command line gives none. Values:

- TOML: `true` sets a flag (`false` leaves it unset), a list repeats a repeatable option, any
  other value is the option's value. Keys at the top level or in a `[log-importer]` table.
- INI: a `[log-importer]` section; `true`/`yes`/`on`/`1` set a flag, `false`/`no`/`off`/`0`
  leave it unset; a repeatable option takes one value per line.

A file whose name ends in `.ini`, `.conf` or `.cfg` is read as INI, any other as TOML. An
option the command line gives replaces the file's, a list too (cli._parse). A file
holding `token-auth`, `password` or `auth-password` must not be readable by others
(credentials.check_private).
"""
from __future__ import annotations

import configparser
import os
import tomllib

from .credentials import check_private
from .errors import UsageError

SECTION = "log-importer"
SECRET_KEYS = ("token-auth", "password", "auth-password")
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


def default_path() -> str:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "log-importer", "config.toml")


def _read(path: str) -> dict:
    """The file's key → value (str, bool, number or list of them). Raises UsageError."""
    ini = path.lower().endswith((".ini", ".conf", ".cfg"))
    try:
        if not ini:
            with open(path, "rb") as f:
                data = tomllib.load(f)
            table = data.get(SECTION, data)
            if not isinstance(table, dict):
                raise UsageError("--config-file %s: [%s] must be a table" % (path, SECTION))
            return table
        parser = configparser.ConfigParser(interpolation=None)
        with open(path, encoding="utf8") as f:
            parser.read_file(f)
    except OSError as e:
        raise UsageError("--config-file %s: %s" % (path, e.strerror)) from None
    except (tomllib.TOMLDecodeError, configparser.Error, UnicodeDecodeError) as e:
        raise UsageError("--config-file %s: %s" % (path, " ".join(str(e).split()))) from None
    if not parser.has_section(SECTION):
        raise UsageError("--config-file %s: no [%s] section" % (path, SECTION))
    out = {}
    for key, value in parser.items(SECTION):
        lines = [v.strip() for v in value.splitlines() if v.strip()]
        out[key] = lines if len(lines) > 1 else (lines[0] if lines else "")
    return out


def arguments(path: str, actions: dict) -> tuple[list[str], list[str]]:
    """(option arguments, files) from the file at `path`.

    `actions` maps each long option ("--token-auth") to its argparse action. Raises UsageError
    for an unknown key, a value of the wrong kind, or a secret in a file others may read.
    """
    values = _read(path)
    args: list[str] = []
    files: list[str] = []
    for raw_key, value in values.items():
        key = str(raw_key).strip().lstrip("-").replace("_", "-").lower()
        if key == "files":
            files = [str(v) for v in (value if isinstance(value, list) else [value])]
            continue
        if key in ("config-file", "help", "version"):
            raise UsageError("--config-file %s: %r cannot be set in a config file" % (path, raw_key))
        option = "--" + key
        action = actions.get(option)
        if action is None:
            from .option_errors import did_you_mean
            hint = did_you_mean(option, [o for o in actions if o.startswith("--")], 2)
            raise UsageError("--config-file %s: unknown option %r%s" % (path, raw_key, hint))
        if key in SECRET_KEYS:
            check_private(path, "--config-file")
        items = value if isinstance(value, list) else [value]
        repeatable = type(action).__name__ in ("_AppendAction", "_CountAction")
        if len(items) > 1 and not repeatable:
            raise UsageError("--config-file %s: %s takes one value, not a list" % (path, raw_key))
        for item in items:
            if action.nargs == 0:  # a flag (store_true, count)
                word = str(item).strip().lower()
                if item is True or word in _TRUE:
                    args.append(option)
                elif item is False or word in _FALSE:
                    continue
                elif isinstance(item, int) and type(action).__name__ == "_CountAction":
                    args.extend([option] * item)
                else:
                    raise UsageError("--config-file %s: %s is a flag: use true or false" % (path, raw_key))
            else:
                args.append("%s=%s" % (option, "true" if item is True else item))
    return args, files
