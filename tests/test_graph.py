"""Staleness and run-order rules, on small test-defined artifact kinds and on the demo."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
import yaml

from hubkit import pipeline
from hubkit.artifacts import Artifact, BuildContext
from hubkit.config import load_release
from hubkit.errors import UsageError
from hubkit.graph import Graph
from hubkit.workspace import Workspace
from tests.conftest import CONFIGS, copy_demo


@dataclass
class Text(Artifact):
    """Writes its value plus the text of its inputs: output depends on config and inputs."""

    kind = "text"
    repo_type = "dataset"
    value: str = ""
    fail: bool = False
    calls: list = field(default_factory=list)

    def spec(self):
        return {"value": self.value}

    def build(self, ctx: BuildContext) -> None:
        self.calls.append(self.name)
        parts = [(ctx.inputs[i] / "out.txt").read_text() for i in self.inputs]
        (ctx.out / "out.txt").write_text("+".join([*parts, self.value]))
        if self.fail:
            raise RuntimeError("boom")


@pytest.fixture
def release():
    return load_release(CONFIGS / "demo.yaml")


def chain(release, **values):
    """a <- b <- c, plus an independent d."""
    calls: list = []
    v = {"a": "A", "b": "B", "c": "C", "d": "D", **values}
    return calls, [
        Text("a", release, (), value=v["a"], calls=calls),
        Text("b", release, ("a",), value=v["b"], calls=calls),
        Text("c", release, ("b",), value=v["c"], calls=calls),
        Text("d", release, (), value=v["d"], calls=calls),
    ]


def states(release, ws, arts):
    return {r.name: (r.state.status, r.state.reason) for r in pipeline.status(release, ws, arts)}


def test_first_build_builds_all_in_dependency_order(release, tmp_path):
    ws = Workspace(tmp_path)
    calls, arts = chain(release)
    out = pipeline.build(release, ws, artifacts=arts, report=lambda m: None)
    assert calls == ["a", "b", "c", "d"]
    assert set(out.values()) == {"built"}
    assert (tmp_path / "c" / "out.txt").read_text() == "A+B+C"
    assert {s for s, _ in states(release, ws, arts).values()} == {"up to date"}


def test_nothing_changed_rebuilds_nothing_and_says_so(release, tmp_path):
    ws = Workspace(tmp_path)
    pipeline.build(release, ws, artifacts=chain(release)[1], report=lambda m: None)
    calls, arts = chain(release)
    said: list[str] = []
    out = pipeline.build(release, ws, artifacts=arts, report=said.append)
    assert calls == []
    assert set(out.values()) == {"up to date"}
    assert "nothing was rebuilt" in said


def test_changing_one_value_rebuilds_it_and_its_dependents_only(release, tmp_path):
    ws = Workspace(tmp_path)
    pipeline.build(release, ws, artifacts=chain(release)[1], report=lambda m: None)
    calls, arts = chain(release, b="B2")
    assert states(release, ws, arts) == {
        "a": ("up to date", ""),
        "b": ("stale", "config changed"),
        "c": ("stale", "input b is stale"),
        "d": ("up to date", ""),
    }
    pipeline.build(release, ws, artifacts=arts, report=lambda m: None)
    assert calls == ["b", "c"]
    assert (tmp_path / "c" / "out.txt").read_text() == "A+B2+C"


def test_targets_bring_their_inputs_and_nothing_else(release, tmp_path):
    calls, arts = chain(release)
    pipeline.build(release, Workspace(tmp_path), ["b"], artifacts=arts, report=lambda m: None)
    assert calls == ["a", "b"]


def test_forced_rebuild_of_an_input_makes_dependents_stale(release, tmp_path):
    ws = Workspace(tmp_path)
    pipeline.build(release, ws, artifacts=chain(release)[1], report=lambda m: None)
    # Same config, different bytes (as a non-deterministic training run would give).
    _, arts = chain(release)
    arts[0].build = lambda ctx: (ctx.out / "out.txt").write_text("A'")
    pipeline.build(release, ws, ["a"], force=True, artifacts=arts, report=lambda m: None)
    assert states(release, ws, arts)["b"] == ("stale", "input a was rebuilt")


def test_missing_or_changed_output_file_is_stale(release, tmp_path):
    ws = Workspace(tmp_path)
    _, arts = chain(release)
    pipeline.build(release, ws, artifacts=arts, report=lambda m: None)
    (tmp_path / "d" / "out.txt").unlink()
    assert states(release, ws, arts)["d"] == ("stale", "output files missing or changed: out.txt")


def test_failed_build_keeps_the_previous_output(release, tmp_path):
    ws = Workspace(tmp_path)
    pipeline.build(release, ws, artifacts=chain(release)[1], report=lambda m: None)
    before = (tmp_path / "a" / "manifest.json").read_text()
    _, arts = chain(release, a="A2")
    arts[0].fail = True
    with pytest.raises(RuntimeError, match="boom"):
        pipeline.build(release, ws, artifacts=arts, report=lambda m: None)
    assert (tmp_path / "a" / "out.txt").read_text() == "A"
    assert (tmp_path / "a" / "manifest.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "c", "d"]


def test_manifest_records_lineage(release, tmp_path):
    ws = Workspace(tmp_path)
    graph_arts = chain(release)[1]
    pipeline.build(release, ws, artifacts=graph_arts, report=lambda m: None)
    m = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert m["fingerprint"] == Graph(release, ws, graph_arts).key("b")
    assert m["inputs"] == {"a": ws.manifest("a")["content"]}
    assert m["config"] == {"value": "B"}
    assert "torch" in m["versions"] and "hubkit" in m["versions"]
    assert m["files"]["out.txt"]["size"] == len("A+B")
    assert m["built_at"].endswith("+00:00")
    assert "hubkit_commit" in m


def test_cycle_and_unknown_dependency_are_errors(release, tmp_path):
    ws = Workspace(tmp_path)
    cyc = [Text("a", release, ("b",)), Text("b", release, ("a",))]
    with pytest.raises(UsageError, match=r"dependency cycle: (a -> b -> a|b -> a -> b)"):
        Graph(release, ws, cyc)
    with pytest.raises(UsageError, match="artifact 'a' depends on unknown artifact 'zz'"):
        Graph(release, ws, [Text("a", release, ("zz",))])
    with pytest.raises(UsageError, match="unknown artifact 'nope'"):
        Graph(release, ws, chain(release)[1]).closure(["nope"])


def test_what_this_machine_cannot_build_is_refused_before_anything_builds(release, tmp_path):
    ws = Workspace(tmp_path)
    calls, arts = chain(release)

    def needs_cuda():
        raise UsageError("c: needs a CUDA GPU")

    arts[2].check = needs_cuda
    assert {s for s, _ in states(release, ws, arts).values()} == {"not built"}  # status judges, never refuses
    with pytest.raises(UsageError, match="c: needs a CUDA GPU"):
        pipeline.build(release, ws, artifacts=arts, report=lambda m: None)
    assert calls == [] and sorted(p.name for p in tmp_path.iterdir()) == []  # not even a or d
    pipeline.build(release, ws, ["b", "d"], artifacts=arts, report=lambda m: None)  # c not asked for: no check
    assert calls == ["a", "b", "d"]


def test_demo_students_rebuild_exactly_when_their_base_changes(fixture_demo, tmp_path):
    first = (fixture_demo / "build.log").read_text()
    assert "tiny-qwen3-a-distilled: built" in first and "tiny-qwen3-b-distilled: built" in first
    demo = copy_demo(fixture_demo, tmp_path / "demo")
    demo_config, ws = demo / "configs" / "demo.yaml", Workspace(demo / "ws")
    data = yaml.safe_load(demo_config.read_text())
    data["models"][1]["base_fixture"]["seed"] = 7
    demo_config.write_text(yaml.safe_dump(data, sort_keys=False))
    again = pipeline.build(load_release(demo_config), ws, report=lambda m: None)
    assert again["tiny-qwen3-a-distilled"] == "up to date"
    assert again["tiny-qwen3-b-distilled"] == "built"
