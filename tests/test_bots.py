"""Which user agents are bots (log_importer/bots.py): Device Detector's rules, decided exactly,
the importer's own list, the options, and what the classifier counts."""
import glob
import os

import pytest
import regex

from conftest import line, process_lines
from log_importer import bots as B
from log_importer import classify as C
from log_importer.cli import config_from_args
from log_importer.errors import UsageError

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0.0.0 Safari/537.36")
GPTBOT = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)"


def decide(ua, **options):
    return B.BotClassifier(B.BotOptions(**options)).decide(ua)


# Literals ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("pattern, strings, how", [
    ("rogerbot", ["rogerbot"], 0),
    (r"AddThis\.com", ["addthis.com"], 0),
    (r"(?:lib)?curl(?:/(\d+[.\d]+))?", ["curl"], B.BY_REGEX),
    (r"Python-urllib3?(?:/?(\d+[.\d]+))?", ["python-urllib"], B.BY_REGEX),
    (r"(?<!HTC)[ _]Butterfly/", [" butterfly/", "_butterfly/"], B.BY_REGEX),
    (r"^(?:chrome|firefox|Node\.js)$", ["chrome", "firefox", "node.js"], B.AT_START | B.AT_FINISH),
    (r"^Lavf/", ["lavf/"], B.AT_START),
    (r"facebook(?:catalog|externalhit)", ["facebookcatalog", "facebookexternalhit"], 0),
    (r"Baidu.*spider", ["spider"], B.BY_REGEX),
    (r"Java/?(\d+[.\d]+)", ["java"], B.BY_REGEX),
    (r"(?>abc)x", ["abcx"], 0),
    (r"[a-z0-9_-]*(?:(?<!cu)bot(?![ _]TAB)|analyzer)(?:[^a-z]|$)", ["analyzer", "bot"], B.BY_REGEX),
    (r"Go", None, B.BY_REGEX),        # too short to narrow anything: tried on every agent
    (r"[A-z0-9]*x", None, B.BY_REGEX),
])
def test_literals_any_match_must_contain(pattern, strings, how):
    assert B.literals_of(pattern) == (strings, how)


@pytest.mark.parametrize("source, parts", [
    ("a|b|c", ["a", "b", "c"]),
    ("(a|b)", ["a", "b"]),
    ("(?:a|b)", ["a", "b"]),
    ("(a|b)c", ["(a|b)c"]),
    (r"x\|y|[|]z|(?:p|q)", [r"x\|y", "[|]z", "(?:p|q)"]),
    (r"(a)|\1", [r"(a)|\1"]),  # a back-reference keeps the regex whole
])
def test_alternatives(source, parts):
    assert B.alternatives(source) == parts


def test_boundary_is_device_detectors():
    rules = B.RuleSet([B.Rule("Cubot", "x", regex_source="bot", boundary=True)])
    assert rules.first_index("Mozilla/5.0 (Linux; Android 10; CUBOT J9)") is None
    for ua in ("bot/1", "a bot", "x;bot", "sprd-bot", "MZ-bot", "a._bot", "a _bot"):
        assert rules.first_index(ua) == 0, ua
    for ua in ("abot", "a-bot", "a9bot", "a_bot", "a-_bot"):
        assert rules.first_index(ua) is None, ua


# Device Detector's own fixtures -----------------------------------------------------------------
def _fixtures():
    import yaml_rs
    spec = __import__("importlib.util").util.find_spec("device_detector")
    root = os.path.join(spec.submodule_search_locations[0], "tests", "fixtures", "upstream")
    agents = []
    for path in sorted(glob.glob(os.path.join(root, "*.yml"))):
        for e in yaml_rs.loads(open(path, encoding="utf-8").read()) or []:
            if e.get("user_agent") is not None:
                client = e.get("client") if isinstance(e.get("client"), dict) else {}
                agents.append((str(e["user_agent"]), e.get("bot"), client.get("type"), os.path.basename(path)))
    return agents


FIXTURES = _fixtures()


def test_the_package_ships_its_fixtures():
    assert len(FIXTURES) > 30000 and sum(1 for _, bot, _, _ in FIXTURES if bot) > 1000


def test_bots_yml_decides_every_fixture_as_device_detector_does():
    """Every agent of Device Detector's fixtures: a bot exactly when its bots.yml says so, with
    the name and category it gives."""
    rules = B.RuleSet(B.device_detector_rules("bots"))
    wrong = []
    for ua, bot, _, where in FIXTURES:
        got = rules.first(ua)
        want = B.Bot(str(bot["name"]), str(bot.get("category") or "Bot")) if bot else None
        if got != want:
            wrong.append((where, ua, got, want))
    assert wrong == []


def test_the_prefilter_finds_what_trying_every_rule_finds():
    """The Aho-Corasick pre-filter and the literal shortcuts against the plain rule (each regex,
    with Device Detector's boundary, tried in file order) on a sample of the fixtures."""
    rules = B.device_detector_rules("bots") + B.device_detector_rules("libraries")
    fast = B.RuleSet(rules)
    slow = [regex.compile(B.DD_BOUNDARY + "(?:" + r.regex_source + ")", B.DD_FLAGS) for r in rules]
    sample = [ua for k, (ua, bot, kind, _) in enumerate(FIXTURES) if bot or kind == "library" or k % 25 == 0]
    assert len(sample) > 2500
    for ua in sample:
        want = next((i for i, r in enumerate(slow) if r.search(ua)), None)
        assert fast.first_index(ua) == want, ua


def test_libraries_are_what_device_detector_calls_libraries():
    """A libraries.yml agent is a bot unless Device Detector names an earlier kind of client
    (feed reader, mobile app, media player, PIM, browser). The Python port's fixtures add a type of
    their own, "p2p", that Matomo's Device Detector does not have: libraries.yml decides there."""
    classifier = B.BotClassifier(B.BotOptions())
    own_bots, own_not_bots = B.own_list()
    own = B.RuleSet(own_bots + own_not_bots)
    wrong = []
    for ua, bot, kind, where in FIXTURES:
        if bot or own.first_index(ua) is not None:
            continue  # bots.yml (above), or the importer's own list (headless, WhatsApp, media players)
        got = classifier.decide(ua)
        if bool(got) != (kind == "library") and kind != "p2p":
            wrong.append((where, kind, ua, got))
    assert wrong == []
    assert decide("newsbeuter/2.4 (Linux 3.2.0-23-generic; i686; http://www.newsbeuter.org/) libcurl/7.22.0") is False
    assert decide("curl/7.68.0") == B.Bot("curl", "Library")


# The importer's rule ----------------------------------------------------------------------------
@pytest.mark.parametrize("ua, name, category", [
    (GPTBOT, "GPTBot", "AI Data Scraper"),
    ("python-requests/2.32.3", "Python Requests", "Library"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.109 "
     "Safari/537.36", "Headless Chrome", "Headless Browser"),
    ("WhatsApp/2.23.20.0", "WhatsApp", "Social Media Agent"),
    ("Zabbix", "Zabbix", "Site Monitor"),
    ("Mozilla/5.0 (compatible; 360Spider-Image)", "360Spider-Image", "Search bot"),  # named by its regex
])
def test_bots_and_their_names(ua, name, category):
    assert decide(ua) == B.Bot(name, category)


@pytest.mark.parametrize("ua", [
    CHROME,
    "Mozilla/5.0 (Linux; Android 10; CUBOT J9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/88.0.4324.152 "
    "Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; Spider 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "FeedDemon/4.5 (http://www.feeddemon.com/; Microsoft Windows)",
    "Yandex.Music/2019-11-01.trunk.5885661",
    "AppleCoreMedia/1.0.0.20E252 (iPhone; U; CPU OS 16_4_1 like Mac OS X; en_us)",
    "Lavf/58.76.100",
    "GStreamer souphttpsrc 1.18.4 libsoup/2.72.0",
])
def test_people(ua):
    assert decide(ua) is False


def test_matomos_rule_is_bots_yml_only():
    assert B.matomo_is_bot(GPTBOT)
    assert B.matomo_is_bot("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)")
    for ua in ("curl/8.5.0", "Java/1.8.0_151", "python-requests/2.32.3", CHROME, "WhatsApp/2.23.20.0", ""):
        assert not B.matomo_is_bot(ua), ua


# Options ----------------------------------------------------------------------------------------
def test_useragent_exclude_keeps_its_substring_meaning():
    assert decide("Mozilla/5.0 AcmeWatch/1.0", useragent_excludes=("acmewatch",)) == B.Bot("acmewatch", "Custom")
    assert decide("Mozilla/5.0 AcmeWatch/1.0 ([x])", useragent_excludes=("([x])",))  # not a regex
    assert decide(CHROME, useragent_excludes=("chrome/131",))


def test_useragent_exclude_regex():
    options = dict(useragent_exclude_regexes=(r"^Mozilla/5\.0 \(compatible; Acme\d+\)$",))
    assert decide("Mozilla/5.0 (compatible; ACME42)", **options)
    assert not decide("Mozilla/5.0 (compatible; Acme42) extra", **options)


def test_bot_list_file(tmp_path):
    path = tmp_path / "bots.txt"
    path.write_text("# ours\n\nInternalPing | Internal ping | Site Monitor\nre:^acme-[0-9]+/\n"
                    "! Mozilla/5.0 (Linux; Android 14; Pixel 8) AcmeApp\n")
    options = dict(bot_lists=(str(path),))
    assert decide("InternalPing/2 (ops)", **options) == B.Bot("Internal ping", "Site Monitor")
    assert decide("ACME-7/1.0", **options) == B.Bot("^acme-[0-9]+/", "Custom")
    # a not-bot line wins over any list: here bots.yml's generic "checker"
    assert decide("Mozilla/5.0 (Linux; Android 14; Pixel 8) AcmeApp checker/1", **options) is False
    assert decide("Mozilla/5.0 (Linux; Android 14; Pixel 8) OtherApp checker/1", **options)


@pytest.mark.parametrize("text, message", [
    ("re:([unclosed\n", "line 1: invalid regular expression"),
    ("ok\nA | B\n", "line 2: expected PATTERN or PATTERN | NAME | CATEGORY"),
    ("!x | y | z\n", "line 1: expected PATTERN,"),
])
def test_bot_list_errors_name_the_line(tmp_path, text, message):
    path = tmp_path / "list.txt"
    path.write_text(text)
    with pytest.raises(UsageError, match=message):
        config_from_args(["--dry-run", "--bot-list", str(path), "access.log"])


def test_bad_options_stop_before_the_run(tmp_path):
    with pytest.raises(UsageError, match="cannot read --bot-list"):
        config_from_args(["--dry-run", "--bot-list", str(tmp_path / "missing.txt"), "x.log"])
    with pytest.raises(UsageError, match="--useragent-exclude-regex: invalid regular expression"):
        config_from_args(["--dry-run", "--useragent-exclude-regex", "a(", "x.log"])
    with pytest.raises(UsageError, match="--bot-dimension needs --enable-bots"):
        config_from_args(["--dry-run", "--bot-dimension", "3", "x.log"])


def test_not_bot_overrides_a_false_positive():
    ua = "Mozilla/5.0 (Linux; Android 14) AcmeBrowser/2.0 bot-free"
    assert decide(ua, useragent_excludes=("acmebrowser",))
    assert decide(ua, useragent_excludes=("acmebrowser",), not_bots=("AcmeBrowser/",)) is False
    assert decide("curl/8.5.0", not_bots=("re:^curl/",)) is False


def test_bots_as_matomo_uses_bots_yml_and_your_own_patterns_only():
    assert decide("curl/8.5.0", as_matomo=True) is False
    assert decide("WhatsApp/2.23.20.0", as_matomo=True) is False
    assert decide(GPTBOT, as_matomo=True) == B.Bot("GPTBot", "AI Data Scraper")
    assert decide("curl/8.5.0", as_matomo=True, useragent_excludes=("curl",))


# In the import ----------------------------------------------------------------------------------
def test_each_agent_is_decided_once_and_regexes_compile_only_when_needed():
    classifier = C.Classifier(C.Config())
    bots = classifier.bots
    calls = []
    decide_ = bots.decide
    bots.decide = lambda ua: calls.append(ua) or decide_(ua)
    classifier.classify = classifier._classifier()
    info = classifier.path_info("/docs/x")
    for ua in [CHROME, GPTBOT, CHROME, "curl/8.5.0", GPTBOT, CHROME]:
        classifier.classify(info, None, "200", ua, "2026-03-01 10:00:00")
    assert calls == [CHROME, GPTBOT, "curl/8.5.0"]
    rules = B.rules_for(bots.options).bots
    compiled = sum(1 for _, part in rules.always if part._test is not None)
    assert compiled == len(rules.always) <= 2  # almost every rule is found by its literals


def test_bots_are_counted_by_name_per_chunk_skipped_or_imported():
    lines = [line(ua=GPTBOT), line(ua=GPTBOT), line(ua="curl/8.5.0"), line(), line(status=404, ua=GPTBOT)]
    result, requests = process_lines(lines)
    assert len(requests) == 1
    assert result.counts[C.BOT] == 3
    assert result.bots == {("GPTBot", "AI Data Scraper"): 2, ("curl", "Library"): 1}
    result, requests = process_lines(lines, enable_bots=True)  # the 404 is skipped as an HTTP error first
    assert len(requests) == 4 and result.bots == {("GPTBot", "AI Data Scraper"): 2, ("curl", "Library"): 1}


def test_enable_bots_keeps_the_reference_labels_and_bot_dimension_names_the_bot():
    _, reqs = process_lines([line(ua=GPTBOT), line()], enable_bots=True, bot_dimension=4)
    bot, person = reqs
    assert bot["bots"] == "1" and person["bots"] == "1"
    assert bot["_cvar"] == '{"1": ["Bot", "%s"]}' % GPTBOT
    assert person["_cvar"].startswith('{"1": ["Not-Bot", ')
    assert bot["dimension4"] == "GPTBot (AI Data Scraper)"
    assert "dimension4" not in person
    _, [req] = process_lines([line(ua=GPTBOT)], enable_bots=True)
    assert not any(k.startswith("dimension") for k in req)


# The labelled list ------------------------------------------------------------------------------
def test_labelled_agents_precision_and_recall_are_100_percent():
    """tests/labelled_agents.tsv: people of every kind (in-app browsers, TVs, consoles, feed
    readers, media players, look-alikes) and bots of every kind. benchmarks/bots_bench.py prints
    the scores of this rule and of the others."""
    import sys
    sys.path.insert(0, str(os.path.join(os.path.dirname(__file__), "..", "benchmarks")))
    import bots_bench
    rows = bots_bench.labelled()
    assert len(rows) >= 300
    kinds = {kind for _, kind, _ in rows}
    for kind in ("in-app browser", "smart TV", "console", "feed reader", "media player", "look-alike",
                 "search engine", "AI crawler", "SEO crawler", "link preview", "monitor", "library",
                 "headless", "scanner", "feed fetcher"):
        assert kind in kinds
    classifier = B.BotClassifier(B.BotOptions())
    wrong = [(bot, kind, ua) for bot, kind, ua in rows if bool(classifier.decide(ua)) != bot]
    assert wrong == []
    lines = bots_bench.scores()
    assert "100.0%  100.0%    0    0" in next(x for x in lines if x.startswith("the importer's rule"))


def test_the_analysis_is_cached_between_runs(tmp_path):
    """A second process reads Device Detector's entries and their literals from the cache and
    decides the same; a damaged cache file is rebuilt."""
    import subprocess
    import sys
    code = ("import log_importer.bots as B; from log_importer.config import Config; B.prepare(Config()); "
            "c = B.BotClassifier(B.BotOptions()); "
            "import sys; print('yaml read' if 'yaml_rs' in sys.modules else 'cached', "
            "[tuple(c.decide(u) or ()) for u in %r])" % ([GPTBOT, CHROME, "curl/8.5.0", "WhatsApp/2.23.20.0"],))
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path))
    run = lambda: subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    first = run().stdout
    assert first.startswith("yaml read") and "GPTBot" in first
    [cache] = (tmp_path / "log-importer").iterdir()
    assert cache.name.startswith("bot-rules-") and cache.stat().st_size > 100_000
    assert run().stdout == first.replace("yaml read", "cached")
    cache.write_text("{not json")
    assert run().stdout == first
    assert run().stdout == first.replace("yaml read", "cached")


def test_the_summary_lists_the_top_bots_skipped_by_name(loggen, tmp_path):
    from log_importer.cli import main
    log = loggen(4000, seed=2)
    out, summary = tmp_path / "out.txt", tmp_path / "summary.json"
    assert main(["--dry-run", "--workers", "2", "--output", str(out), "--summary-json", str(summary), str(log)]) == 0
    text = out.read_text()
    start = text.index("requests done by bots")
    block = text[start:].splitlines()
    assert "; the 10 bots skipped most (of " in block[0] and block[0].endswith(" seen):")
    rows = [row.split(None, 1) for row in block[1:11]]
    assert all(row.startswith(" " * 16) for row in block[1:11]) and not block[11].startswith(" " * 16)
    counts = [int(n.replace(",", "")) for n, _ in rows]
    assert counts == sorted(counts, reverse=True) and rows[0][1] == "Googlebot (Search bot)"
    import json
    data = json.loads(summary.read_text())
    assert data["top_bots_skipped"][0] == {"name": "Googlebot", "category": "Search bot", "hits": counts[0]}
    assert sum(b["hits"] for b in data["top_bots_skipped"]) <= data["skipped"]["bot"]


def test_with_enable_bots_the_summary_says_how_many_hits_imported_are_bots(loggen, tmp_path):
    """The trial: 53 imported, 30 of them bots, and nothing said so."""
    from log_importer.cli import main
    import json
    log = loggen(4000, seed=2)
    runs = {}
    for name, extra in (("skip", []), ("import", ["--enable-bots"])):
        out, summary = tmp_path / (name + ".txt"), tmp_path / (name + ".json")
        assert main(["--dry-run", "--output", str(out), "--summary-json", str(summary)] + extra + [str(log)]) == 0
        runs[name] = out.read_text(), json.loads(summary.read_text())
    skipped = runs["skip"][1]["skipped"]["bot"]
    text, data = runs["import"]
    assert skipped > 100 and data["skipped"]["bot"] == 0 and data["top_bots_skipped"] == []
    assert data["bots_imported"] == skipped  # the same hits, imported instead of skipped
    assert data["hits_built"] == runs["skip"][1]["hits_built"] + skipped
    assert ", %s of them bots" % "{:,}".format(skipped) in text
    assert "\n    %s of the requests to import are bots (--enable-bots: sent with bots=1); the 10 bots seen most (of" \
        % "{:,}".format(skipped) in text
    assert data["top_bots_imported"] == runs["skip"][1]["top_bots_skipped"]
