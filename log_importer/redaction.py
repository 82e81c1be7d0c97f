"""Secrets (token_auth, passwords) never shown: every text that leaves the process goes through `redact`.

The run registers its secrets once they are known (`register`): the token from any source, the
--password, the --auth-password, and the password of a URL's `user:password@` part. Log records
of the `log_importer` logger are redacted by `RedactingFilter` (debug output, warnings, tracker
answers with --debug-tracker); error messages, the summary JSON and the state files call
`redact` themselves. A `token_auth=` parameter (or a quoted mapping's "token_auth" key) in a text
is hidden whatever its value, so a token echoed by a proxy or by Matomo in another spelling is
hidden too; the word after "token_auth" in prose is not touched.
"""
from __future__ import annotations

import logging
import re
import threading
from urllib.parse import unquote, urlsplit

HIDDEN = "<hidden>"
MIN_SECRET = 4  # shorter "secrets" would mangle ordinary words

_secrets: set = set()
_lock = threading.Lock()
# A token_auth value, where a text holds one as a value: a query or form parameter
# (`token_auth=...`, also URL-encoded `token_auth%3D...`) or a quoted mapping's (`"token_auth":
# "..."`, JSON and Python's repr). Prose such as "token_auth: the token..." holds none: the word
# after it is not a secret.
_TOKEN_PARAM = re.compile(r"""(token_auth(?:=|%3D)["']?|(["'])token_auth\2\s*:\s*["']?)([^&\s"',}]+)""", re.I)
_URL_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://)([^/@\s:]*):([^/@\s]*)@", re.I)


def register(*secrets) -> None:
    """Remember secrets to hide from now on (None and short values are ignored)."""
    with _lock:
        for s in secrets:
            if s and len(s) >= MIN_SECRET:
                _secrets.add(s)
                quoted = s.replace("%", "%25").replace("&", "%26").replace("=", "%3D")
                if quoted != s:
                    _secrets.add(quoted)


def register_url(url: str | None) -> None:
    """Register the password of a URL's `user:password@` part."""
    if url:
        password = urlsplit(url).password
        if password:
            register(password, unquote(password))


def forget_all() -> None:
    """Forget every registered secret (tests; a new run in the same process)."""
    with _lock:
        _secrets.clear()


def redact(text, *secrets) -> str:
    """`text` with every registered secret (and `secrets`), every `token_auth=` value and every
    URL password replaced by <hidden>. Longer secrets are replaced first."""
    text = str(text)
    with _lock:
        known = _secrets | {s for s in secrets if s and len(s) >= MIN_SECRET}
    for s in sorted(known, key=len, reverse=True):
        if s in text:
            text = text.replace(s, HIDDEN)
    text = _TOKEN_PARAM.sub(lambda m: m.group(1) + HIDDEN if m.group(3) != HIDDEN else m.group(0), text)
    return _URL_USERINFO.sub(lambda m: "%s%s:%s@" % (m.group(1), m.group(2), HIDDEN), text)


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (with its arguments merged) through `redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: let the handler report it as usual
            return True
        clean = redact(message)
        if record.exc_info and record.exc_text is None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if clean != message or record.args:
            record.msg, record.args = clean, None
        return True
