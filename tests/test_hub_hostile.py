"""Hostile requests against `hubkit hub serve` (issue 26), kept as tests.

The table sends each request to a real `hub serve` process (its stderr in a log file) and
expects one status: never a 5xx or a dropped connection, always the Hub's error shape
(`{"error": ...}` and a printable-ASCII `X-Error-Message`), the hub answering normally
afterwards and its log free of tracebacks. The attacks on repo isolation (a token scoped to one
repo reading another's private file by its sha256), the default branch and the stale-parent
check are stories of several requests each, below the table. Hypothesis throws arbitrary bytes
and JSON at the commit and LFS batch parsers.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hubkit.hub.auth import hf_api
from hubkit.localhub import schemas
from hubkit.localhub.store import HubError
from hubkit.testing.oidc import OidcIssuer
from tests.conftest import HubProcess, LocalHub, run_cli

ADMIN = "hostile-admin-token"
SECRET = b"other/secret README: the launch is on 2031-01-01, tell no one\n"
SECRET_WEIGHTS = b"\0weights of other/secret\0" * 4  # a NUL makes it an LFS upload
JS, ND, LFS, FORM = "application/json", "application/x-ndjson", "application/vnd.git-lfs+json", schemas.FORM
COMMIT, BATCH = "/api/models/acme/pub/commit/main", "/acme/pub.git/info/lfs/objects/batch"
ZERO = "0" * 64


@dataclass
class Served:
    hub: HubProcess
    log: Path
    tokens: dict[str | None, str | None]

    @property
    def url(self) -> str:
        return self.hub.url

    def send(self, method: str, path: str, content: bytes = b"", ctype: str | None = None, token: str | None = "admin",
             **kw) -> httpx.Response:  # fmt: skip
        headers = {"Content-Type": ctype} if ctype else {}
        if self.tokens.get(token):
            headers["Authorization"] = f"Bearer {self.tokens[token]}"
        return httpx.request(method, self.url + path, content=content, headers=headers, timeout=60, **kw)

    def log_since(self, mark: int) -> str:
        with self.log.open("rb") as f:
            f.seek(mark)
            return f.read().decode(errors="replace")


def scoped_token(hub_url: str, issuer: OidcIssuer, resource: str) -> str:
    from huggingface_hub._oidc import exchange_oidc_token

    return exchange_oidc_token(subject_token=issuer.mint(hub_url), resource=resource, endpoint=hub_url)["access_token"]


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Served:
    root = tmp_path_factory.mktemp("hostile")
    issuer = OidcIssuer()
    hub = HubProcess(root / "data", ADMIN, log=root / "hub.log")
    trust = issuer.trust_file(root / "trust.yaml", hub.url, {"repository": "acme/hubkit"}, ["acme"])
    hub.extra = ("--trust", str(trust))
    hub.start()
    admin = hf_api(hub.url, ADMIN)
    admin.create_repo("acme/pub")
    admin.create_repo("acme/app", repo_type="space", space_sdk="gradio")
    admin.create_repo("other/secret", private=True)
    admin.upload_file(path_or_fileobj=SECRET, path_in_repo="README.md", repo_id="other/secret")
    admin.upload_file(path_or_fileobj=SECRET_WEIGHTS, path_in_repo="weights.bin", repo_id="other/secret")
    scoped = scoped_token(hub.url, issuer, "acme/pub")
    tokens = {"admin": ADMIN, "scoped": scoped, "wrong": "hf_not_a_token", None: None}
    yield Served(hub, root / "hub.log", tokens)
    hub.stop()


def commit_body(*ops: dict, header: dict | None = None) -> bytes:
    lines = [{"key": "header", "value": header if header is not None else {"summary": "hostile"}}, *ops]
    return "\n".join(json.dumps(x, ensure_ascii=False) for x in lines).encode()


def file_op(path: str = "f.txt", data: bytes = b"x") -> dict:
    return {"key": "file", "value": {"path": path, "content": base64.b64encode(data).decode(), "encoding": "base64"}}


def lfs_op(**value) -> dict:
    return {"key": "lfsFile", "value": {"path": "w.bin", "oid": ZERO, "size": 4, "algo": "sha256", **value}}


def batch(*objects: dict, **extra) -> bytes:
    return json.dumps({"operation": "upload", "objects": list(objects), **extra}).encode()


def j(value) -> bytes:
    return json.dumps(value).encode()


JOBS = "/api/jobs/acme"


def job(**spec) -> bytes:
    """A Jobs API body (huggingface_hub's run_job), with `spec` changed."""
    return j({"command": ["true"], "arguments": [], "environment": {}, "flavor": "cpu-basic", "dockerImage": "x",
              **spec})  # fmt: skip


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# (id, method, path, body (bytes, or a function making it), Content-Type, token, expected status)
Body = bytes | Callable[[], bytes]
CASES: list[tuple[str, str, str, Body, str | None, str | None, int]] = [
    # --- POST /api/repos/create -------------------------------------------------------------
    ("create: not JSON", "POST", "/api/repos/create", b"{not json", JS, "admin", 400),
    ("create: empty body", "POST", "/api/repos/create", b"", None, "admin", 400),
    ("create: a form", "POST", "/api/repos/create", b"name=x&organization=acme", FORM, "admin", 415),
    ("create: JSON sent as text/plain", "POST", "/api/repos/create", j({"name": "tp", "organization": "acme"}),
     "text/plain", "admin", 415),
    ("create: a list", "POST", "/api/repos/create", b"[1,2,3]", JS, "admin", 400),
    ("create: 100k nested [", "POST", "/api/repos/create", b"[" * 100_000, JS, "admin", 400),
    ("create: nested past the depth limit", "POST", "/api/repos/create",
     j({"name": "deep", "organization": "acme", "x": json.loads(nested(schemas.MAX_DEPTH + 1))}), JS, "admin", 400),
    ("create: type ../../x", "POST", "/api/repos/create", j({"name": "t", "organization": "acme", "type": "../../x"}),
     JS, "admin", 400),
    ("create: visibility a list", "POST", "/api/repos/create",
     j({"name": "vis", "organization": "acme", "visibility": ["x"]}), JS, "admin", 400),
    ("create: visibility unknown", "POST", "/api/repos/create",
     j({"name": "vis", "organization": "acme", "visibility": "hidden"}), JS, "admin", 400),
    ("create: private a string", "POST", "/api/repos/create",
     j({"name": "p", "organization": "acme", "private": "yes"}), JS, "admin", 400),
    ("create: name a number", "POST", "/api/repos/create", j({"name": 5, "organization": "acme"}), JS, "admin", 400),
    ("create: name ends .git", "POST", "/api/repos/create", j({"name": "tiny-slerp.git", "organization": "acme"}),
     JS, "admin", 400),
    ("create: name with -- and trailing -", "POST", "/api/repos/create",
     j({"name": "tiny--slerp-", "organization": "acme"}), JS, "admin", 400),
    ("create: name with ..", "POST", "/api/repos/create", j({"name": "tiny..slerp", "organization": "acme"}),
     JS, "admin", 400),
    ("create: NUL and CRLF in the name", "POST", "/api/repos/create",
     j({"name": "a\u0000b\r\nSet-Cookie: x=1", "organization": "acme"}), JS, "admin", 400),
    ("create: no token, body not even read", "POST", "/api/repos/create", b"{not json", JS, None, 401),
    ("create: wrong token, 50 MB body", "POST", "/api/repos/create", lambda: b" " * (50 << 20), JS, "wrong", 401),
    ("create: a 50 MB JSON body", "POST", "/api/repos/create",
     lambda: j({"name": "big", "organization": "acme", "pad": "x" * (50 << 20)}), JS, "admin", 413),
    ("create: scoped token, another namespace", "POST", "/api/repos/create", j({"name": "x", "organization": "other"}),
     JS, "scoped", 403),
    ("delete: not JSON", "DELETE", "/api/repos/delete", b"{", JS, "admin", 400),
    ("delete: scoped token, another repo", "DELETE", "/api/repos/delete",
     j({"name": "secret", "organization": "other"}), JS, "scoped", 403),
    # --- NDJSON commits ---------------------------------------------------------------------
    ("commit: not JSON", "POST", COMMIT, b"{not json", ND, "admin", 400),
    ("commit: empty body", "POST", COMMIT, b"", ND, "admin", 400),
    ("commit: header without value", "POST", COMMIT, b'{"key": "header"}', ND, "admin", 400),
    ("commit: no header first", "POST", COMMIT, j(file_op()), ND, "admin", 400),
    ("commit: file op without content", "POST", COMMIT, commit_body({"key": "file", "value": {"path": "a"}}),
     ND, "admin", 400),
    ("commit: !!!notbase64 content", "POST", COMMIT,
     commit_body({"key": "file", "value": {"path": "a", "content": "!!!notbase64", "encoding": "base64"}}),
     ND, "admin", 400),
    ("commit: non-UTF-8 bytes", "POST", COMMIT, b'{"key": "header", "value": {"summary": "\xff\xfe"}}', ND, "admin",
     400),
    ("commit: a list", "POST", COMMIT, b"[1,2]", ND, "admin", 400),
    ("commit: value a string", "POST", COMMIT, commit_body({"key": "file", "value": "str"}), ND, "admin", 400),
    ("commit: lfsFile size 'four'", "POST", COMMIT, commit_body(lfs_op(size="four")), ND, "admin", 400),
    ("commit: lfsFile size -5", "POST", COMMIT, commit_body(lfs_op(size=-5)), ND, "admin", 400),
    ("commit: lfsFile oid not a sha256", "POST", COMMIT, commit_body(lfs_op(oid="../../etc/passwd")), ND, "admin", 400),
    ("commit: lfsFile never uploaded", "POST", COMMIT, commit_body(lfs_op()), ND, "admin", 422),
    ("commit: unknown operation", "POST", COMMIT, commit_body({"key": "rm -rf", "value": {"path": "a"}}), ND, "admin",
     400),
    ("commit: second header", "POST", COMMIT, commit_body({"key": "header", "value": {}}), ND, "admin", 400),
    ("commit: parentCommit empty", "POST", COMMIT, commit_body(file_op(), header={"summary": "s", "parentCommit": ""}),
     ND, "admin", 400),
    ("commit: parentCommit not a sha", "POST", COMMIT,
     commit_body(file_op(), header={"summary": "s", "parentCommit": "zz"}), ND, "admin", 400),
    ("commit: path traversal", "POST", COMMIT, commit_body(file_op("../escape.txt")), ND, "admin", 400),
    ("commit: a 12 MB regular file", "POST", COMMIT, lambda: commit_body(file_op("big.txt", b"a" * (12 << 20))),
     ND, "admin", 413),
    ("commit: 100k nested [ on a line", "POST", COMMIT, commit_body() + b"\n" + b"[" * 100_000, ND, "admin", 400),
    ("commit: sent as application/json", "POST", COMMIT, commit_body(file_op()), JS, "admin", 415),
    ("commit: no token", "POST", COMMIT, commit_body(file_op()), ND, None, 401),
    ("commit: scoped token, another repo", "POST", "/api/models/other/secret/commit/main", commit_body(file_op()),
     ND, "scoped", 403),
    ("commit: to a branch that is not there", "POST", "/api/models/acme/pub/commit/nope", commit_body(file_op()),
     ND, "admin", 404),
    ("commit: U+2028 and U+0085 inside a JSON string", "POST", COMMIT,
     commit_body(file_op("u2028.txt"), header={"summary": "line\u2028separator\u0085next"}), ND, "admin", 200),
    ("commit: CRLF line ends", "POST", COMMIT, commit_body(file_op("crlf.txt")).replace(b"\n", b"\r\n"), ND, "admin",
     200),
    # --- preupload, tags, branches, settings, secrets -----------------------------------------
    ("preupload: size 'abc'", "POST", "/api/models/acme/pub/preupload/main",
     j({"files": [{"path": "a", "sample": "", "size": "abc"}]}), JS, "admin", 400),
    ("preupload: files a dict", "POST", "/api/models/acme/pub/preupload/main", j({"files": {"path": "a"}}), JS, "admin",
     400),
    ("preupload: sample not base64", "POST", "/api/models/acme/pub/preupload/main",
     j({"files": [{"path": "a", "sample": "%%%", "size": 1}]}), JS, "admin", 400),
    ("preupload: path traversal", "POST", "/api/models/acme/pub/preupload/main",
     j({"files": [{"path": "../a", "sample": "", "size": 1}]}), JS, "admin", 400),
    ("tag: without tag", "POST", "/api/models/acme/pub/tag/main", j({}), JS, "admin", 400),
    ("tag: a list", "POST", "/api/models/acme/pub/tag/main", j({"tag": ["v1"]}), JS, "admin", 400),
    ("tag: a name with a space", "POST", "/api/models/acme/pub/tag/main", j({"tag": "v 1"}), JS, "admin", 400),
    ("tag: delete one that is not there", "DELETE", "/api/models/acme/pub/tag/nope", b"", None, "admin", 404),
    ("branch: startingPoint 5", "POST", "/api/models/acme/pub/branch/dev", j({"startingPoint": 5}), JS, "admin", 400),
    ("branch: not JSON", "POST", "/api/models/acme/pub/branch/dev", b"{x", JS, "admin", 400),
    ("branch: text/plain", "POST", "/api/models/acme/pub/branch/dev", b"main", "text/plain", "admin", 415),
    ("branch: from a revision that is not there", "POST", "/api/models/acme/pub/branch/dev",
     j({"startingPoint": "nope"}), JS, "admin", 404),
    ("branch: delete main", "DELETE", "/api/models/acme/pub/branch/main", b"", None, "admin", 403),
    ("branch: delete a NUL", "DELETE", "/api/models/acme/pub/branch/%00", b"", None, "admin", 404),
    ("settings: a list", "PUT", "/api/models/acme/pub/settings", b"[]", JS, "admin", 400),
    ("settings: visibility a list", "PUT", "/api/models/acme/pub/settings", j({"visibility": ["x"]}), JS, "admin", 400),
    ("settings: private 'true'", "PUT", "/api/models/acme/pub/settings", j({"private": "true"}), JS, "admin", 400),
    ("secret: a key that is not a name", "POST", "/api/spaces/acme/app/secrets", j({"key": "1 bad", "value": "v"}),
     JS, "admin", 400),
    ("secret: value a number", "POST", "/api/spaces/acme/app/secrets", j({"key": "K", "value": 5}), JS, "admin", 400),
    ("secret: delete without key", "DELETE", "/api/spaces/acme/app/secrets", j({}), JS, "admin", 400),
    ("secret: on a model repo", "POST", "/api/spaces/acme/pub/secrets", j({"key": "K", "value": "v"}), JS, "admin",
     404),
    # --- card validation, paths-info, listing -------------------------------------------------
    ("validate-yaml: content 5", "POST", "/api/validate-yaml", j({"content": 5}), JS, None, 400),
    ("validate-yaml: 5,000-deep nesting", "POST", "/api/validate-yaml",
     j({"content": "---\na: " + "[" * 5000 + "]" * 5000 + "\n---\n"}), JS, None, 400),
    ("validate-yaml: a date that does not exist", "POST", "/api/validate-yaml",
     j({"content": "---\ndate: 2024-02-30\n---\n"}), JS, None, 400),
    ("validate-yaml: front matter a list", "POST", "/api/validate-yaml", j({"content": "---\n- a\n---\n"}), JS, None,
     400),
    ("validate-yaml: a good card", "POST", "/api/validate-yaml", j({"content": "---\nlicense: mit\n---\n# x\n"}), JS,
     None, 200),
    ("paths-info: non-UTF-8 form", "POST", "/api/models/acme/pub/paths-info/main", b"paths=\xff\xfe", FORM, "admin",
     400),
    ("paths-info: paths numbers", "POST", "/api/models/acme/pub/paths-info/main", j({"paths": [1, 2]}), JS, "admin",
     400),
    ("paths-info: a good form", "POST", "/api/models/acme/pub/paths-info/main", b"paths=README.md&paths=.gitattributes",
     FORM, "admin", 200),
    ("list: limit abc", "GET", "/api/models?limit=abc", b"", None, None, 400),
    ("list: limit -1", "GET", "/api/models?limit=-1", b"", None, None, 400),
    ("tree: recursive maybe", "GET", "/api/models/acme/pub/tree/main?recursive=maybe", b"", None, None, 400),
    # --- LFS ----------------------------------------------------------------------------------
    ("batch: no size", "POST", BATCH, batch({"oid": ZERO}), LFS, "admin", 400),
    ("batch: size 'abc'", "POST", BATCH, batch({"oid": ZERO, "size": "abc"}), LFS, "admin", 400),
    ("batch: size -5", "POST", BATCH, batch({"oid": ZERO, "size": -5}), LFS, "admin", 400),
    ("batch: objects not a list", "POST", BATCH, j({"operation": "upload", "objects": "notalist"}), LFS, "admin", 400),
    ("batch: oid 12345", "POST", BATCH, batch({"oid": 12345, "size": 1}), LFS, "admin", 400),
    ("batch: download", "POST", BATCH, batch({"oid": ZERO, "size": 1}, operation="download"), LFS, "admin", 400),
    ("batch: not JSON", "POST", BATCH, b"oid=1", LFS, "admin", 400),
    ("batch: no token", "POST", BATCH, batch({"oid": ZERO, "size": 1}), LFS, None, 401),
    ("batch: scoped token, another repo", "POST", "/other/secret.git/info/lfs/objects/batch",
     batch({"oid": ZERO, "size": 1}), LFS, "scoped", 403),
    ("lfs put: size abc", "PUT", f"/lfs/{ZERO}?size=abc&repo=acme/pub&sig=x", b"abc", None, None, 400),
    ("lfs put: forged signature", "PUT", f"/lfs/{ZERO}?size=3&repo=acme/pub&sig=forged", b"abc", None, None, 403),
    ("lfs put: non-ASCII signature", "PUT", f"/lfs/{ZERO}?size=3&repo=acme/pub&sig=%C3%A9", b"abc", None, None, 403),
    ("lfs verify: bad JSON, no signature", "POST", f"/lfs/{ZERO}/verify", b"{", JS, None, 400),
    ("lfs verify: bad JSON, forged signature", "POST", f"/lfs/{ZERO}/verify?size=3&repo=acme/pub&sig=f", b"{", JS,
     None, 403),
    # --- resolve and the token exchange -------------------------------------------------------
    ("resolve: NUL in the path", "GET", "/acme/pub/resolve/main/README.md%00.txt", b"", None, None, 404),
    ("resolve: CRLF in the path", "GET", "/acme/pub/resolve/main/a%0d%0aSet-Cookie:%20x=1", b"", None, None, 404),
    ("resolve: not UTF-8 in the revision", "GET", "/acme/pub/resolve/%ff%fe/README.md", b"", None, None, 404),
    ("resolve: private repo, no token", "GET", "/other/secret/resolve/main/README.md", b"", None, None, 401),
    ("resolve: private repo, scoped to another", "GET", "/other/secret/resolve/main/README.md", b"", None, "scoped",
     401),
    ("token: text/plain", "POST", "/oauth/token", b"grant_type=x", "text/plain", None, 415),
    ("token: grant_type a number", "POST", "/oauth/token", j({"grant_type": 5}), JS, None, 400),
    ("token: not JSON", "POST", "/oauth/token", b"{", JS, None, 400),
    ("token: a form with the wrong grant", "POST", "/oauth/token", b"grant_type=password&subject_token=x", FORM, None,
     400),
    ("api: a route that is not there", "GET", "/api/nothing/%00", b"", None, None, 404),
    # --- Jobs ---------------------------------------------------------------------------------
    ("jobs: no token", "POST", JOBS, job(), JS, None, 401),
    ("jobs: a token scoped to one repo may not run one", "POST", JOBS, job(), JS, "scoped", 403),
    ("jobs: a token scoped to one repo may not list them", "GET", JOBS, b"", None, "scoped", 403),
    ("jobs: wrong token, 50 MB body", "POST", JOBS, lambda: b" " * (50 << 20), JS, "wrong", 401),
    ("jobs: command a string", "POST", JOBS, job(command="rm -rf /"), JS, "admin", 400),
    ("jobs: no command", "POST", JOBS, job(command=[]), JS, "admin", 400),
    ("jobs: an environment value 1", "POST", JOBS, job(environment={"A": 1}), JS, "admin", 400),
    ("jobs: a secret named '1 bad'", "POST", JOBS, job(secrets={"1 bad": "v"}), JS, "admin", 400),
    ("jobs: timeout -5", "POST", JOBS, job(timeoutSeconds=-5), JS, "admin", 400),
    ("jobs: timeout '5'", "POST", JOBS, job(timeoutSeconds="5"), JS, "admin", 400),
    ("jobs: volumes", "POST", JOBS, job(volumes=[{"type": "bucket", "source": "a/b"}]), JS, "admin", 400),
    ("jobs: unknown flavor", "POST", JOBS, job(flavor="gpu-of-dreams"), JS, "admin", 400),
    ("jobs: neither image nor Space", "POST", JOBS, j({"command": ["true"]}), JS, "admin", 400),
    ("jobs: a label with a space", "POST", JOBS, job(labels={"a b": "c"}), JS, "admin", 400),
    ("jobs: sent as a form", "POST", JOBS, b"command=true", FORM, "admin", 415),
    ("jobs: namespace ../x", "POST", "/api/jobs/..%2Fx", job(), JS, "admin", 400),
    ("jobs: one that is not there", "GET", f"{JOBS}/0123456789abcdef01234567", b"", None, "admin", 404),
    ("jobs: an id that is a path", "GET", f"{JOBS}/..%2F..%2Frepos", b"", None, "admin", 404),
    ("jobs: logs of one that is not there", "GET", f"{JOBS}/0123456789abcdef01234567/logs", b"", None, "admin", 404),
    ("jobs: logs tail abc", "GET", f"{JOBS}/0123456789abcdef01234567/logs?tail=abc", b"", None, "admin", 400),
    ("jobs: cancel one that is not there", "POST", f"{JOBS}/0123456789abcdef01234567/cancel", b"", None, "admin",
     404),
    ("jobs: labels a list", "PUT", f"{JOBS}/0123456789abcdef01234567/labels", j({"labels": ["a"]}), JS, "admin", 400),
    ("jobs: list cursor -1", "GET", f"{JOBS}?cursor=-1", b"", None, "admin", 400),
    ("jobs: list limit 0", "GET", f"{JOBS}?limit=0", b"", None, "admin", 400),
    ("jobs: list by stage and labels", "GET", f"{JOBS}?stage=RUNNING&stage=ERROR&label=a%3Db", b"", None, "admin",
     200),
    ("jobs: hardware, no token", "GET", "/api/jobs/hardware", b"", None, None, 200),
]  # fmt: skip


def assert_hub_error(r: httpx.Response) -> None:
    """The Hub's error shape: JSON with `error`, and a one-line printable-ASCII X-Error-Message."""
    assert r.headers["content-type"].startswith("application/json"), r.headers
    assert isinstance(r.json().get("error"), str) and r.json()["error"], r.text
    message = r.headers.get("x-error-message", "")
    assert message and message.isascii() and message.isprintable(), message


def assert_hub_fine(served: Served, mark: int = 0) -> None:
    """The hub answers, and logged no traceback or error since `mark` (a size of its log)."""
    assert served.send("GET", "/api/models").status_code == 200
    log = served.log_since(mark)
    assert "Traceback" not in log and "Exception" not in log and "ERROR" not in log, log[-3000:]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_hostile_request(served, case):
    _, method, path, body, ctype, token, expected = case
    mark = os.path.getsize(served.log)
    r = served.send(method, path, body() if callable(body) else body, ctype, token)
    assert r.status_code < 500
    assert r.status_code == expected, r.text[:500]
    if expected >= 400:
        assert_hub_error(r)
    assert "set-cookie" not in r.headers
    assert_hub_fine(served, mark)


def test_bad_bytes_in_the_request_line_are_a_4xx(served):
    """Raw bytes that no client would percent-encode: answered (by h11 or the hub), never a crash."""
    port = int(served.url.rsplit(":", 1)[1])
    for target in (b"/acme/pub/resolve/main/\xff\xfe", b"/api/models/acme/p\xc3\xbcb"):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 4"), answer[:200]
    assert_hub_fine(served)


# --- section 1: one repo's token never reads another repo's data ------------------------------------
def test_a_scoped_token_cannot_commit_another_repos_object_by_its_sha256(served):
    """The issue's attack: a token minted for acme/pub names the sha256 of other/secret's private
    README (a regular file) or weights (an LFS file) in an lfsFile line, then reads it back."""
    never = hashlib.sha256(b"never uploaded anywhere").hexdigest()
    answers = {}
    for name, data in (("stolen-readme.bin", SECRET), ("stolen-weights.bin", SECRET_WEIGHTS), ("never.bin", None)):
        oid, size = (hashlib.sha256(data).hexdigest(), len(data)) if data else (never, 4)
        for value in ({"size": size}, {}):  # with a size, and as a copy (no size)
            r = served.send("POST", COMMIT, commit_body(lfs_op(path=name, oid=oid, **value)), ND, "scoped")
            assert r.status_code == 422, r.text
            assert_hub_error(r)
            answers.setdefault(name, set()).add(r.json()["error"].replace(oid, "<oid>").replace(name, "<path>"))
        assert served.send("GET", f"/acme/pub/resolve/main/{name}").status_code == 404
    # The refusal is the same whether the object exists elsewhere or nowhere: no oracle.
    assert answers["stolen-readme.bin"] == answers["stolen-weights.bin"] == answers["never.bin"]
    assert served.send("GET", "/other/secret/resolve/main/README.md", token="scoped").status_code == 401
    assert_hub_fine(served)


def test_the_lfs_batch_answer_does_not_say_whether_another_repo_holds_an_object(served):
    secret_oid = hashlib.sha256(SECRET_WEIGHTS).hexdigest()
    never = hashlib.sha256(b"nowhere").hexdigest()
    r = served.send("POST", BATCH, batch({"oid": secret_oid, "size": len(SECRET_WEIGHTS)}, {"oid": never, "size": 7}),
                    LFS, "scoped")  # fmt: skip
    assert r.status_code == 200, r.text
    held, missing = r.json()["objects"]
    assert set(held["actions"]) == set(missing["actions"]) == {"upload", "verify"}
    # Verifying without uploading says "not found" for an object another repo holds, too.
    verify = held["actions"]["verify"]["href"].removeprefix(served.url)
    v = served.send("POST", verify, j({"oid": secret_oid, "size": len(SECRET_WEIGHTS)}), JS, "scoped")
    assert v.status_code == 404
    assert_hub_error(v)


def test_whoever_uploads_the_bytes_may_commit_them(served):
    """Holding the bytes is the proof: the upload of an object another repo holds is accepted."""
    api = hf_api(served.url, served.tokens["scoped"])
    api.upload_file(path_or_fileobj=SECRET_WEIGHTS, path_in_repo="mine.bin", repo_id="acme/pub")
    assert httpx.get(f"{served.url}/acme/pub/resolve/main/mine.bin").content == SECRET_WEIGHTS
    # Uploaded for acme/pub now: a second commit names it without uploading again.
    oid = hashlib.sha256(SECRET_WEIGHTS).hexdigest()
    r = served.send("POST", BATCH, batch({"oid": oid, "size": len(SECRET_WEIGHTS)}), LFS, "scoped")
    assert "actions" not in r.json()["objects"][0]
    r = served.send("POST", COMMIT, commit_body(lfs_op(path="again.bin", oid=oid, size=len(SECRET_WEIGHTS))), ND,
                    "scoped")  # fmt: skip
    assert r.status_code == 200, r.text
    # An upload URL is signed for one repo: it does not make the object acme/app's.
    href = served.send("POST", BATCH, batch({"oid": ZERO, "size": 3}), LFS, "scoped").json()["objects"][0]["actions"]
    assert "repo=acme/pub" in href["upload"]["href"]
    forged = href["upload"]["href"].replace("repo=acme/pub", "repo=spaces/acme/app").removeprefix(served.url)
    assert served.send("PUT", forged, b"abc").status_code == 403
    assert_hub_fine(served)


def test_an_upload_must_match_its_signed_size_and_hash(served):
    data = b"\0four"
    oid = hashlib.sha256(data).hexdigest()
    actions = served.send("POST", BATCH, batch({"oid": oid, "size": len(data)}), LFS, "scoped").json()["objects"][0]
    put = actions["actions"]["upload"]["href"].removeprefix(served.url)
    for wrong in (data + b"!", b"\0fouR", data[:-1]):
        r = served.send("PUT", put, wrong)
        assert r.status_code == 400, r.text
        assert_hub_error(r)
    assert served.send("PUT", put, data).status_code == 200
    assert_hub_fine(served)


# --- the default branch, the stale-parent check ------------------------------------------------------
def test_main_cannot_be_deleted_and_a_repo_without_main_does_not_break_listing(tmp_path):
    hub = HubProcess(tmp_path / "data", ADMIN, log=tmp_path / "hub.log").start()
    try:
        api = hf_api(hub.url, ADMIN)
        api.create_repo("acme/nomain")
        api.create_repo("acme/fine")
        r = httpx.delete(f"{hub.url}/api/models/acme/nomain/branch/main", headers={"Authorization": f"Bearer {ADMIN}"})
        assert r.status_code == 403 and "default branch" in r.json()["error"]
        assert api.list_repo_refs("acme/nomain").branches[0].name == "main"
        # A store written before this rule: refs.json without main. Listing still answers, restart included.
        refs = tmp_path / "data" / "repos" / "model" / "acme" / "nomain" / "refs.json"
        refs.write_text(json.dumps({"heads": {}, "tags": {}, "prs": {}}))
        hub.stop()
        hub = HubProcess(tmp_path / "data", ADMIN, log=tmp_path / "hub.log").start()
        listed = httpx.get(f"{hub.url}/api/models")
        assert listed.status_code == 200
        assert {m["id"]: m["sha"] is None for m in listed.json()} == {"acme/fine": False, "acme/nomain": True}
        assert httpx.get(f"{hub.url}/api/models/acme/nomain").status_code == 404
        assert httpx.get(f"{hub.url}/").status_code == 200  # the preview's index too
        assert "Traceback" not in (tmp_path / "hub.log").read_text()
    finally:
        hub.stop()


def test_an_empty_parent_commit_is_not_no_parent(served):
    api = hf_api(served.url, ADMIN)
    before = api.list_repo_commits("acme/pub")[0].commit_id
    r = served.send("POST", COMMIT, commit_body(file_op("p.txt"), header={"summary": "s", "parentCommit": ""}), ND)
    assert r.status_code == 400 and "parentCommit" in r.json()["error"]
    stale = commit_body(file_op("p.txt"), header={"summary": "s", "parentCommit": "0" * 40})
    assert served.send("POST", COMMIT, stale, ND).status_code == 412
    assert api.list_repo_commits("acme/pub")[0].commit_id == before


def test_a_regular_file_of_exactly_10_mib_is_accepted_one_byte_more_is_not(served):
    limit = 10 * 1024 * 1024
    ok = served.send("POST", COMMIT, commit_body(file_op("edge.txt", b"a" * limit)), ND)
    assert ok.status_code == 200, ok.text
    over = served.send("POST", COMMIT, commit_body(file_op("over.txt", b"a" * (limit + 1))), ND)
    assert over.status_code == 413 and "LFS" in over.json()["error"]


def alias_bomb(levels: int = 9) -> str:
    """YAML whose `tags` expands to 9**levels strings if anything walks it (billion laughs)."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join([*lines, f"tags: [*l{levels - 1}]", f"license: [*l{levels - 1}]"])


ODD_RESULT = {"task": [], "dataset": "d", "metrics": [5, {"value": [1]}, {"name": {"a": 1}, "value": 0.5}]}
CARDS = {
    "nested": "a: " + "[" * 5000 + "]" * 5000,
    "bad-date": "date: 2024-02-30",
    "bomb": alias_bomb(),
    "odd-model-index": "model-index: " + json.dumps([[1], {"results": "x"}, {"results": [ODD_RESULT]}]),
}


def test_a_hostile_card_is_a_page_not_a_crash(served):
    """Anyone who may write a repo writes its card: the preview renders what it can and says the rest."""
    hf_api(served.url, ADMIN).create_repo("acme/cards")
    for name, front in CARDS.items():
        mark = os.path.getsize(served.log)
        card = f"---\n{front}\n---\n# {name}\n".encode()  # straight to the commit API: the client would refuse it
        r = served.send("POST", "/api/models/acme/cards/commit/main", commit_body(file_op("README.md", card)), ND)
        assert r.status_code == 200, r.text
        page = httpx.get(f"{served.url}/acme/cards", timeout=30)
        assert page.status_code == 200 and f"<h1>{name}</h1>" in page.text, page.text[-500:]
        assert_hub_fine(served, mark)
    assert httpx.get(f"{served.url}/", timeout=30).status_code == 200


# --- `hub serve` arguments ---------------------------------------------------------------------------
def test_bad_serve_arguments_are_one_line(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = str(taken.getsockname()[1])
        cases = [
            (["--token", ""], "token is empty"),
            (["--token", "has space s3cret"], "printable ASCII without spaces"),
            (["--token", "tok", "--root", str(a_file)], f"--root {a_file}: Not a directory"),
            (["--token", "tok", "--port", "99999"], "--port 99999: a port is 1-65535"),
            (["--token", "tok", "--port", busy], f"cannot listen on 127.0.0.1:{busy}"),
        ]
        for extra, said in cases:
            args = ["hub", "serve", "--root", str(tmp_path / "root"), *extra]
            r = run_cli(*args, env={"HUBKIT_HUB_TOKEN": None})
            assert r.returncode == 2, (extra, r.stderr)
            assert r.stderr.count("\n") == 1 and said in r.stderr and "Traceback" not in r.stderr, r.stderr
            assert "s3cret" not in r.stdout + r.stderr


# --- hypothesis: the parsers never answer 5xx -------------------------------------------------------
@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """An in-process hub with acme/pub, and every record uvicorn logs at WARNING or above."""
    import logging

    hub = LocalHub(tmp_path_factory.mktemp("fuzz") / "data", ADMIN)
    hf_api(hub.url, ADMIN).create_repo("acme/pub")
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    loggers = [logging.getLogger(n) for n in ("uvicorn", "uvicorn.error", "uvicorn.access")]
    for lg in loggers:
        lg.addHandler(handler)
    yield hub, records
    for lg in loggers:
        lg.removeHandler(handler)
    hub.stop()


def _post(hub: LocalHub, path: str, content: bytes, ctype: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {ADMIN}", "Content-Type": ctype}
    return httpx.post(hub.url + path, content=content, headers=headers, timeout=30)


def _check(r: httpx.Response, records: list) -> None:
    assert r.status_code < 500, r.text[:500]
    if r.status_code >= 400:
        assert_hub_error(r)
    assert not records, [rec.getMessage() for rec in records]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
weird = json_values | st.sampled_from(["", "-1", "../x", "a\u2028b", "\x00", ZERO, "main", "AAAA"])
ops = st.fixed_dictionaries(
    {"key": st.sampled_from(["header", "file", "lfsFile", "deletedFile", "deletedFolder", "copyFile"]) | weird},
    optional={"value": st.dictionaries(
        st.sampled_from(["path", "content", "encoding", "oid", "size", "summary", "parentCommit", "algo"]), weird,
        max_size=5) | weird},
)  # fmt: skip
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(lines=st.lists(ops | json_values, max_size=5))
def test_any_ndjson_commit_is_a_commit_or_a_4xx(local, lines):
    hub, records = local
    body = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines).encode()
    _check(_post(hub, COMMIT, body, ND), records)


@FUZZ
@given(body=st.binary(max_size=300))
def test_any_bytes_as_a_commit_or_a_batch_are_a_4xx(local, body):
    hub, records = local
    _check(_post(hub, COMMIT, body, ND), records)
    _check(_post(hub, BATCH, body, LFS), records)


@FUZZ
@given(body=st.fixed_dictionaries(
    {}, optional={"operation": weird, "objects": st.lists(st.fixed_dictionaries(
        {}, optional={"oid": weird | st.just(ZERO), "size": weird | st.integers(-5, 2**70)}), max_size=3) | weird},
))  # fmt: skip
def test_any_lfs_batch_body_is_an_answer_or_a_4xx(local, body):
    hub, records = local
    r = _post(hub, BATCH, json.dumps(body).encode(), LFS)
    _check(r, records)
    if r.status_code == 200:
        assert all(o["size"] >= 0 and len(o["oid"]) == 64 for o in r.json()["objects"])


@settings(max_examples=500, deadline=None)
@given(raw=st.binary(max_size=200) | st.lists(ops | json_values, max_size=4).map(
    lambda xs: "\n".join(json.dumps(x) for x in xs).encode()))  # fmt: skip
def test_the_body_parser_raises_only_4xx(raw):
    """The parser alone, many more inputs than HTTP allows: a schema or a HubError below 500."""
    for schema, ctype in ((schemas.Commit, ND), (schemas.LfsBatch, LFS), (schemas.CreateRepo, JS)):
        try:
            schemas.validate(schema, schemas.decode(raw, ctype, schema))
        except HubError as err:
            assert 400 <= err.status < 500


def test_the_hub_still_answers_at_the_end(served):
    api = hf_api(served.url, ADMIN)
    api.upload_file(path_or_fileobj=b"still here", path_in_repo="end.txt", repo_id="acme/pub")
    assert httpx.get(f"{served.url}/acme/pub/resolve/main/end.txt").content == b"still here"
    assert "README.md" in api.list_repo_files("other/secret")
    assert_hub_fine(served)
    assert os.path.getsize(served.log) < 100_000
