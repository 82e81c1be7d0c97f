"""Connections that cannot be opened before anything is sent fail at once and say what was tried;
a wait of more than 2 s says what it waits for. Through the console script, over real sockets."""
import socket
import time

from conftest import TOKEN, cli, line


def test_a_refused_connection_fails_at_once_and_says_what_was_tried(tmp_path):
    log = tmp_path / "access.log"
    log.write_text(line() + "\n")
    began = time.monotonic()
    code, text = cli(["--url", "http://127.0.0.1:9", "--token-auth", TOKEN, "--idsite", 1, log])
    assert code == 2 and time.monotonic() - began < 10  # not after 3 attempts 10 and 20 s apart
    assert text == ("log-importer: error: cannot reach the Matomo API at http://127.0.0.1:9/index.php: the "
                    "connection to 127.0.0.1 port 9 was refused: nothing listens there (is the web server "
                    "running, is the port right?); check --url / --api-url\n")


def test_an_unknown_host_fails_at_once(tmp_path):
    log = tmp_path / "access.log"
    log.write_text(line() + "\n")
    code, text = cli(["--url", "http://matomo.invalid", "--token-auth", TOKEN, "--idsite", 1, log])
    assert code == 2 and len(text.splitlines()) == 1
    assert "cannot reach the Matomo API at http://matomo.invalid/index.php: the host name matomo.invalid was " \
           "not found (DNS: " in text and "check --url" in text


def test_a_connection_nobody_answers_gives_up_after_the_connect_timeout_and_says_so(tmp_path):
    """A listening socket whose backlog is full drops new connections, as a firewall does."""
    log = tmp_path / "access.log"
    log.write_text(line() + "\n")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fill = []
    for _ in range(3):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fill.append(s)
    try:
        code, text = cli(["--url", "http://127.0.0.1:%d" % port, "--token-auth", TOKEN, "--idsite", 1,
                          "--connect-timeout", "2.5", "--request-timeout", 600, log])
    finally:
        for s in fill + [server]:
            s.close()
    assert code == 2, text
    lines = text.splitlines()
    # the wait was announced after 2 s, with what it waits for and for how long at most
    assert lines[0] == ("log-importer: INFO: waiting for the Matomo API at http://127.0.0.1:%d/index.php to "
                        "answer API.getMatomoVersion (2.5 s to connect, then up to --request-timeout=600 s)" % port)
    assert lines[1] == ("log-importer: error: cannot reach the Matomo API at http://127.0.0.1:%d/index.php: the "
                        "connection to 127.0.0.1 port %d got no answer within 2.5 s (--connect-timeout): a firewall "
                        "that drops it, or a wrong address; check --url / --api-url" % (port, port))
    assert len(lines) == 2


def test_a_slow_tracker_check_says_what_it_waits_for(endpoint, tmp_path):
    ep = endpoint(delay_ms=2600)  # every tracking call, the pre-flight's first
    log = tmp_path / "access.log"
    log.write_text(line() + "\n")
    code, text = cli(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--request-timeout", 30, log])
    assert code == 0, text
    assert text.startswith("log-importer: INFO: waiting for the tracker at %s/piwik.php to answer an empty bulk "
                           "request (5 s to connect, then up to --request-timeout=30 s)\n" % ep.url)
