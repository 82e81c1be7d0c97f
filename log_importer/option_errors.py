"""Option errors that say what was expected, with a suggestion for a mistyped option or value.

argparse's own messages are kept in its style ("log-importer: error: …" after the usage line) and
completed: an unknown option gets the closest known ones (`--dryrun`: did you mean --dry-run?),
a value of the wrong kind says what is expected instead of the name of a Python function
(`--recorders four`: expected a whole number of at least 1; did you mean 4?), and a value out of
a list (a format name, an encoding) gets the closest names. Suggestions come from
difflib.get_close_matches, as Python 3.14's argparse `suggest_on_error` does.
"""
from __future__ import annotations

import difflib
import re

# What each type function of cli.py expects, in words.
EXPECTED = {
    "int": "a whole number",
    "float": "a number",
    "_positive": "a whole number of at least 1",
    "_recorders": "a whole number of at least 1, or auto",
    "_non_negative_int": "a whole number (0 or more)",
    "_non_negative_float": "a number (0 or more)",
}
NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}

_UNRECOGNIZED = re.compile(r"^unrecognized arguments: (.*)$")
_INVALID_VALUE = re.compile(r"^argument ([^:]+): invalid (\w+) value: '(.*)'$", re.S)
_INVALID_CHOICE = re.compile(r"^argument ([^:]+): invalid choice: '(.*)' \(choose from (.*)\)$", re.S)


def closest(word: str, candidates, n: int = 1, cutoff: float = 0.6) -> list:
    """The candidates closest to `word` (difflib's ratio, at least `cutoff`), best first."""
    return difflib.get_close_matches(word, list(candidates), n=n, cutoff=cutoff)


def did_you_mean(word: str, candidates, n: int = 1) -> str:
    """" (did you mean X?)" or " (did you mean X or Y?)", or "" when nothing is close."""
    found = closest(word, candidates, n)
    return " (did you mean %s?)" % " or ".join(found) if found else ""


def _number_for(value: str, kind: str) -> str | None:
    """A number the user probably meant by `value` (a word, a decimal comma), as text."""
    word = value.strip().lower()
    if word in NUMBER_WORDS:
        return str(NUMBER_WORDS[word])
    if kind in ("int", "_positive", "_non_negative_int", "_recorders"):
        try:
            number = float(word.replace(",", "."))
        except ValueError:
            return None
        return str(int(number)) if number == int(number) else None
    try:
        return str(float(word.replace(",", ".")))
    except ValueError:
        return None


def explain(message: str, options) -> str:
    """argparse's error `message`, completed with what was expected and a suggestion.
    `options`: every option string the parser knows."""
    m = _UNRECOGNIZED.match(message)
    if m:
        longs = [o for o in options if o.startswith("--")]
        parts = []
        for arg in m.group(1).split():
            name = arg.partition("=")[0]
            hint = did_you_mean(name, longs, 2) if name.startswith("--") else ""
            parts.append(arg + hint)
        return "unrecognized arguments: " + " ".join(parts)
    m = _INVALID_VALUE.match(message)
    if m:
        option, kind, value = m.groups()
        expected = EXPECTED.get(kind)
        text = ("argument %s: expected %s, not '%s'" % (option, expected, value) if expected
                else "argument %s: invalid value '%s'" % (option, value))
        number = _number_for(value, kind)
        return text + (" (did you mean %s %s?)" % (option.split("/")[0], number) if number is not None else "")
    m = _INVALID_CHOICE.match(message)
    if m:
        option, value, choices = m.groups()
        names = [c.strip().strip("'") for c in choices.split(",")]
        hint = did_you_mean(value, names)
        return message + hint
    return message
