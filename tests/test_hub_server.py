"""The local hub, driven by the real huggingface_hub client (and datasets / transformers)."""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from tests.conftest import HubProcess


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_the_client_call_list(api, hub, tmp_path):
    big = os.urandom(10 * 1024 * 1024 + 17)  # >= 10 MB: goes through preupload + LFS batch
    assert api.whoami()["name"] == "hubkit"
    assert api.create_repo("org/m").repo_id == "org/m"
    assert api.create_repo("org/d", repo_type="dataset").repo_id == "org/d"
    api.create_repo("org/s", repo_type="space", space_sdk="gradio")
    api.create_repo("org/m", exist_ok=True)  # a second create is fine with exist_ok

    api.upload_file(path_or_fileobj=b"hello", path_in_repo="a.txt", repo_id="org/m")
    folder = tmp_path / "f"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "x.json").write_text("{}")
    (folder / "README.md").write_text("# m\n")
    api.upload_folder(repo_id="org/m", folder_path=folder)
    info = api.create_commit(
        "org/m",
        [CommitOperationAdd("weights.bin", big), CommitOperationAdd("small.txt", b"s")],
        commit_message="big",
    )
    assert len(info.oid) == 40

    mi = api.model_info("org/m", files_metadata=True)
    files = {s.rfilename: s for s in mi.siblings}
    assert mi.sha == info.oid
    assert files["weights.bin"].lfs.sha256 == sha(big) and files["weights.bin"].size == len(big)
    assert files["a.txt"].lfs is None
    assert api.repo_info("org/d", repo_type="dataset").id == "org/d"
    assert api.dataset_info("org/d").id == "org/d"
    assert api.space_info("org/s").sdk == "gradio"

    pr = api.create_commit("org/m", [CommitOperationAdd("pr.txt", b"p")], commit_message="pr", create_pr=True)
    assert pr.pr_revision == "refs/pr/1"
    assert "pr.txt" not in api.list_repo_files("org/m")
    assert "pr.txt" in api.list_repo_files("org/m", revision="refs/pr/1")

    api.create_branch("org/m", branch="dev")
    api.create_tag("org/m", tag="v1.0.0", revision=info.oid)
    refs = api.list_repo_refs("org/m", include_pull_requests=True)
    assert {b.name for b in refs.branches} == {"main", "dev"}
    assert [(t.name, t.target_commit) for t in refs.tags] == [("v1.0.0", info.oid)]
    assert [p.ref for p in refs.pull_requests] == ["refs/pr/1"]
    with pytest.raises(HfHubHTTPError) as exc:
        api.create_tag("org/m", tag="v1.0.0")
    assert exc.value.response.status_code == 409

    assert api.list_repo_files("org/m") == [
        ".gitattributes",
        "README.md",
        "a.txt",
        "small.txt",
        "sub/x.json",
        "weights.bin",
    ]
    tree = {e.path: e for e in api.list_repo_tree("org/m", recursive=True)}
    assert type(tree["sub"]).__name__ == "RepoFolder" and tree["weights.bin"].lfs.sha256 == sha(big)
    assert [e.path for e in api.list_repo_tree("org/m", path_in_repo="sub")] == ["sub/x.json"]
    assert [c.title for c in api.list_repo_commits("org/m")][:2] == ["big", "Upload folder using huggingface_hub"]
    assert api.list_repo_commits("org/m")[-1].title == "initial commit"

    assert [m.id for m in api.list_models(author="org")] == ["org/m"]
    assert [d.id for d in api.list_datasets(author="org")] == ["org/d"]
    assert [s.id for s in api.list_spaces(author="org")] == ["org/s"]

    cache = tmp_path / "cache"
    path = hf_hub_download("org/m", "weights.bin", endpoint=hub.url, token=hub.token, cache_dir=cache)
    assert sha(Path(path).read_bytes()) == sha(big)
    tagged = hf_hub_download("org/m", "a.txt", revision="v1.0.0", endpoint=hub.url, cache_dir=cache)
    assert Path(tagged).read_text() == "hello"
    snap = snapshot_download("org/m", endpoint=hub.url, cache_dir=tmp_path / "snap")
    assert (Path(snap) / "sub" / "x.json").read_text() == "{}"

    api.delete_file("a.txt", "org/m")
    assert "a.txt" not in api.list_repo_files("org/m")
    api.delete_repo("org/d", repo_type="dataset")
    with pytest.raises(RepositoryNotFoundError):
        api.dataset_info("org/d")


def test_parent_commit_conflict_is_refused(api):
    api.create_repo("org/p")
    first = api.create_commit("org/p", [CommitOperationAdd("a", b"1")], commit_message="1")
    api.create_commit("org/p", [CommitOperationAdd("b", b"2")], commit_message="2", parent_commit=first.oid)
    with pytest.raises(HfHubHTTPError) as exc:
        api.create_commit("org/p", [CommitOperationAdd("c", b"3")], commit_message="3", parent_commit=first.oid)
    assert exc.value.response.status_code == 412
    assert api.list_repo_files("org/p") == [".gitattributes", "a", "b"]


def test_commits_are_immutable_and_addressable(api, hub):
    api.create_repo("org/i")
    c1 = api.create_commit("org/i", [CommitOperationAdd("f", b"one")], commit_message="1").oid
    api.create_commit("org/i", [CommitOperationAdd("f", b"two")], commit_message="2")
    assert httpx.get(f"{hub.url}/org/i/resolve/{c1}/f").content == b"one"
    assert httpx.get(f"{hub.url}/org/i/resolve/{c1[:7]}/f").content == b"one"
    assert httpx.get(f"{hub.url}/org/i/resolve/main/f").content == b"two"
    ranged = httpx.get(f"{hub.url}/org/i/resolve/main/f", headers={"Range": "bytes=1-2"})
    assert ranged.status_code == 206 and ranged.content == b"wo"


def test_tokens_are_required_and_checked(api, hub):
    anonymous, wrong = HfApi(endpoint=hub.url, token=False), HfApi(endpoint=hub.url, token="wrong")
    for client in (anonymous, wrong):
        with pytest.raises(HfHubHTTPError) as exc:
            client.create_repo("org/x")
        assert exc.value.response.status_code == 401
    with pytest.raises(HfHubHTTPError):
        wrong.whoami()
    api.create_repo("org/pub")
    with pytest.raises(HfHubHTTPError) as exc:
        wrong.upload_file(path_or_fileobj=b"x", path_in_repo="x", repo_id="org/pub")
    assert exc.value.response.status_code == 401

    api.create_repo("org/priv", private=True)
    assert api.model_info("org/priv").private is True
    with pytest.raises(RepositoryNotFoundError):
        anonymous.model_info("org/priv")
    assert [m.id for m in anonymous.list_models(author="org")] == ["org/pub"]
    assert {m.id for m in api.list_models(author="org")} == {"org/pub", "org/priv"}


def test_lfs_upload_urls_are_signed(api, hub):
    api.create_repo("org/x")
    bad = httpx.put(f"{hub.url}/lfs/{'0' * 64}?size=3&repo=org/x&sig=forged", content=b"abc")
    assert bad.status_code == 403


@pytest.mark.parametrize("path", ["../escape.txt", "a/../../b", "/etc/passwd", "a//b", "a\\..\\b", ".git/config"])
def test_path_traversal_is_refused(api, hub, path):
    import base64
    import json

    api.create_repo("org/t", exist_ok=True)
    lines = [
        {"key": "header", "value": {"summary": "evil"}},
        {"key": "file", "value": {"path": path, "content": base64.b64encode(b"x").decode(), "encoding": "base64"}},
    ]
    r = httpx.post(
        f"{hub.url}/api/models/org/t/commit/main",
        content="\n".join(json.dumps(x) for x in lines),
        headers={"Authorization": f"Bearer {hub.token}", "Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 400 and "Invalid path" in r.json()["error"]
    assert api.list_repo_files("org/t") == [".gitattributes"]
    assert not any(p.name == "escape.txt" for p in hub.root.parent.rglob("escape.txt"))


@pytest.mark.parametrize("name", ["../etc", "a/b", "x" * 97, "-lead", "a..b"])
def test_invalid_repo_ids_are_refused(hub, name):
    r = httpx.post(
        f"{hub.url}/api/repos/create",
        json={"name": name, "organization": "org", "type": "model"},
        headers={"Authorization": f"Bearer {hub.token}"},
    )
    assert r.status_code == 400


def test_concurrent_clients_lose_nothing_and_restart_keeps_everything(api, hub):
    api.create_repo("org/c")

    def commit(i: int) -> str:
        return api.create_commit(
            "org/c", [CommitOperationAdd(f"f{i}.txt", f"{i}".encode())], commit_message=f"c{i}"
        ).oid

    with cf.ThreadPoolExecutor(8) as pool:
        oids = list(pool.map(commit, range(16)))
    assert len(set(oids)) == 16
    files = api.list_repo_files("org/c")
    assert {f"f{i}.txt" for i in range(16)} <= set(files)
    history = [c.commit_id for c in api.list_repo_commits("org/c")]
    assert len(history) == 17 and set(oids) <= set(history)

    hub.stop()
    again = HubProcess(hub.root, hub.token).start()
    try:
        from hubkit.hub.auth import hf_api

        api2 = hf_api(again.url, again.token)
        assert api2.list_repo_files("org/c") == files
        assert [c.commit_id for c in api2.list_repo_commits("org/c")] == history
    finally:
        again.stop()


def _run_with_endpoint(hub, code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_TOKEN": hub.token, "HF_HUB_DISABLE_XET": "1"}
    env.pop("HF_HUB_OFFLINE", None)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)


def test_datasets_load_dataset_through_the_server(api, hub, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    api.create_repo("org/ds", repo_type="dataset")
    pq.write_table(pa.table({"id": [1, 2, 3], "text": ["a", "b", "c"]}), tmp_path / "test.parquet")
    api.upload_file(path_or_fileobj=str(tmp_path / "test.parquet"), path_in_repo="data/test-00000-of-00001.parquet",
                    repo_id="org/ds", repo_type="dataset")  # fmt: skip
    code = (
        "import datasets; ds = datasets.load_dataset('org/ds', split='test', "
        f"cache_dir={str(tmp_path / 'c')!r}); print(list(ds['text']), ds.num_rows)"
    )
    r = _run_with_endpoint(hub, code)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().splitlines()[-1] == "['a', 'b', 'c'] 3"


def test_transformers_from_pretrained_through_the_server(api, hub, tmp_path):
    from hubkit.offline import save_tiny_qwen3

    folder = save_tiny_qwen3(tmp_path / "m", seed=4, layers=2)
    api.create_repo("org/tiny")
    api.upload_folder(repo_id="org/tiny", folder_path=folder)
    code = (
        "import torch; from transformers import AutoModelForCausalLM, AutoTokenizer;"
        f"m = AutoModelForCausalLM.from_pretrained('org/tiny', cache_dir={str(tmp_path / 'c')!r});"
        f"t = AutoTokenizer.from_pretrained('org/tiny', cache_dir={str(tmp_path / 'c')!r});"
        "print(m.config.num_hidden_layers, float(m.model.embed_tokens.weight.float().sum()), len(t))"
    )
    r = _run_with_endpoint(hub, code)
    assert r.returncode == 0, r.stderr[-2000:]
    from hubkit.offline import tiny_qwen3

    want = float(tiny_qwen3(4, layers=2).model.embed_tokens.weight.float().sum())
    layers, total, vocab = r.stdout.strip().splitlines()[-1].split()
    assert int(layers) == 2 and abs(float(total) - want) < 1e-6 and int(vocab) > 300
