"""Trusted publishing end to end: OIDC id tokens exchanged at the local hub, the demo published keyless.

Id tokens are signed with a test key (hubkit.testing.oidc); the hub verifies them with PyJWT, the
client side is huggingface_hub's own exchange.
"""

from __future__ import annotations

import os
import shutil
import time

import pytest

from hubkit.errors import UsageError
from hubkit.hub.auth import Credentials, hf_api
from hubkit.testing.oidc import OidcIssuer, github_claims
from tests.conftest import HubProcess, copy_demo, run_cli, run_cli_process

RULE = {"repository": "acme/hubkit", "ref": "refs/tags/v*", "environment": "hub"}


@pytest.fixture(scope="module")
def issuer():
    return OidcIssuer()


def trusted_hub(tmp_path, issuer, lifetime=3600, jwks=None) -> HubProcess:
    port_hub = HubProcess(tmp_path / "hub-data")
    trust = issuer.trust_file(tmp_path / "trust.yaml", port_hub.url, RULE, ["hubkit-demo"], jwks=jwks,
                              lifetime=lifetime)  # fmt: skip
    port_hub.extra = ("--trust", str(trust))
    return port_hub.start()


@pytest.fixture
def thub(tmp_path, issuer):
    h = trusted_hub(tmp_path, issuer)
    yield h
    h.stop()


def exchange(hub, id_token, resource):
    from huggingface_hub._oidc import exchange_oidc_token

    return exchange_oidc_token(subject_token=id_token, resource=resource, endpoint=hub.url)


def test_minted_token_writes_its_one_repo_and_nothing_else(thub, issuer):
    from huggingface_hub.errors import HfHubHTTPError

    answer = exchange(thub, issuer.mint(thub.url), "datasets/hubkit-demo/data")
    assert answer["token_type"] == "bearer" and 0 < answer["expires_in"] <= 3600
    api = hf_api(thub.url, answer["access_token"])
    api.create_repo("hubkit-demo/data", repo_type="dataset", private=True)
    api.upload_file(path_or_fileobj=b"hello", path_in_repo="a.txt", repo_id="hubkit-demo/data", repo_type="dataset")
    assert api.list_repo_files("hubkit-demo/data", repo_type="dataset") == [".gitattributes", "a.txt"]
    with pytest.raises(HfHubHTTPError) as err:  # same namespace, another repo
        api.create_repo("hubkit-demo/other", repo_type="dataset")
    assert err.value.response.status_code == 403 and "may write datasets/hubkit-demo/data only" in str(err.value)
    with pytest.raises(HfHubHTTPError) as err:  # same name, another repo type
        api.create_repo("hubkit-demo/data")
    assert err.value.response.status_code == 403
    # The private repo is visible to its token, hidden from everyone else.
    assert list(hf_api(thub.url, None).list_datasets(author="hubkit-demo")) == []
    assert [d.id for d in api.list_datasets(author="hubkit-demo")] == ["hubkit-demo/data"]


REFUSALS = {
    "another repository": (lambda i, h: i.mint(h.url, github_claims(repository="mallory/fork")),
                           "hubkit-demo/m", "no trusted publisher matches"),
    "a branch, not a tag": (lambda i, h: i.mint(h.url, github_claims(ref="refs/heads/main")),
                            "hubkit-demo/m", "no trusted publisher matches"),
    "another namespace": (lambda i, h: i.mint(h.url), "someone-else/m", "may write namespaces ['hubkit-demo']"),
    "a bad signature": (lambda i, h: i.mint(h.url, key=OidcIssuer()._key), "hubkit-demo/m",
                        "signature does not verify"),
    "another audience": (lambda i, h: i.mint("https://huggingface.co"), "hubkit-demo/m", "audience is not"),
    "an expired token": (lambda i, h: i.mint(h.url, issued=time.time() - 3600, lifetime=600), "hubkit-demo/m",
                         "has expired"),
    "another issuer": (lambda i, h: OidcIssuer(issuer="https://evil.example").mint(h.url), "hubkit-demo/m",
                       "is not trusted"),
    "not a JWT": (lambda i, h: "not-a-jwt-at-all", "hubkit-demo/m", "not a JWT"),
    "not a repo": (lambda i, h: i.mint(h.url), "hubkit-demo", "expected a repo"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(REFUSALS))
def test_exchange_refusals_are_one_line_without_the_token(thub, issuer, case, monkeypatch):
    make, resource, reason = REFUSALS[case]
    id_token = make(issuer, thub)
    monkeypatch.setenv("HF_OIDC_ID_TOKEN", id_token)
    monkeypatch.setenv("HF_OIDC_RESOURCE", resource.split("/")[0])
    creds = Credentials(thub.url)
    repo_type, repo_id = "model", resource if "/" in resource else f"{resource}/x"
    if case == "not a repo":  # the server check, reached directly (hubkit itself always asks for a repo)
        from huggingface_hub.errors import HfHubHTTPError

        with pytest.raises(HfHubHTTPError) as raw:
            exchange(thub, id_token, resource)
        assert raw.value.response.status_code == 400 and reason in raw.value.response.headers["X-Error-Message"]
        return
    with pytest.raises(UsageError) as err:
        creds.api(repo_type, repo_id)
    msg = str(err.value)
    assert "\n" not in msg and reason in msg and "(400)" in msg, msg
    assert id_token not in msg and id_token[:20] not in msg


def test_minted_token_stops_working_after_its_lifetime(tmp_path, issuer, monkeypatch):
    from huggingface_hub.errors import HfHubHTTPError

    hub = trusted_hub(tmp_path, issuer, lifetime=2)
    try:
        token = exchange(hub, issuer.mint(hub.url), "hubkit-demo/short")["access_token"]
        hf_api(hub.url, token).create_repo("hubkit-demo/short")
        time.sleep(2.5)
        with pytest.raises(HfHubHTTPError) as err:
            hf_api(hub.url, token).upload_file(path_or_fileobj=b"x", path_in_repo="x", repo_id="hubkit-demo/short")
        assert err.value.response.status_code == 401 and "expired" in str(err.value)
        # hubkit's credentials exchange again before expiry: a long run keeps working.
        monkeypatch.setenv("HF_OIDC_RESOURCE", "hubkit-demo")
        monkeypatch.setenv("HF_OIDC_ID_TOKEN", issuer.mint(hub.url))
        creds = Credentials(hub.url)
        first = creds.token("model", "hubkit-demo/short")
        assert creds.token("model", "hubkit-demo/short") == first  # cached while fresh
        time.sleep(2)
        second = creds.token("model", "hubkit-demo/short")
        assert second != first
        hf_api(hub.url, second).upload_file(path_or_fileobj=b"y", path_in_repo="y", repo_id="hubkit-demo/short")
    finally:
        hub.stop()


def test_resource_outside_the_scope_stops_before_any_exchange(thub, issuer, monkeypatch):
    monkeypatch.setenv("HF_OIDC_RESOURCE", "hubkit-demo/one-model")
    monkeypatch.setenv("HF_OIDC_ID_TOKEN", issuer.mint(thub.url))
    with pytest.raises(UsageError, match="does not cover datasets/hubkit-demo/data"):
        Credentials(thub.url).token("dataset", "hubkit-demo/data")


def test_trust_file_errors_are_one_line(tmp_path):
    bad = tmp_path / "trust.yaml"
    bad.write_text("issuers: []\npublishers: []\n")
    r = run_cli("hub", "serve", "--root", str(tmp_path / "h"), "--trust", str(bad), env={"HUBKIT_HUB_TOKEN": "t" * 12})
    assert r.returncode != 0 and "trust.yaml: issuers: " in r.stderr and "Traceback" not in r.stderr, r.stderr
    bad.write_text("issuers:\n- {issuer: x, audience: y, jwks: missing.json}\npublishers:\n"
                   "- {issuer: x, claims: {repository: a/b}, namespaces: [a]}\n")  # fmt: skip
    r = run_cli("hub", "serve", "--root", str(tmp_path / "h"), "--trust", str(bad), env={"HUBKIT_HUB_TOKEN": "t" * 12})
    assert r.returncode != 0 and "missing.json: JWKS file not found" in r.stderr and "Traceback" not in r.stderr


def test_exchange_without_trust_says_how_to_enable_it(hub, issuer):
    from huggingface_hub.errors import HfHubHTTPError

    with pytest.raises(HfHubHTTPError) as err:
        exchange(hub, issuer.mint(hub.url), "hubkit-demo/x")
    assert "--trust" in err.value.response.headers["X-Error-Message"]


def test_xet_clients_are_told_to_disable_xet(hub):
    import httpx

    r = httpx.get(f"{hub.url}/api/models/hubkit-demo/x/xet-write-token/main", headers={"authorization": "Bearer t"})
    assert r.status_code == 501 and "HF_HUB_DISABLE_XET=1" in r.headers["X-Error-Message"]


@pytest.fixture(scope="module")
def built(fixture_demo, tmp_path_factory):
    return copy_demo(fixture_demo, tmp_path_factory.mktemp("built") / "demo", ".hubkit")


def secret_free(folder, *secrets_):
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(s.encode() in data for s in secrets_), path


def test_publish_the_demo_with_trusted_publishing_and_no_stored_token(built, tmp_path, issuer):
    project = tmp_path / "p"
    shutil.copytree(built, project)
    hub = trusted_hub(tmp_path, issuer)
    try:
        id_token = issuer.mint(hub.url)
        env = {"HF_OIDC_RESOURCE": "hubkit-demo", "HF_OIDC_ID_TOKEN": id_token, "HF_TOKEN": "", "HF_ENDPOINT": hub.url}
        r = run_cli_process("publish", "--config", "configs/demo.yaml", cwd=project, env=env)
        assert r.returncode == 0, r.stderr
        out = r.stdout + r.stderr
        assert "trusted publishing (HF_OIDC_RESOURCE=hubkit-demo)" in out
        api = hf_api(hub.url, hub.token)
        published = {m.id for m in api.list_models(author="hubkit-demo")}
        assert {"hubkit-demo/tiny-qwen3-slerp", "hubkit-demo/tiny-qwen3-a-distilled"} <= published
        assert any(t.name == "v0.1.0" for t in api.list_repo_refs("hubkit-demo/tiny-qwen3-slerp").tags)
        assert id_token not in out and "hf_oidc_" not in out
        secret_free(project, id_token, "hf_oidc_")
        # A wrong repository claim publishes nothing and says why in one line.
        env["HF_OIDC_ID_TOKEN"] = issuer.mint(hub.url, github_claims(repository="mallory/fork"))
        shutil.rmtree(project / ".hubkit" / ".hub", ignore_errors=True)
        r = run_cli_process("publish", "--config", "configs/demo.yaml", "--hub", hub.url, cwd=project,
                    env={**env, "HF_ENDPOINT": "http://127.0.0.1:9"})  # fmt: skip
        assert r.returncode != 0 and r.stderr.count("\n") == 1 and "no trusted publisher matches" in r.stderr
    finally:
        hub.stop()


def github_expression(value: str, ctx: dict[str, dict]) -> str:
    """`${{ … }}` as GitHub evaluates the few forms our workflows use: contexts, literals, ||, &&."""
    import re

    def one(m):
        expr = re.sub(r"\b(inputs|vars|secrets|github)\.([A-Za-z_][\w-]*)",
                      lambda t: repr(ctx[t.group(1)].get(t.group(2), "")), m.group(1))  # fmt: skip
        out = eval(expr.replace("||", " or ").replace("&&", " and "), {"__builtins__": {}}, {})
        return "" if out is None or out is False else str(out)

    return re.sub(r"\$\{\{(.*?)\}\}", one, str(value))


def test_release_workflow_publish_job_runs_keyless_against_the_local_hub(built, tmp_path, issuer):
    """The publish job's own commands, with the environment GitHub gives a job with `id-token: write`."""
    import subprocess

    import yaml

    from tests.conftest import ROOT

    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
    job = workflow["jobs"]["publish"]
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    project = tmp_path / "p"
    shutil.copytree(built, project)  # what download-artifact restores: configs and the .hubkit workspace
    (project / ".venv").symlink_to(ROOT / ".venv")  # what `make install` made
    with issuer.serve(github_claims(), "actions-request-token") as github:
        hub = trusted_hub(tmp_path, issuer, jwks=f"{github.url}/.well-known/jwks")
        try:
            ctx = {
                "inputs": {"config": "configs/demo.yaml", "create_pr": False},
                "vars": {"HF_ENDPOINT": hub.url, "HF_OIDC_RESOURCE": "hubkit-demo"},
                "secrets": {},  # no HF_TOKEN anywhere: keyless
                "github": {},
            }
            summary = tmp_path / "summary.md"
            env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
            env |= {
                "GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_REPOSITORY": "acme/hubkit",
                "GITHUB_REF": "refs/tags/v0.1.0", "GITHUB_WORKSPACE": str(project),
                "GITHUB_STEP_SUMMARY": str(summary), "HF_HUB_DISABLE_TELEMETRY": "1",
                "ACTIONS_ID_TOKEN_REQUEST_URL": f"{github.url}/token",
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "actions-request-token",
            }  # fmt: skip
            for scope in (workflow.get("env", {}), job.get("env", {})):
                env |= {k: github_expression(v, ctx) for k, v in scope.items()}
            ran = []
            for step in job["steps"]:
                if "run" not in step or step["run"].strip() == "make install":
                    continue
                assert "${{" not in step["run"], f"expression inside run: {step['run']}"
                step_env = env | {k: github_expression(v, ctx) for k, v in step.get("env", {}).items()}
                r = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                                   cwd=project, env=step_env, capture_output=True, text=True, timeout=600)  # fmt: skip
                assert r.returncode == 0, f"{step.get('name', step['run'])}: {r.stderr}"
                ran.append(step.get("name"))
                assert "hf_oidc_" not in r.stdout + r.stderr
            assert ran == ["plan (shown in the job summary)", "publish"]
            assert "### hubkit plan" in summary.read_text()
            api = hf_api(hub.url, hub.token)
            assert "hubkit-demo/tiny-qwen3-slerp" in {m.id for m in api.list_models(author="hubkit-demo")}
            secret_free(project / ".hubkit", "hf_oidc_")
        finally:
            hub.stop()


def test_the_login_token_is_resolved_through_huggingface_hub_and_never_shown(built, tmp_path, hub):
    """No HF_TOKEN, no OIDC: the `hf auth login` token file is used (huggingface_hub.get_token)."""
    project = tmp_path / "p"
    shutil.copytree(built, project)
    home = tmp_path / "hf-home"
    home.mkdir()
    (home / "token").write_text(hub.token + "-login")  # a valid-looking token the hub does not know
    env = {"HF_HOME": str(home), "HF_TOKEN": "", "HF_ENDPOINT": hub.url}
    r = run_cli_process("publish", "--config", "configs/demo.yaml", cwd=project, env=env)
    assert r.returncode != 0 and "rejected (401)" in r.stderr and hub.token + "-login" not in r.stdout + r.stderr
    (home / "token").write_text(hub.token)
    r = run_cli_process("publish", "--config", "configs/demo.yaml", cwd=project, env=env)
    assert r.returncode == 0, r.stderr
    assert "HF_TOKEN or the hf auth login token" in r.stdout and hub.token not in r.stdout + r.stderr
