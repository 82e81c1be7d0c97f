"""Option errors in argparse's style, saying what was expected, with the closest option or value
(option_errors.py), through the console script."""
import pytest

from conftest import cli
from log_importer.option_errors import explain


@pytest.mark.parametrize("args,message", [
    (["--recorders", "four", "x.log"],
     "argument --recorders: expected a whole number of at least 1, or auto, not 'four' (did you mean --recorders 4?)"),
    (["--dryrun", "x.log"], "unrecognized arguments: --dryrun (did you mean --dry-run?)"),
    (["--request-timeout", "1,5", "x.log"],
     "argument --request-timeout: expected a number (0 or more), not '1,5' (did you mean --request-timeout 1.5?)"),
    (["--idsite", "one", "x.log"], "argument --idsite: expected a whole number, not 'one' (did you mean --idsite 1?)"),
])
def test_option_errors_say_what_was_expected_and_suggest(args, message):
    code, text = cli(args)
    assert code == 2
    assert text == "usage: log-importer [options] FILE [FILE ...]\nlog-importer: error: %s\n" % message


@pytest.mark.parametrize("args,message", [
    (["--dry-run", "--log-format-name", "nginx_jsn", "x.log"],
     "unknown --log-format-name 'nginx_jsn' (did you mean nginx_json?); known: "),
    (["--dry-run", "--encoding", "latin-1x", "x.log"], "unknown --encoding 'latin-1x' (did you mean latin_1"),
])
def test_values_out_of_a_list_get_the_closest_names(args, message):
    code, text = cli(args)
    assert code == 2 and text.startswith("log-importer: error: " + message), text


def test_a_config_file_key_gets_the_closest_option(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[log-importer]\ndryrun = true\n")
    code, text = cli(["--config-file", str(config), "x.log"])
    assert code == 2
    assert text == ("log-importer: error: --config-file %s: unknown option 'dryrun' (did you mean --dry-run?)\n"
                    % config)


def test_messages_argparse_does_not_know_are_kept():
    assert explain("the following arguments are required: FILE", ["--url"]) == \
        "the following arguments are required: FILE"
    assert explain("argument --x: invalid weird value: 'y'", ["--x"]) == "argument --x: invalid value 'y'"


def test_a_path_pattern_without_its_leading_slash_is_warned_about(tmp_path, loggen):
    """The trial: --include-path 'docs/*' excluded every line, silently."""
    from conftest import cli
    log = loggen(200, seed=3)
    code, text = cli(["--dry-run", "--include-path", "docs/*", "--exclude-path", "/ok/*", log])
    assert code == 0, text
    assert "WARNING: --include-path 'docs/*': logged paths start with / (/docs/page), so this pattern matches none " \
           "of them: did you mean '/docs/*'?" in text
    assert "--exclude-path '/ok/*'" not in text
