"""The suite itself: no test reaches a real Hub or any host but this one, whatever the developer's environment."""

from __future__ import annotations

import os
import socket

import pytest

from tests.conftest import NO_HUB, NetworkRefused


@pytest.fixture(scope="session")
def seen_by_a_session_fixture() -> dict:
    """What a session-scoped fixture (the shared demo builds are ones) sees of the Hub settings."""
    return {k: os.environ.get(k) for k in (*NO_HUB, "HF_HUB_OFFLINE")}


def test_session_fixtures_see_the_closed_endpoint_not_the_developers(seen_by_a_session_fixture):
    from huggingface_hub import constants

    assert seen_by_a_session_fixture == {**NO_HUB, "HF_HUB_OFFLINE": None}
    assert NO_HUB["HF_ENDPOINT"] == constants.ENDPOINT  # read once, when huggingface_hub was imported


def test_the_hub_client_cannot_reach_a_real_endpoint():
    from huggingface_hub import HfApi

    with pytest.raises(Exception) as default:  # the closed local port: refused at once
        HfApi().model_info("gpt2")
    assert "127.0.0.1:9" in str(default.value) or "onnect" in type(default.value).__name__
    with pytest.raises(Exception) as explicit:  # even a test that names the real Hub
        HfApi(endpoint="https://huggingface.co", token=False).model_info("gpt2")
    chain, exc = [], explicit.value
    while exc is not None:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    assert any(isinstance(e, NetworkRefused) for e in chain), chain


def test_no_socket_leaves_this_machine():
    with pytest.raises(NetworkRefused):
        socket.create_connection(("huggingface.co", 443), timeout=1)
    with pytest.raises(NetworkRefused):
        socket.socket().connect(("8.8.8.8", 53))
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    with server, socket.create_connection(server.getsockname(), timeout=1):
        pass  # loopback is what the suite's own servers use


def test_processes_the_suite_starts_get_the_closed_endpoint():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", "import huggingface_hub.constants as c; print(c.ENDPOINT)"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert out.stdout.strip() == NO_HUB["HF_ENDPOINT"]
