"""Which user agents are bots: Matomo's own lists, plus what they miss.

The rules, in the order that names a bot (the first rule that matches gives its name and
category):

1. Device Detector's `bots.yml`: the list Matomo itself excludes (`VisitExcluded::isNonHumanBot`
   asks `DeviceDetector::isBot()`, which matches this file). Read as data from the
   `device-detector` package (upgrade it to update the list); no copy lives here.
2. The project's own list, `bots.txt` beside this module: headless browsers, link-preview
   fetchers, scanners, uptime monitors and the reference importer's bot-specific substrings,
   which `bots.yml` misses.
3. Device Detector's `libraries.yml` (curl, python-requests, Go-http-client, Java...): HTTP
   clients, which Matomo counts as visits but a log import should not. Category "Library".
4. The operator's own: `--useragent-exclude` (substrings), `--useragent-exclude-regex` and
   `--bot-list FILE` (category "Custom" unless the file names one).

A user agent that matches a not-bot pattern (`!` lines of `bots.txt`, e.g. media players that
`libraries.yml` lists; `--not-bot`; `!` lines of a `--bot-list` file) is not a bot whatever else
matches. `--bots-as-matomo` keeps rule 1 and the operator's own patterns only.

Device Detector's regex semantics (`Parser/AbstractParser.php` `matchUserAgent`): each regex is
searched case-insensitively (PCRE `/i` without `/u`: ASCII case folding) behind the boundary
`(?:^|[^A-Z0-9\\-_]|[^A-Z0-9\\-]_|sprd-|MZ-)`, and the first entry of the file that matches
names the bot. The regexes are compiled with the `regex` module (PCRE's variable-width
look-behinds, which `re` refuses), lazily: only a regex whose literals appear in an agent is
ever compiled.

Speed: every rule's literals (strings any match must contain, extracted from the regex itself,
`literals_of`) go into one Aho-Corasick automaton (`ahocorasick-rs`); an agent is searched
once, and only the rules whose literals occur in it are confirmed, in file order: a rule that is
nothing but its literals from where the literal was found, any other by its own regex.
`BotClassifier` decides each distinct agent once and remembers it.
"""
from __future__ import annotations

import functools
import importlib.util
import os
import re
import re._parser as sre_parse  # the stdlib's regex parser: what a pattern requires literally
from re._constants import (ASSERT, ASSERT_NOT, AT, AT_BEGINNING, AT_END, ATOMIC_GROUP, BRANCH, IN, LITERAL,
                           MAX_REPEAT, MIN_REPEAT, POSSESSIVE_REPEAT, RANGE, SUBPATTERN)
from typing import NamedTuple

import ahocorasick_rs
import orjson
import regex

from formats.base import MEMO_ENTRIES

from .errors import UsageError

# Device Detector's boundary (Parser/AbstractParser.php), prepended to each of its regexes.
DD_BOUNDARY = r"(?:^|[^A-Z0-9\-_]|[^A-Z0-9\-]_|sprd-|MZ-)"
DD_FLAGS = regex.IGNORECASE | regex.ASCII | regex.V0
OWN_LIST = "bots.txt"
LIBRARY = "Library"
CUSTOM = "Custom"
MIN_LITERAL = 3  # shorter literals would make nearly every agent a candidate


class Bot(NamedTuple):
    """What a matching rule says of an agent: its `name` (e.g. "GPTBot") and `category`
    (Device Detector's, e.g. "AI Data Scraper"; "Library" for libraries.yml; ours for bots.txt)."""
    name: str
    category: str

    def label(self) -> str:
        return "%s (%s)" % (self.name, self.category) if self.category else self.name


class BotListError(UsageError):
    """A bot pattern or list file that cannot be used (the message names the file and line)."""


# Literal extraction ----------------------------------------------------------------------------
_MAX_SET = 64  # alternatives kept per position before a literal run is given up


def _parse(pattern):
    try:
        tree = sre_parse.parse(pattern, re.IGNORECASE | re.ASCII)
    except (re.error, RecursionError, OverflowError):
        return None
    if tree.state.flags & ~(re.IGNORECASE | re.ASCII | re.UNICODE):
        return None  # inline flags ((?s), (?x), ...): not worth reading
    return tree


# What a literal found in an agent needs to be a match of the pattern it came from (bits).
AT_START = 1     # it starts the agent (the pattern begins with ^)
AT_FINISH = 2    # it ends the agent (the pattern ends with $)
BY_REGEX = 4     # the pattern's own regex must confirm it (it only narrows the candidates)


def literals_of(pattern: str, quick: bool = False) -> tuple[list[str] | None, int]:
    """(strings, how): lower-case ASCII strings at least one of which any match of `pattern`
    (searched case-insensitively) contains, and what else a match needs: 0 when the pattern is
    nothing but those strings (finding one is a match), AT_START / AT_FINISH when it is those
    strings between `^` and `$`, BY_REGEX when they only narrow the candidates. (None, BY_REGEX)
    when no such strings of MIN_LITERAL characters or more can be proven: the pattern must then
    be tried on every agent.

    A pattern of plain text (most of Device Detector's) is read as such; others through the
    stdlib's parse tree (`re._parser`): literals in sequence join into strings, alternations and
    small classes give sets, zero-width assertions join across, and any other item (wide classes,
    optional or repeated parts, back-references) ends a run. Of the runs of a sequence, the one
    whose shortest string is longest is kept. With `quick`, a pattern that starts with plain
    text is narrowed by that text, unparsed (cheaper to build, maybe less selective).
    """
    plain = _PLAIN.match(pattern)
    if plain and plain.end() == len(pattern) and pattern.isascii():
        text = lower_ascii(_UNESCAPE.sub(r"\1", pattern))
        return ([text], 0) if len(text) >= MIN_LITERAL else (None, BY_REGEX)
    if quick:
        head = pattern[1:] if pattern.startswith("^") else pattern
        lead = _PLAIN.match(head)
        if lead and head[lead.end():lead.end() + 1] in ("(", "[", ".", "\\") and head[:lead.end()].isascii():
            text = lower_ascii(_UNESCAPE.sub(r"\1", head[:lead.end()]))
            if len(text) >= MIN_LITERAL:
                return [text], BY_REGEX
    tree = _parse(pattern)
    if tree is None:
        return None, BY_REGEX
    items = list(tree)
    how = 0
    if items and items[0] == (AT, AT_BEGINNING):
        items, how = items[1:], how | AT_START
    if items and items[-1] == (AT, AT_END):
        items, how = items[:-1], how | AT_FINISH
    exact = _exact(items, pure=True)
    if exact is not None and min(len(s) for s in exact) >= MIN_LITERAL:
        return sorted(exact), how
    needed = _needed(tree)
    if needed is None or min(len(s) for s in needed) < MIN_LITERAL:
        return None, BY_REGEX
    return sorted(needed), BY_REGEX


_PLAIN = re.compile(r"(?:[^\\.^$*+?{}\[\]()|]|\\[^A-Za-z0-9])+")  # plain text: no operator; escaped punctuation
_UNESCAPE = re.compile(r"\\(.)")


def _exact(items, pure=False):
    """The finite set of strings a sequence of parse items matches exactly, or None. With
    `pure`, zero-width items (anchors, look-arounds) and groups with flags make it None."""
    strings = {""}
    for op, av in items:
        one = _exact_item(op, av, pure)
        if one is None:
            return None
        strings = {a + b for a in strings for b in one}
        if len(strings) > _MAX_SET:
            return None
    return strings


def _exact_item(op, av, pure=False):
    if op is LITERAL:
        return {_lower_ascii(av)} if av < 128 else None
    if op in (AT, ASSERT, ASSERT_NOT):
        return None if pure else {""}  # zero-width: the strings on either side are adjacent
    if op is IN:
        chars = set()
        for kind, value in av:
            if kind is LITERAL and value < 128:
                chars.add(_lower_ascii(value))
            elif kind is RANGE and value[1] < 128 and value[1] - value[0] < 16:
                chars.update(_lower_ascii(c) for c in range(value[0], value[1] + 1))
            else:  # NEGATE, CATEGORY (\d, \w...), wide or non-ASCII ranges
                return None
        return chars
    if op is SUBPATTERN:
        if pure and (av[1] or av[2]):
            return None  # (?-i:...) and the like
        return _exact(av[-1], pure)
    if op is ATOMIC_GROUP:
        return _exact(av, pure)
    if op is BRANCH:
        out = set()
        for alternative in av[1]:
            one = _exact(alternative, pure)
            if one is None:
                return None
            out |= one
        return out if len(out) <= _MAX_SET else None
    if op in (MAX_REPEAT, MIN_REPEAT, POSSESSIVE_REPEAT):
        low, high, sub = av
        if low == high and low <= 4:
            one = _exact(sub, pure)
            if one is None:
                return None
            out = {""}
            for _ in range(low):
                out = {a + b for a in out for b in one}
                if len(out) > _MAX_SET:
                    return None
            return out
    return None


def _lower_ascii(code):
    c = chr(code)
    return c.lower() if "A" <= c <= "Z" else c


def _better(a, b):
    """The more selective of two candidate sets: longest shortest string, then fewer strings."""
    if a is None:
        return b
    if b is None:
        return a
    ka = (min(len(s) for s in a), -len(a))
    kb = (min(len(s) for s in b), -len(b))
    return a if ka >= kb else b


def _needed(items):
    """A set of strings one of which any match of the sequence `items` contains, or None."""
    best = None
    run = {""}
    for op, av in items:
        one = _exact_item(op, av)
        if one is not None:
            joined = {a + b for a in run for b in one}
            if len(joined) <= _MAX_SET:
                run = joined
                continue
        if run != {""}:
            best = _better(best, run)
        run = {""}
        if one is not None:  # an exact item too wide to join: it starts the next run
            run = one
            continue
        best = _better(best, _needed_item(op, av))
    if run != {""}:
        best = _better(best, run)
    if best is not None and "" in best:
        return None
    return best


def _needed_item(op, av):
    if op is SUBPATTERN:
        return _needed(av[-1])
    if op is ATOMIC_GROUP:
        return _needed(av)
    if op is BRANCH:
        out = set()
        for alternative in av[1]:
            one = _needed(alternative)
            if one is None:
                return None
            out |= one
        return out
    if op in (MAX_REPEAT, MIN_REPEAT, POSSESSIVE_REPEAT) and av[0] >= 1:
        return _needed(av[2])
    return None  # ANY, NOT_LITERAL, CATEGORY, optional parts, back-references...


def alternatives(source: str) -> list[str]:
    """The top-level alternatives of a regex source (`a|b|(?:c|d)` -> a, b, (?:c|d)); a source
    that is one group around an alternation is opened (`(a|b)` -> a, b). A regex matches
    somewhere exactly when one of its alternatives does. Sources with back-references stay whole.
    """
    if "|" not in source or re.search(r"\\[1-9]|\(\?P=", source):
        return [source]
    parts = _split_top(source)
    if len(parts) == 1 and source.startswith("(") and _group_end(source) == len(source) - 1:
        inner = source[3:-1] if source.startswith("(?:") else (
            source[1:-1] if not source.startswith("(?") else None)
        if inner is not None:
            opened = _split_top(inner)
            if len(opened) > 1:
                return opened
    return parts


def _scan(source):
    """(index, char, depth) of the characters outside escapes and classes."""
    depth, i, n = 0, 0, len(source)
    while i < n:
        c = source[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            j = i + 1
            if j < n and source[j] == "^":
                j += 1
            if j < n and source[j] == "]":
                j += 1
            while j < n and source[j] != "]":
                j += 2 if source[j] == "\\" else 1
            i = j + 1
            continue
        if c == "(":
            yield i, c, depth
            depth += 1
        elif c == ")":
            depth -= 1
            yield i, c, depth
        else:
            yield i, c, depth
        i += 1


def _split_top(source):
    parts, last = [], 0
    for i, c, depth in _scan(source):
        if c == "|" and depth == 0:
            parts.append(source[last:i])
            last = i + 1
    parts.append(source[last:])
    return parts


def _group_end(source):
    for i, c, depth in _scan(source):
        if c == ")" and depth == 0:
            return i
    return -1


# Rules and the matcher -------------------------------------------------------------------------
class Rule:
    """One entry: a regex (searched case-insensitively; `boundary` prepends Device Detector's)
    or a plain case-insensitive substring (`regex_source` None), with the `Bot` it names.

    `name` may hold Device Detector's `$1` / `\\g<1>` references to the regex's groups.
    """
    __slots__ = ("substring", "regex_source", "name", "category", "boundary", "origin", "_compiled", "_bot")

    def __init__(self, name, category, regex_source=None, substring=None, boundary=False, origin=""):
        self.regex_source = regex_source
        self.substring = lower_ascii(substring) if substring is not None else None
        self.name = name
        self.category = category
        self.boundary = boundary
        self.origin = origin
        self._compiled = None
        self._bot = None if _GROUP_REF.search(name) else Bot(name, category)

    def compiled(self):
        if self._compiled is None:
            self._compiled = _compile(self.regex_source, self.boundary)
        return self._compiled

    def bot(self, ua):
        """The `Bot` this rule names for `ua`, which it matches."""
        if self._bot is not None:
            return self._bot
        m = self.compiled().search(ua)
        name = _GROUP_REF.sub(lambda r: (m.group(int(r.group(1) or r.group(2))) or "") if m else "", self.name)
        return Bot(name.strip() or "Generic Bot", self.category)


_GROUP_REF = re.compile(r"\$(\d)|\\g<(\d+)>")


def _compile(source, boundary):
    return regex.compile((DD_BOUNDARY + "(?:" + source + ")") if boundary else source, DD_FLAGS)


class _Part:
    """One top-level alternative of a rule's regex, compiled when first needed.

    An alternative that starts with `^` can only match at the agent's start, where Device
    Detector's boundary is its own `^`: it is matched there without the boundary (the same
    answer, without trying every position)."""
    __slots__ = ("rule", "source", "boundary", "_test")

    def __init__(self, rule, source, boundary):
        self.rule, self.source, self.boundary, self._test = rule, source, boundary, None

    def search(self, ua):
        test = self._test
        if test is None:
            if self.boundary and self.source.startswith("^"):
                test = self._test = _compile(self.source, False).match
            else:
                test = self._test = _compile(self.source, self.boundary).search
        return test(ua) is not None


_WORD = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
_WORD_NO_UNDERSCORE = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def lower_ascii(ua: str) -> str:
    """`ua` with A-Z lowered and nothing else changed (PCRE's /i case folding; same length)."""
    return ua.lower() if ua.isascii() else ua.translate(_ASCII_LOWER)


def _boundary_before(lowered, p):
    """Does Device Detector's boundary (?:^|[^A-Z0-9\\-_]|[^A-Z0-9\\-]_|sprd-|MZ-) end at p?"""
    if p == 0:
        return True
    c = lowered[p - 1]
    if c not in _WORD:
        return True
    if c == "_" and p >= 2 and lowered[p - 2] not in _WORD_NO_UNDERSCORE:
        return True
    return c == "-" and (lowered.endswith("sprd-", 0, p) or lowered.endswith("mz-", 0, p))


BOUNDARY = 8  # Device Detector's boundary must come just before it


class RuleSet:
    """Rules searched in order; one Aho-Corasick pass over an agent finds the candidates.

    Each rule's regex is split into its top-level alternatives (`alternatives`). An alternative
    that is only literals (`literals_of` says 0, AT_START or AT_FINISH) is confirmed where the
    automaton finds it, from the position alone (Device Detector's boundary before it, the
    agent's start or end): no regex runs. Any other is confirmed by its own regex, compiled on
    first use, when one of its literals occurs (or always, when it has none). `first_index(ua)`
    is the index of the first rule in list order that matches: what trying every rule in order
    would find.
    """

    def __init__(self, rules, quick=False):
        self.rules = list(rules)
        owners: dict[str, list] = {}
        whole: dict[str, int] = {}
        always = []
        for i, rule in enumerate(self.rules):
            if rule.regex_source is None:
                owners.setdefault(rule.substring, []).append((i, 0, None))
                continue
            for source, strings, how in _CACHE.analysis(rule.regex_source, quick):
                part = None
                if how & BY_REGEX:
                    part = _Part(rule, source, rule.boundary)
                    if strings is None:
                        always.append((i, part))
                        continue
                elif how == AT_START | AT_FINISH:  # the whole agent: looked up, not searched
                    for text in strings:
                        whole.setdefault(text, i)
                    continue
                elif rule.boundary and not how & AT_START:
                    how |= BOUNDARY  # after ^, Device Detector's boundary is its own ^
                for text in strings:
                    owners.setdefault(text, []).append((i, how, part))
        self.always = always  # alternatives with no literal to wait for: tried on every agent
        self._whole = whole  # agent (lowered) -> the first rule that is exactly it
        self._owners = [tuple(v) for v in owners.values()]
        self._find = ahocorasick_rs.AhoCorasick(list(owners), matchkind=ahocorasick_rs.MATCHKIND_STANDARD) \
            .find_matches_as_indexes if owners else None

    def first_index(self, ua, lowered=None):
        """The index of the first rule that matches `ua`, or None (`lowered`: lower_ascii(ua))."""
        if lowered is None:
            lowered = lower_ascii(ua)
        best = self._whole.get(lowered[:-1] if lowered[-1:] == "\n" else lowered) if self._whole else None
        pending = self.always[:] if self.always else None
        if self._find is not None:
            owners = self._owners
            n = len(lowered)
            for k, start, end in self._find(lowered, overlapping=True):
                for i, how, part in owners[k]:
                    if best is not None and i >= best:
                        continue
                    if how:
                        if how & BY_REGEX:
                            if pending is None:
                                pending = [(i, part)]
                            else:
                                pending.append((i, part))
                            continue
                        if how & AT_START and start:
                            continue
                        if how & AT_FINISH and end != n and not (end == n - 1 and lowered[-1] == "\n"):
                            continue
                        if how & BOUNDARY and not _boundary_before(lowered, start):
                            continue
                    best = i
        if pending is not None:
            if len(pending) > 1:
                pending.sort(key=_rule_index)
            for i, part in pending:
                if best is not None and i >= best:
                    break
                if part.search(ua):
                    return i
        return best

    def first(self, ua):
        """The `Bot` of the first rule that matches `ua`, or None."""
        i = self.first_index(ua)
        return None if i is None else self.rules[i].bot(ua)


def _rule_index(entry):
    return entry[0]


# Sources of rules ------------------------------------------------------------------------------
# Device Detector's client lists, in the order its ClientParser tries them (DeviceDetector.php):
# an agent that one of these names is that kind of client, not a library.
CLIENT_FILES = ("feed_readers.yml", "mobile_apps.yml", "mediaplayers.yml", "pim.yml", "browsers.yml")


@functools.cache
def _dd_root() -> str:
    spec = importlib.util.find_spec("device_detector")
    if spec is None or not spec.submodule_search_locations:
        raise BotListError("the device-detector package is not installed (pip install device-detector)")
    return os.path.join(spec.submodule_search_locations[0], "regexes", "upstream")


def _dd_path(*parts) -> str:
    """A file of the device-detector package's upstream regexes (the package is not imported:
    its own parsers are not used)."""
    return os.path.join(_dd_root(), *parts)


DD_FILES = {"bots": [("bots.yml",)], "libraries": [("client", "libraries.yml")],
            "clients": [("client", name) for name in CLIENT_FILES]}


def _dd_entries(*parts) -> list:
    """[(name, category, regex)] of one of Device Detector's files."""
    import yaml_rs
    path = _dd_path(*parts)
    try:
        with open(path, encoding="utf-8") as f:
            entries = yaml_rs.loads(f.read())
    except (OSError, ValueError) as e:
        raise BotListError("cannot read Device Detector's %s from the device-detector package: %s"
                           % ("/".join(parts), e)) from None
    return [(str(e.get("name") or ""), str(e.get("category") or ""), str(e["regex"])) for e in entries]


@functools.cache
def device_detector_rules(which: str) -> tuple[Rule, ...]:
    """Device Detector's entries as rules, in file order: which = "bots" (bots.yml), "libraries"
    (client/libraries.yml, category "Library") or "clients" (the CLIENT_FILES, category: the
    file). Raises BotListError when the package or its files are missing."""
    rules = []
    for parts in DD_FILES[which]:
        for name, category, source in _CACHE.entries(parts):
            if which == "bots":
                rule = Rule(name or "Generic Bot", category or "Bot", regex_source=source, boundary=True,
                            origin="bots.yml")
            elif which == "libraries":
                rule = Rule(name or LIBRARY, LIBRARY, regex_source=source, boundary=True, origin="libraries.yml")
            else:
                rule = Rule(name, parts[-1], regex_source=source, boundary=True, origin=parts[-1])
            rules.append(rule)
    return tuple(rules)


class _Cache:
    """What reading Device Detector's YAML and analysing its regexes (alternatives, literals)
    gives, kept between runs in $XDG_CACHE_HOME/log-importer (else ~/.cache/log-importer) as one
    JSON file named by a hash of the paths, sizes and modification times of the files it was read
    from and of bots.txt: upgrading the package, or editing bots.txt, makes a new one. A missing, unreadable or
    unwritable cache only costs the time to build it again (~0.05 CPU s)."""

    FORMAT = 1

    def __init__(self):
        self._entries: dict = {}
        self._analysis: dict = {}
        self._key = None
        self._loaded = False
        self.dirty = False

    def key(self) -> str:
        if self._key is None:
            import hashlib
            h = hashlib.sha256(b"%d" % self.FORMAT)
            paths = [_dd_path(*parts) for files in DD_FILES.values() for parts in files]
            for path in paths + [os.path.join(os.path.dirname(os.path.abspath(__file__)), OWN_LIST)]:
                try:
                    st = os.stat(path)
                    h.update(("%s %d %d\n" % (path, st.st_size, st.st_mtime_ns)).encode())
                except OSError:
                    h.update(("%s -\n" % path).encode())
            self._key = h.hexdigest()[:16]
        return self._key

    def path(self) -> str:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return os.path.join(base, "log-importer", "bot-rules-%s.json" % self.key())

    def _load(self):
        self._loaded = True
        try:
            with open(self.path(), "rb") as f:
                data = orjson.loads(f.read())
            entries = {tuple(k.split("/")): [tuple(e) for e in v] for k, v in data["entries"].items()}
            analysis = {(s, bool(q)): [(p, x, h) for p, x, h in parts] for s, q, parts in data["analysis"]}
        except (OSError, ValueError, KeyError, TypeError, BotListError):
            return
        self._entries.update(entries)
        self._analysis.update(analysis)

    def entries(self, parts) -> list:
        if not self._loaded:
            self._load()
        found = self._entries.get(parts)
        if found is None:
            found = self._entries[parts] = _dd_entries(*parts)
            self.dirty = True
        return found

    def analysis(self, source: str, quick: bool) -> list:
        """[(alternative, strings, how)] of a regex source: `alternatives` and `literals_of`."""
        if not self._loaded:
            self._load()
        found = self._analysis.get((source, quick))
        if found is None:
            found = [(part,) + literals_of(part, quick) for part in alternatives(source)]
            self._analysis[source, quick] = found
            self.dirty = True
        return found

    def save(self):
        """Write the cache when something was built (atomically; errors are ignored)."""
        if not self.dirty:
            return
        self.dirty = False
        try:
            path = self.path()
            os.makedirs(os.path.dirname(path), exist_ok=True)
            own = {r.regex_source for rules in own_list() for r in rules}
            known = own | {source for entries in self._entries.values() for _, _, source in entries}
            data = {"entries": {"/".join(k): v for k, v in self._entries.items()},  # not the operator's patterns
                    "analysis": [[s, q, parts] for (s, q), parts in self._analysis.items() if s in known]}
            tmp = "%s.%d.tmp" % (path, os.getpid())
            with open(tmp, "wb") as f:
                f.write(orjson.dumps(data))
            os.replace(tmp, path)
        except (OSError, BotListError):
            pass


_CACHE = _Cache()


@functools.cache
def client_rules() -> RuleSet:
    """Device Detector's feed readers, mobile apps, media players, PIM and browsers: consulted
    only for agents a library rule matched (built on first use; `quick` literals: it is large)."""
    return RuleSet(device_detector_rules("clients"), quick=True)


def parse_list(text: str, origin: str, category: str = CUSTOM, check: bool = True) -> tuple[list[Rule], list[Rule]]:
    """A bot list (bots.txt, --bot-list FILE): (bot rules, not-bot rules), in file order.

    One pattern a line: a case-insensitive substring, or `re:` and a regular expression (searched
    anywhere, case-insensitively); `!` first makes it a not-bot pattern. A bot pattern may be
    followed by ` | NAME | CATEGORY`. Blank lines and lines starting with `#` are skipped.
    Raises BotListError naming the line of a bad pattern.
    """
    bots, not_bots = [], []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = "%s line %d" % (origin, n)
        negate = line.startswith("!")
        if negate:
            line = line[1:].strip()
        fields = [f.strip() for f in line.split(" | ")]
        if len(fields) not in (1, 3) or (negate and len(fields) != 1):
            raise BotListError("%s: expected PATTERN%s, got %r" % (
                where, "" if negate else " or PATTERN | NAME | CATEGORY", raw.strip()))
        rule = pattern_rule(fields[0], where, fields[1] if len(fields) == 3 else None,
                            fields[2] if len(fields) == 3 else category, check)
        (not_bots if negate else bots).append(rule)
    return bots, not_bots


def pattern_rule(pattern: str, origin: str, name=None, category=CUSTOM, check=True) -> Rule:
    """One operator pattern: `re:REGEX` or a substring. Raises BotListError for a bad regex
    (with `check`, the regex is compiled now; else on first use)."""
    if pattern.startswith("re:"):
        source = pattern[3:]
        rule = Rule(name or source, category, regex_source=source, origin=origin)
        try:
            if check:
                rule.compiled()
        except regex.error as e:
            raise BotListError("%s: invalid regular expression %r: %s" % (origin, source, e)) from None
        return rule
    if not pattern:
        raise BotListError("%s: empty pattern" % origin)
    return Rule(name or pattern, category, substring=pattern, origin=origin)


@functools.cache
def own_list() -> tuple[tuple[Rule, ...], tuple[Rule, ...]]:
    """The project's own list (bots.txt beside this module): (bot rules, not-bot rules)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), OWN_LIST)
    with open(path, encoding="utf-8") as f:
        bots, not_bots = parse_list(f.read(), OWN_LIST, category="Bot", check=False)  # tests compile them
    return tuple(bots), tuple(not_bots)


class BotOptions(NamedTuple):
    """The options that shape bot detection (hashable: the rules are built once per process)."""
    useragent_excludes: tuple = ()          # --useragent-exclude substrings
    useragent_exclude_regexes: tuple = ()   # --useragent-exclude-regex
    bot_lists: tuple = ()                   # paths of --bot-list files
    not_bots: tuple = ()                    # --not-bot patterns
    as_matomo: bool = False                 # --bots-as-matomo

    @classmethod
    def of(cls, config) -> BotOptions:
        return cls(tuple(config.useragent_excludes), tuple(config.useragent_exclude_regexes),
                   tuple(config.bot_lists), tuple(config.not_bots), config.bots_as_matomo)


class Rules(NamedTuple):
    """The rules of one set of options: `bots` in naming order (Device Detector's bots.yml,
    bots.txt, the operator's, libraries.yml, which start at `first_library`), and `not_bots`."""
    bots: RuleSet
    first_library: int
    not_bots: RuleSet | None


@functools.lru_cache(maxsize=8)
def rules_for(options: BotOptions) -> Rules:
    """The rules for these options, built once per process (in the parent before the workers
    fork, when the command line is checked, so that they share it).

    Raises BotListError for an unreadable --bot-list file or a bad pattern (the message says
    which), or when the device-detector package is missing.
    """
    user, not_bots = [], []
    for s in options.useragent_excludes:
        if s:
            user.append(Rule(s, CUSTOM, substring=s, origin="--useragent-exclude"))
    for source in options.useragent_exclude_regexes:
        user.append(pattern_rule("re:" + source, "--useragent-exclude-regex"))
    for path in options.bot_lists:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as e:
            raise BotListError("cannot read --bot-list %s: %s" % (path, e)) from None
        bots, nots = parse_list(text, path)
        user += bots
        not_bots += nots
    for p in options.not_bots:
        not_bots.append(pattern_rule(p, "--not-bot", "not a bot", ""))
    rules = list(device_detector_rules("bots"))
    if not options.as_matomo:
        own_bots, own_not_bots = own_list()
        rules += own_bots
        not_bots = list(own_not_bots) + not_bots
    rules += user
    first_library = len(rules)
    if not options.as_matomo:
        rules += device_detector_rules("libraries")
    return Rules(RuleSet(rules), first_library, RuleSet(not_bots) if not_bots else None)


def prepare(config) -> Rules:
    """Check and build the bot rules of a run's options (and, unless --bots-as-matomo, Device
    Detector's client lists) in this process, so that workers forked afterwards share them.
    Raises BotListError (a UsageError) for a bad pattern or list file."""
    rules = rules_for(BotOptions.of(config))
    if not config.bots_as_matomo:
        client_rules()
    _CACHE.save()
    return rules


class BotClassifier:
    """decide(user_agent) -> a `Bot`, or False; one decision per distinct agent (memoised).

    A libraries.yml match counts only when Device Detector would call the agent a library: when
    none of its earlier client lists (feed readers, mobile apps, media players, PIM, browsers)
    names it, e.g. `newsbeuter/2.4 ... libcurl/7.22.0` is a feed reader. `memo` is the table of
    decisions (the classification closure reads it and calls `decide` only on a miss); `hits`
    counts the hits of bots per `Bot`, skipped (or imported, with --enable-bots), as the
    closure classifies them, for the summary's top bots.
    """

    def __init__(self, options: BotOptions = BotOptions()):
        self.options = options
        self._rules: Rules | None = None
        self.memo: dict = {}
        self.hits: dict = {}

    def decide(self, user_agent: str):
        rules = self._rules or self._load()
        lowered = lower_ascii(user_agent)
        i = rules.bots.first_index(user_agent, lowered)
        if i is not None and i >= rules.first_library and client_rules().first_index(user_agent, lowered) is not None:
            i = None
        if i is None or rules.not_bots is not None and rules.not_bots.first_index(user_agent, lowered) is not None:
            bot = False
        else:
            bot = rules.bots.rules[i].bot(user_agent)
        memo = self.memo
        if len(memo) > MEMO_ENTRIES:
            memo.clear()
        memo[user_agent] = bot
        return bot

    def _load(self):
        self._rules = rules_for(self.options)
        return self._rules

    def bot_of(self, user_agent: str):
        """The `Bot` of an agent, or False (memoised)."""
        found = self.memo.get(user_agent)
        return self.decide(user_agent) if found is None else found

    def take_hits(self) -> dict:
        """{(name, category): hits} counted since the last call; counting starts afresh."""
        counts = {tuple(bot): n for bot, n in self.hits.items()}
        self.hits.clear()
        return counts


_matomo = BotClassifier(BotOptions(as_matomo=True))


def matomo_is_bot(user_agent: str) -> bool:
    """Matomo's own rule (`VisitExcluded::isNonHumanBot`, without its bot IP ranges): does
    Device Detector's bots.yml match the agent? curl, Java and other libraries are not bots."""
    return bool(_matomo.bot_of(user_agent or ""))
