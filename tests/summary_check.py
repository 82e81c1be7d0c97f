"""The summary's arithmetic, checked on every summary the test suite produces (conftest.py's
`_every_summary_adds_up` hands each one here).

Rules, from log_importer/summary.py's docstring:
- a line ends with a colon only when its parts follow, indented (no dangling colon);
- a line that starts with a number and ends with a colon is the sum of its parts: of the numbers
  its parts start with (at most, for a list of the ones seen "most"), or, when its parts are
  names (hosts, sites), their count;
- the time split adds up to the total time; the sites imported to are those that existed and
  those created; the requests imported to sites are the requests imported;
- --summary-json: every line read is accounted for once, and every hit built too.
"""
import re

NUMBER = re.compile(r"^(-?[\d,]+) ")
HEADERS = ("Hits Matomo refused", "Logs import summary", "Why lines were invalid", "Website import summary",
           "Performance summary", "Processing your log data", "How to continue")


def _number(text):
    m = NUMBER.match(text)
    return int(m.group(1).replace(",", "")) if m else None


def summaries(text: str) -> list:
    """The summaries in `text` (a run's output, messages and all), each as its list of lines."""
    lines = text.splitlines()
    found = []
    i = 0
    while i < len(lines):
        if lines[i].startswith("Logs import summary"):
            start = i - 5 if i >= 5 and lines[i - 5] == "Hits Matomo refused" else i
            j = i + 1
            while j < len(lines):
                line = lines[j]
                if line.startswith(" ") or line == "" or set(line) == {"-"} or line.startswith(HEADERS[2:]):
                    j += 1
                    continue
                break
            found.append(lines[start:j])
            i = j
        else:
            i += 1
    return found


def _indent(line):
    return len(line) - len(line.lstrip(" "))


def check_text(text: str) -> int:
    """Assert the rules on every summary in `text`; return how many there were."""
    blocks = summaries(text)
    for block in blocks:
        check_summary(block)
    return len(blocks)


def _sections(body: list) -> dict:
    """Section title -> its lines (the underlines left out)."""
    out, title = {}, None
    for line in body:
        if line in HEADERS or any(line.startswith(h + " (") for h in HEADERS):
            title = line.split(" (")[0]
            out[title] = []
        elif title is not None:
            out[title].append(line)
    return out


def _parts(body: list, k: int) -> list:
    """The lines one level below body[k], up to the next line at its level or above."""
    line = body[k]
    nxt = body[k + 1] if k + 1 < len(body) else ""
    parts = []
    for later in body[k + 1:]:
        if _indent(later) <= _indent(line):
            break
        if _indent(later) == _indent(nxt):
            parts.append(later.strip())
    return parts


def check_summary(lines: list):
    body = [ln for ln in lines if ln.strip() and not set(ln.strip()) == {"-"}]
    where = "\n".join(lines)
    for k, line in enumerate(body):  # no dangling colon, anywhere
        nxt = body[k + 1] if k + 1 < len(body) else ""
        if line.rstrip().endswith(":"):
            assert _indent(nxt) > _indent(line) and nxt.strip(), "dangling colon: %r\n%s" % (line, where)
    sections = _sections(body)
    for title in ("Logs import summary", "Website import summary"):  # the account: parts add up
        part = sections.get(title, [])
        for k, line in enumerate(part):
            total = _number(line.strip())
            parts = _parts(part, k)
            if total is None or not line.rstrip().endswith(":") or not parts:
                continue
            numbers = [_number(p) for p in parts]
            if all(n is not None for n in numbers):
                if "most" in line:
                    assert sum(numbers) <= total, "%r: its parts add up to %d\n%s" % (line, sum(numbers), where)
                else:
                    assert sum(numbers) == total, "%r: its parts add up to %d\n%s" % (line, sum(numbers), where)
            else:
                assert all(n is None for n in numbers), "%r: parts of two kinds %r" % (line, parts)
                assert len(parts) == total, "%r: %d parts listed\n%s" % (line, len(parts), where)
    invalid = sections.get("Why lines were invalid", [])
    for k, line in enumerate(invalid):  # "x.log: 4,112 of 4,113 lines are invalid": its reasons add up
        m = re.search(r": ([\d,]+) of ([\d,]+) lines are invalid", line)
        if m:
            numbers = [_number(p) for p in _parts(invalid, k)]
            assert sum(n for n in numbers if n is not None) == _number(m.group(1) + " "), where
    text = "\n".join(body)
    m = re.search(r"Total time: ([\d.]+) seconds((?:\n {8}.*: [\d.]+ s \(\d+%\))*)", text)
    assert m, "no time split:\n" + where
    split = [float(x) for x in re.findall(r": ([\d.]+) s \(", m.group(2))]
    assert split and abs(sum(split) - float(m.group(1))) < 1e-6, "the time split does not add up:\n" + where
    assert "Bottleneck: " in text
    imported = re.search(r"\n {8}([\d,]+) requests imported successfully", text)
    to_sites = re.search(r"\n {4}([\d,]+) requests (?:imported|would be imported) to (\d+) sites", text)
    if to_sites:
        if imported:
            assert to_sites.group(1) == imported.group(1), where
        existed = re.search(r"\n {4}(\d+) sites already existed", text)
        created = re.search(r"\n {4}(\d+) sites were created", text)
        assert int(existed.group(1)) + int(created.group(1)) == int(to_sites.group(2)), where
    twice = re.search(r"at most ([\d,]+) hits may be sent twice: (.*)", text)
    if twice:  # the bound is the sum of its reasons
        reasons = [_number(r.strip() + " ") for r in twice.group(2).split("; ")]
        assert sum(reasons) == _number(twice.group(1) + " "), where


def check_json(data: dict):
    """Assert --summary-json's account: lines, hits and time add up."""
    assert data["schema_version"] == 1
    skipped = sum(data["skipped"].values())
    assert data["lines_read"] == (data["hits_built"] + skipped + data["lines_skipped_option"]
                                  + data["comment_lines"]), data
    if not data["dry_run"]:
        assert data["hits_built"] == (data["tracked"] + data["rejected"] + data["unconfirmed"]
                                      + data["not_confirmed"]), data
    assert abs(sum(data["time"].values()) - data["seconds"]) < 0.01, data
    if data["dry_run"]:
        assert data["hits_sent"] == data["tracked"] == data["requests"] == data["not_confirmed"] == 0, data
    assert data["may_be_sent_twice"] == data["confirmed_ahead"] + data["unanswered_pending"], data
    assert data["unanswered_pending"] <= data["not_confirmed"] and data["confirmed_ahead"] <= data["tracked"], data
