import subprocess
import sys
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"

TOKEN = "0123456789abcdef0123456789abcdef"
WRITE_TOKEN = "feedfacefeedfacefeedfacefeedface"
SITES = {1: "https://www.example.com", 2: ["http://blog.example.org"]}
COMBINED_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
CLI = str(Path(sys.executable).parent / "log-importer")  # the console script, as users run it


def cli(args, timeout=120, **kw):
    """Run the console script `log-importer` in a subprocess; (exit status, stdout + stderr)."""
    proc = subprocess.run([CLI] + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, cwd=ROOT, timeout=timeout, **kw)
    return proc.returncode, proc.stdout


def unordered(items) -> list:
    """Items in one canonical order, to compare what the endpoint received with what a test
    expects: with several senders (--recorders auto, the default) the hits of different visitors
    reach Matomo in any order; each visitor's hits keep their log order (test_pacing_http.py and
    test_import_http.py check that)."""
    return sorted(items, key=lambda x: orjson.dumps(x, option=orjson.OPT_SORT_KEYS))


def process_lines(lines, fmt_name="ncsa_extended", site=None, partitions=1, **options):
    """Run lines through the chunk stage; return (result, [request dicts in log order])."""
    import formats
    from log_importer import chunks
    from log_importer.config import Config

    config = Config(**options)
    fmt = formats.REGISTRY[fmt_name] if isinstance(fmt_name, str) else fmt_name
    if fmt.regex is None:
        fmt = formats.resolve(config, lines)
    site = site or chunks.Site(1, "https://www.example.com")
    sites = chunks.SiteMap(static=site) if isinstance(site, chunks.Site) else site
    data = "".join(text + "\n" for text in lines).encode("utf-8", "surrogateescape")
    task = chunks.ChunkTask(0, 0, 0, data, fmt, sites, partitions)
    result = chunks.ChunkProcessor(config).process(task)
    requests = []
    for part in result.parts:
        if part is not None:
            body, ends, offsets, idxs = part
            requests += [(idx, orjson.loads(b"[" + body[:-1] + b"]")[k]) for k, idx in enumerate(idxs)]
    requests.sort(key=lambda x: x[0])
    return result, [r for _, r in requests]


def line(ip="192.0.2.1", date="01/Mar/2026:10:00:00 +0100", request="GET /docs/install HTTP/1.1",
         status=200, size=5120, referrer="-", ua=COMBINED_UA, host=None):
    text = '%s - - [%s] "%s" %s %s "%s" "%s"' % (ip, date, request, status, size, referrer, ua)
    return ("%s:443 %s" % (host, text)) if host else text


@pytest.fixture
def loggen(tmp_path):
    """Generate a log with the project's generator: loggen(lines, seed, fmt, hostile) -> Path."""
    from log_importer.loggen import generate

    def make(lines=1000, seed=1, fmt="combined", hostile=False, name=None):
        path = tmp_path / (name or "gen-%d-%d-%s%s.log" % (lines, seed, fmt, "-h" if hostile else ""))
        with open(path, "wb") as f:
            for text in generate(lines, fmt, seed, hostile):
                f.write(text + b"\n")
        return path
    return make


@pytest.fixture(autouse=True)
def _private_state_dir(tmp_path, monkeypatch):
    """Import positions and caches go to a per-test directory, never to the user's own; the
    user's own ~/.config/log-importer/config.toml is never read."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # and the bot rules' cache (bots.py)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.fixture(autouse=True)
def _no_secrets_from_other_tests():
    """Secrets registered by an earlier test's run (a password "wrong") are not hidden in this one's
    output: each run in a process starts with none, as a real run does."""
    from log_importer import redaction
    redaction.forget_all()


@pytest.fixture
def endpoint():
    """Start embedded endpoints (issue 3) on 127.0.0.1: endpoint(**options); all stopped after the test."""
    from log_importer.endpoint import Endpoint
    started = []

    def make(**kw):
        options = dict(token=TOKEN, sites=SITES, users={"admin": "secret"}, write_tokens={WRITE_TOKEN: [1]})
        options.update(kw)
        ep = Endpoint(**options).start()
        started.append(ep)
        return ep
    yield make
    for ep in started:
        ep.stop()


@pytest.fixture(autouse=True)
def _every_summary_adds_up(monkeypatch):
    """Every summary the test suite produces adds up (summary_check.py): the runs in this process
    through the summary's renderer and --summary-json's data, the runs in a subprocess through
    the output their tests capture (Popen.communicate, which subprocess.run uses too; tests that
    read a pipe themselves call summary_check.check_text)."""
    import summary_check
    from log_importer import finishing
    texts, data = [], []
    real_render, real_data = finishing.render, finishing.summary_data
    real_communicate = subprocess.Popen.communicate

    def render(*args, **kwargs):
        texts.append(real_render(*args, **kwargs))
        return texts[-1]

    def summary_data(*args, **kwargs):
        data.append(real_data(*args, **kwargs))
        return data[-1]

    def communicate(self, *args, **kwargs):
        result = real_communicate(self, *args, **kwargs)
        for part in result:
            if part:
                texts.append(part if isinstance(part, str) else part.decode("utf-8", "replace"))
        return result
    monkeypatch.setattr(finishing, "render", render)
    monkeypatch.setattr(finishing, "summary_data", summary_data)
    monkeypatch.setattr(subprocess.Popen, "communicate", communicate)
    yield
    for text in texts:
        summary_check.check_text(text)
    for d in data:
        summary_check.check_json(d)
