"""Bots (issue 12): how well each rule scores on the labelled agents, and what the importer's rule
costs on a log with many distinct agents. `make bench` prints both (benchmarks/run.py); alone:

    .venv/bin/python benchmarks/bots_bench.py [--log FILE] [--lines 1000000] [--agents 20000]
                                              [--workers 2] [--import-cpu SECONDS]

Scores: precision and recall of each rule on tests/labelled_agents.tsv (a bot is the positive
class): the importer's rule (log_importer/bots.py), Matomo's (Device Detector's bots.yml alone),
bots.yml with libraries.yml, and the reference importer's 29 substrings.

Cost: the log's lines are cut into chunks as the importer cuts them, and chunk k goes to worker
k mod --workers (log_importer/workers.py), so each simulated worker decides each distinct agent
of its own chunks once, as a real worker does. Measured with CPU time in this process:
- the parent's build of the rules (`bots.prepare`: Device Detector's YAML, literal extraction,
  the automata), once per run, before the workers fork; imports are timed apart;
- each worker's decisions on a fresh copy of the rules (their regexes compile lazily, as in a
  worker), with the cost per new agent, for people and for bots;
- the reference's substring rule on the same decisions, for comparison.
With --import-cpu (the CPU seconds of a dry import of that log; run.py passes its "dry-agents"
scenario's median), the share of the import's CPU.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

import children  # benchmarks/children.py

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
LABELLED = os.path.join(ROOT, "tests", "labelled_agents.tsv")


def labelled():
    """[(is_bot, kind, agent)] of tests/labelled_agents.tsv."""
    rows = []
    with open(LABELLED, encoding="utf-8") as f:
        for text in f:
            if text.startswith("#") or not text.strip():
                continue
            label, kind, _, agent = text.rstrip("\n").split("\t")
            rows.append((label == "bot", kind, agent))
    return rows


def rules_to_compare():
    """name -> is_bot(agent), for the scores table."""
    from log_importer import bots as B
    from log_importer.config import BOT_SUBSTRINGS
    ours = B.BotClassifier(B.BotOptions())
    matomo = B.RuleSet(B.device_detector_rules("bots"))
    with_libraries = B.RuleSet(B.device_detector_rules("bots") + B.device_detector_rules("libraries"))
    reference = re.compile("|".join(re.escape(s) for s in BOT_SUBSTRINGS))
    return {
        "the importer's rule (default)": lambda ua: bool(ours.decide(ua)),
        "Matomo's rule: bots.yml (--bots-as-matomo)": lambda ua: matomo.first_index(ua) is not None,
        "bots.yml + libraries.yml": lambda ua: with_libraries.first_index(ua) is not None,
        "the reference's 29 substrings": lambda ua: reference.search(ua.lower()) is not None,
    }


def scores() -> list[str]:
    rows = labelled()
    bots = sum(1 for b, _, _ in rows if b)
    out = ["labelled agents: %d (%d bots, %d people), tests/labelled_agents.tsv" % (len(rows), bots, len(rows) - bots),
           "%-44s %9s %7s %4s %4s  %s" % ("rule", "precision", "recall", "FP", "FN", "misses, by kind")]
    for name, is_bot in rules_to_compare().items():
        tp = fp = fn = 0
        missed: dict = {}
        for bot, kind, ua in rows:
            got = is_bot(ua)
            if got and bot:
                tp += 1
            elif got:
                fp += 1
                missed["person:" + kind] = missed.get("person:" + kind, 0) + 1
            elif bot:
                fn += 1
                missed[kind] = missed.get(kind, 0) + 1
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        worst = ", ".join("%s %d" % kv for kv in sorted(missed.items(), key=lambda kv: -kv[1])[:5])
        out.append("%-44s %8.1f%% %6.1f%% %4d %4d  %s" % (name, 100 * precision, 100 * recall, fp, fn, worst))
    return out


# Cost -------------------------------------------------------------------------------------------
def agents_per_worker(path: str, workers: int, chunk_bytes: int) -> tuple[list[list[str]], int]:
    """Each worker's distinct agents in the order it meets them, and the log's distinct agents."""
    seen = [dict() for _ in range(workers)]
    every = set()
    with open(path, "rb") as f:
        data = f.read()
    pos, k = 0, 0
    while pos < len(data):
        end = data.rfind(b"\n", pos, pos + chunk_bytes) + 1
        if end <= pos:
            end = len(data)
        mine = seen[k % workers]
        for line in data[pos:end].split(b"\n"):
            parts = line.rsplit(b'"', 2)
            if len(parts) == 3:
                ua = parts[1].decode("utf-8", "replace")
                mine[ua] = None
                every.add(ua)
        pos, k = end, k + 1
    return [list(s) for s in seen], len(every)


def build_seconds() -> dict:
    """CPU seconds a fresh process pays: importing what bots.py adds (regex, ahocorasick_rs and
    itself; the rest the importer imports anyway) and bots.prepare, with no cache ("cold": the
    first run on a machine, or after an upgrade of device-detector) and with it ("warm")."""
    code = ("import time, formats, orjson, log_importer.config; t0 = time.process_time(); "
            "import log_importer.bots as B; t1 = time.process_time(); "
            "B.prepare(log_importer.config.Config()); t2 = time.process_time(); print(t1 - t0, t2 - t1)")
    import tempfile
    best: dict = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, XDG_CACHE_HOME=cache)
        for _ in range(3):
            for state in ("cold", "warm"):
                if state == "cold":
                    for name in os.listdir(cache):
                        subprocess.run(["rm", "-rf", os.path.join(cache, name)], check=True)
                out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                                     env=env, check=True)
                imports, build = map(float, out.stdout.split())
                if state not in best or imports + build < sum(best[state]):
                    best[state] = (imports, build)
    return {"imports": best["warm"][0], "build": best["warm"][1], "build_cold": best["cold"][1]}


def cost(log_path: str, workers: int = 2, chunk_bytes: int = 1 << 19) -> dict:
    from log_importer import bots as B
    from log_importer.config import BOT_SUBSTRINGS
    per_worker, distinct = agents_per_worker(log_path, workers, chunk_bytes)
    lines = 0
    with open(log_path, "rb") as f:
        for block in iter(lambda: f.read(1 << 24), b""):
            lines += block.count(b"\n")
    r = {"lines": lines, "distinct": distinct, "decisions": sum(map(len, per_worker)), "workers": workers}
    r.update(build_seconds())
    decide_s, person_s, bot_s, persons, bots, compiled = 0.0, 0.0, 0.0, 0, 0, 0
    clock = time.process_time
    for agents in per_worker:
        # A fresh copy of the rules, as a forked worker has: built, nothing compiled yet.
        B.rules_for.cache_clear()
        B.client_rules.cache_clear()
        B.prepare(_config())
        c = B.BotClassifier(B.BotOptions())
        decide = c.decide
        t_start = clock()
        for ua in agents:
            t0 = clock()
            found = decide(ua)
            dt = clock() - t0
            if found:
                bot_s += dt
                bots += 1
            else:
                person_s += dt
                persons += 1
        decide_s += clock() - t_start
        rules = B.rules_for(B.BotOptions())
        compiled += sum(1 for _, part in rules.bots.always if part._test is not None)
        compiled += sum(1 for owners in rules.bots._owners for _, _, part in owners
                        if part is not None and part._test is not None)
    # the loop above times each call too (clock overhead): time it once more without
    t_plain = 0.0
    for agents in per_worker:
        B.rules_for.cache_clear()
        B.client_rules.cache_clear()
        B.prepare(_config())
        decide = B.BotClassifier(B.BotOptions()).decide
        t0 = clock()
        for ua in agents:
            decide(ua)
        t_plain += clock() - t0
    reference = re.compile("|".join(re.escape(s) for s in BOT_SUBSTRINGS))
    t0 = clock()
    for agents in per_worker:
        memo = {}
        for ua in agents:
            memo[ua] = reference.search(ua.lower()) is not None
    r.update(decide=t_plain, per_person_us=1e6 * person_s / max(1, persons), per_bot_us=1e6 * bot_s / max(1, bots),
             persons=persons, bots=bots, compiled_parts=compiled, reference=clock() - t0)
    r["total"] = r["build"] + r["imports"] + r["decide"]
    r["total_cold"] = r["build_cold"] + r["imports"] + r["decide"]
    return r


def _config():
    from log_importer.config import Config
    return Config()


def cost_lines(r: dict, import_cpu: float | None = None) -> list[str]:
    per_m = 1e6 / r["lines"]
    out = [
        "log: %s lines, %s distinct agents; %d workers make %s decisions (each decides the agents of its own chunks)"
        % (f"{r['lines']:,}", f"{r['distinct']:,}", r["workers"], f"{r['decisions']:,}"),
        "parent, once per run: imports %.3f CPU s (regex, ahocorasick_rs, bots.py), building the rules %.3f CPU s "
        "from the cache (%.3f CPU s without it: the first run on a machine, or after an upgrade)"
        % (r["imports"], r["build"], r["build_cold"]),
        "workers: %.3f CPU s for all decisions = %.2f us per decision; per new agent %.2f us for a person (%s), "
        "%.2f us for a bot (%s); %d regexes compiled lazily in all"
        % (r["decide"], 1e6 * r["decide"] / max(1, r["decisions"]), r["per_person_us"], f"{r['persons']:,}",
           r["per_bot_us"], f"{r['bots']:,}", r["compiled_parts"]),
        "total: %.3f CPU s = %.3f CPU s per 1M lines (the reference's 29 substrings on the same decisions: %.3f CPU s)"
        % (r["total"], r["total"] * per_m, r["reference"]),
    ]
    if import_cpu:
        share = r["total"] / import_cpu
        out.append("%s share of the import's CPU: %.3f of %.2f CPU s = %.2f%% (target < 2%%; %.2f%% on a first "
                   "run, without the cache)" % ("MET    " if share < 0.02 else "NOT MET", r["total"], import_cpu,
                                                100 * share, 100 * r["total_cold"] / import_cpu))
    return out


def main(argv=None):
    children.install()  # stopped by a signal, it leaves nothing running
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--log", help="a generated log (default: generate --lines with --agents)")
    p.add_argument("--lines", type=int, default=1_000_000)
    p.add_argument("--agents", type=int, default=20_000, help="distinct agents per million lines")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--import-cpu", type=float, help="CPU seconds of a dry import of the log, for the share")
    a = p.parse_args(argv)
    print("BOTS: scores on the labelled agents")
    for text in scores():
        print("  " + text)
    path = a.log
    if path is None:
        from run import ensure_log
        path = ensure_log(a.lines, 1, "combined", agents=a.agents)
    print("BOTS: cost")
    for text in cost_lines(cost(path, a.workers), a.import_cpu):
        print("  " + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
