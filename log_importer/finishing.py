"""Finishing: the exit status, the summary, --invalid-lines-file and --summary-json of a run.

Exit statuses (README, "Exit status"): 0 success; 1 a fatal answer or an input that could not be
read to the end (ImportFailed carries the one-line reason); 130/143 a signal stopped the run.
"""
from __future__ import annotations

import json
import logging
import os

from .config import Config
from .errors import EXIT_FAILED, EXIT_OK, ImportFailed, UserError
from .redaction import redact
from .sources import SourceError, copy_lines
from .stats import Stats
from .summary import render, summary_data

log = logging.getLogger("log_importer")


def finish(config: Config, stats: Stats, fatal: str | None, signals, aborted: bool, store_path: str | None,
           out) -> int:
    """Write the refused lines, the summary (to `out`) and --summary-json; return the exit status.

    `fatal`: the Acknowledger's reason for stopping, or None; `signals`: the run's StopSignals;
    `aborted`: a second signal abandoned the batches in flight; `store_path`: the state file of
    the destination (None: positions are not remembered, so running the same command again
    would not continue). Raises ImportFailed for exit status 1.
    """
    interrupted = None
    if signals.received is not None:
        interrupted = "stopped by %s: %s" % (
            signals.name, "in-flight batches were abandoned" if aborted and not fatal
            else "batches already sent were finished")
    write_invalid_lines(config, stats)
    out.write(redact(render(stats, config, interrupted or fatal, store_path if not config.dry_run else None)))
    out.flush()
    if signals.exit_code is not None:
        code = signals.exit_code
    elif fatal or stats.input_errors:
        code = EXIT_FAILED
    else:
        code = EXIT_OK
    write_summary_json(config, stats, code, fatal, signals.name, store_path)
    if code == EXIT_FAILED and fatal:
        raise ImportFailed(fatal + ("; run the same command again to send what is left" if store_path else ""))
    if code == EXIT_FAILED:
        raise ImportFailed("%d input(s) could not be read to the end: %s"
                           % (len(stats.input_errors), "; ".join(stats.input_errors)))
    return code


def write_invalid_lines(config: Config, stats: Stats):
    """--invalid-lines-file: the log lines of the hits Matomo refused, as they were."""
    path = config.invalid_lines_file
    if not path or not stats.rejected_lines:
        return
    wanted: dict = {}
    for name, line in stats.rejected_lines:
        wanted.setdefault(name, set()).add(line)
    try:
        with open(path, "ab") as out:
            for name, lines in wanted.items():
                if name == "(stdin)":
                    log.warning("the refused lines of standard input cannot be written to %s", path)
                else:
                    copy_lines(name, lines, out, config.chunk_bytes)
    except (OSError, UserError, SourceError) as e:
        log.error("cannot write --invalid-lines-file %s: %s", path, e)


def write_summary_json(config: Config, stats: Stats, code: int, fatal: str | None, signal_name: str | None,
                       state_path: str | None):
    """--summary-json: the final counters, written atomically (a temporary file, then a rename)."""
    path = config.summary_json
    if not path:
        return
    data = summary_data(stats, config, code, redact(fatal) if fatal else None, signal_name, state_path)
    try:
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf8") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, path)
    except OSError as e:
        log.error("cannot write --summary-json %s: %s", path, e.strerror)
