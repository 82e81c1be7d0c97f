"""`make demo` runs end to end: imports the fixtures into the embedded endpoint and shows the report."""
import subprocess
import sys

from conftest import ROOT


def test_demo_imports_the_fixtures_and_prints_the_report():
    proc = subprocess.run([sys.executable, "-m", "log_importer.demo"], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.count("Logs import summary") == 2
    assert "requests imported successfully" in out and "0 requests imported successfully" not in out
    for site in ("site 1:", "site 2:", "site 3:"):
        assert site in out
    assert "Endpoint stopped." in out
    assert "<token>" in out  # the token is never printed
