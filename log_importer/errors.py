"""Errors that end a run with one line that says what to fix (never a traceback)."""

# Exit statuses (documented in the README).
EXIT_OK = 0
EXIT_FAILED = 1      # the import started but could not finish (Matomo kept failing, a hit was refused)
EXIT_USAGE = 2       # bad options or inputs, or Matomo misconfigured: nothing was sent
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class UserError(Exception):
    """A problem the user can fix; the message is shown as is."""
    exit_code = EXIT_USAGE


class UsageError(UserError):
    """Bad options or inputs, found before anything is sent."""


class ConfigError(UserError):
    """Matomo is unreachable, misconfigured, or refuses the token: found before any hit is sent."""


class ImportFailed(UserError):
    """The import stopped part-way (a batch could not be delivered)."""
    exit_code = EXIT_FAILED
