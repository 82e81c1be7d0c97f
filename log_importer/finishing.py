"""Finishing: the exit status, the summary, --invalid-lines-file and --summary-json of a run.

Exit statuses (README, "Exit status"): 0 success; 1 a fatal answer or an input that could not be
read to the end (ImportFailed carries the one-line reason); 130/143 a signal stopped the run.
The files the run writes at its end are checked for writability before it starts
(`check_writable`), so that a wrong path stops the run before any hit is sent. After a stop,
the summary ends with how to continue: the exact command (its secrets hidden), where each input
stands, and at most how many hits may be sent twice.
"""
from __future__ import annotations

import json
import logging
import os
import shlex

from .config import Config
from .errors import EXIT_FAILED, EXIT_OK, ImportFailed, UsageError, UserError
from .redaction import HIDDEN, redact
from .sources import SourceError, copy_lines
from .stats import Stats
from .summary import render, summary_data

log = logging.getLogger("log_importer")

PROG = "log-importer"
# Options that must not be given again to continue: they would import from the start again, or
# skip lines past the position a next run starts from.
NOT_TO_REPEAT = {"--reimport": 0, "--skip": 1}


def check_writable(config: Config):
    """--summary-json and --invalid-lines-file can be written: checked before the run, by
    creating (and removing) the file or opening it to append. Raises UsageError."""
    for path, option, mode in ((config.summary_json, "--summary-json", "w"),
                               (config.invalid_lines_file, "--invalid-lines-file", "a")):
        if not path:
            continue
        existed = os.path.exists(path)
        if os.path.isdir(path):
            raise UsageError("%s %s: this is a folder; give a file name: nothing was imported" % (option, path))
        try:
            target = path + ".tmp" if mode == "w" else path  # --summary-json is written through a .tmp
            with open(target, mode):
                pass
            if mode == "w" or not existed:
                os.unlink(target)
        except OSError as e:
            raise UsageError("%s %s: cannot write there (%s): nothing was imported"
                             % (option, path, e.strerror or e)) from None


def continue_command(config: Config) -> str | None:
    """The command that continues this run (the same command without --reimport and --skip),
    shell-quoted, with secrets hidden; None when the run's arguments are not known."""
    if not config.command:
        return None
    words, skip_next = [], 0
    for word in config.command:
        if skip_next:
            skip_next -= 1
            continue
        name = word.partition("=")[0]
        if name in NOT_TO_REPEAT:
            skip_next = NOT_TO_REPEAT[name] if "=" not in word else 0
            continue
        words.append(word)
    return redact(" ".join([PROG] + [shlex.quote(w) for w in words]))


def how_to_continue(config: Config, stats: Stats, command: str | None) -> list[str]:
    """The lines of the summary's "How to continue" section, after a stop."""
    s = stats
    out = []
    if config.dry_run:
        return ["a dry run remembers no positions: running it again starts from the beginning"]
    files = [fi for fi, name in enumerate(s.files) if name != "(stdin)"]
    left = [fi for fi in files if fi not in s.inputs_finished]
    if left:
        out.append("run the same command again: it imports what is left%s:"
                   % ("" if s.may_be_sent_twice else ", and nothing twice"))
        if command:
            out.append("    " + command)
            if HIDDEN in command:
                out.append("    (%s stands for the secret you gave: give it again)" % HIDDEN)
        for fi in left:
            done = s.resume_lines.get(fi)
            out.append("%s: %s" % (s.files[fi], "continues after line %s" % "{:,}".format(done) if done
                                   else "starts from its beginning" if done is not None else "was not started"))
    elif files:
        out.append("every file was read to its end: running the same command again sends the hits not "
                   "confirmed%s" % ("" if s.may_be_sent_twice else ", and nothing twice"))
        if command:
            out.append("    " + command)
    if s.stdin_used:
        out.append("standard input cannot be continued: its hits that were not confirmed are not sent again")
    if s.may_be_sent_twice:
        why = []
        if s.confirmed_ahead:
            why.append("%s that Matomo confirmed but the import state does not remember (an input too short to be "
                       "recognised, or a state that could not be saved)" % "{:,}".format(s.confirmed_ahead))
        if s.unanswered_pending:
            why.append("%s whose requests went unanswered (cut off by the stop, or failed without an answer), "
                       "which Matomo may have stored" % "{:,}".format(s.unanswered_pending))
        out.append("at most %s hits may be sent twice: %s" % ("{:,}".format(s.may_be_sent_twice), "; ".join(why)))
    return out


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
    stopped = interrupted or fatal
    command = continue_command(config) if stopped and store_path else None
    write_invalid_lines(config, stats)
    out.write(redact(render(stats, config, stopped, store_path if not config.dry_run else None,
                            how_to_continue(config, stats, command) if stopped else None)))
    out.flush()
    if signals.exit_code is not None:
        code = signals.exit_code
    elif fatal or stats.input_errors:
        code = EXIT_FAILED
    else:
        code = EXIT_OK
    write_summary_json(config, stats, code, fatal, signals.name, store_path, command)
    if code == EXIT_FAILED and fatal:
        raise ImportFailed(fatal + ("; run the same command again to send what is left" if store_path else ""))
    if code == EXIT_FAILED:
        raise ImportFailed("%d input(s) could not be imported in full: %s"
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


def _redacted(value):
    """`value` (JSON data) with redaction.redact applied to every string in it, keys included."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {_redacted(k): _redacted(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redacted(v) for v in value]
    return value


def write_summary_json(config: Config, stats: Stats, code: int, fatal: str | None, signal_name: str | None,
                       state_path: str | None, command: str | None = None):
    """--summary-json: the final counters, written atomically (a temporary file, then a rename)."""
    path = config.summary_json
    if not path:
        return
    data = summary_data(stats, config, code, fatal, signal_name, state_path, command)
    # Every text in it may quote a log line or a URL that holds a secret (a logged token_auth):
    # each is redacted, as the printed summary is.
    text = json.dumps(_redacted(data), indent=1)
    try:
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf8") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as e:
        log.error("cannot write --summary-json %s: %s", path, e.strerror)
