"""Fixtures: an endpoint on 127.0.0.1 (stopped after each test) and an httpx client for it."""
from __future__ import annotations

import httpx
import pytest

from log_importer.endpoint import Endpoint

from .calls import SITES, TOKEN, WRITE_TOKEN


@pytest.fixture
def make_endpoint():
    """Start endpoints with the default test setup plus overrides; stop them all afterwards."""
    started = []

    def make(**kw):
        options = dict(token=TOKEN, sites=SITES, users={"admin": "secret"},
                       write_tokens={WRITE_TOKEN: [1]}, goals={1: [1]})
        options.update(kw)
        ep = Endpoint(**options)
        ep.start()
        started.append(ep)
        return ep

    yield make
    for ep in started:
        ep.stop()


@pytest.fixture
def ep(make_endpoint):
    return make_endpoint()


@pytest.fixture
def client(ep):
    with httpx.Client(base_url=ep.url, timeout=10) as c:
        yield c
