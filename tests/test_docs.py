"""The generated reference: fresh, complete, and its metadata in the catalogue's schema."""

import importlib.util
import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
COMPILED = ROOT / "compiled"
spec = importlib.util.spec_from_file_location("docs_generate", ROOT / "docs" / "generate.py")
generate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(generate)

COMPILED_FILES = sorted(COMPILED.glob("*.yaml")) + sorted((COMPILED / "components").glob("*.yaml"))


def test_reference_pages_match_a_fresh_generation():
    stale = generate.stale(generate.generate())
    assert not stale, f"docs/ reference pages {stale} are stale: run `make docs` and commit docs/"


@pytest.mark.parametrize("path", COMPILED_FILES, ids=lambda p: p.stem)
def test_every_interface_name_appears_in_its_page(path):
    """Read here from the YAML on its own, not through the generator."""
    root = next(yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader))["root"]
    names = [
        name
        for side in ("inputDefinitions", "outputDefinitions")
        for kind in ("artifacts", "parameters")
        for name in root.get(side, {}).get(kind, {})
    ]
    folder = "components" if path.parent.name == "components" else "pipelines"
    page = (ROOT / "docs" / folder / f"{path.stem}.md").read_text()
    assert names and [name for name in names if f"| `{name}` |" not in page] == []


def test_a_stale_or_leftover_page_is_found_and_rewritten(tmp_path):
    pages = {"reference.md": "index\n", "components/a.md": "a\n"}
    assert generate.stale(pages, tmp_path) == ["components/a.md", "reference.md"]
    generate.write(pages, tmp_path)
    (tmp_path / "components" / "gone.md").write_text("an old component\n")
    (tmp_path / "components" / "a.md").write_text("edited\n")
    assert generate.stale(pages, tmp_path) == ["components/a.md", "components/gone.md"]
    generate.write(pages, tmp_path)
    assert not generate.stale(pages, tmp_path) and not (tmp_path / "components/gone.md").exists()


GOOD = {
    "name": "train_model",
    "stability": "alpha",
    "dependencies": {"kubeflow": [{"name": "Pipelines", "version": ">=2.16.0"}]},
    "lastVerified": "2026-12-02T00:00:00Z",
}


@pytest.mark.parametrize(
    "change, problem",
    [
        ({}, None),
        ({"stability": "gamma"}, "stability 'gamma' is not one of"),
        ({"name": "train"}, "name is 'train', expected 'train_model'"),
        ({"dependencies": {"kubeflow": []}}, "needs an entry named 'Pipelines'"),
        (
            {"dependencies": {"kubeflow": [{"name": "Pipelines", "version": "2.16"}]}},
            "expected semantic versioning",
        ),
        ({"lastVerified": "last week"}, "is not a date-time"),
        ({"owner": "me"}, "'owner' is not in the catalogue's schema"),
    ],
)
def test_metadata_is_checked_against_the_catalogue_schema(change, problem):
    problems = generate.metadata_problems({**GOOD, **change}, "train_model")
    assert (problems == []) if problem is None else any(problem in p for p in problems), problems


def test_a_missing_metadata_file_is_one_line_naming_it(tmp_path):
    (tmp_path / "components").mkdir()
    (tmp_path / "components" / "gather_predictions.yaml").write_bytes(
        (COMPILED / "components" / "record_rejection.yaml").read_bytes()
    )
    with pytest.raises(
        generate.DocsError, match=r"components/metadata/gather_predictions.yaml: missing"
    ):
        generate.generate(compiled=tmp_path, root=tmp_path)


# Written on other branches at the same time; linked already, merged later.
PENDING = set()  # pages named in links before they land; none now


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_relative_link_and_anchor_resolves():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    broken = []
    for page in pages:
        text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.M | re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"^[a-z]+://", target):
                continue
            file, _, anchor = target.partition("#")
            path = (page.parent / file).resolve() if file else page
            if path.name in PENDING and not path.exists():
                continue
            headings = (
                re.findall(r"^#+ (.*)$", path.read_text(), re.M)
                if path.suffix == ".md" and path.is_file()
                else []
            )
            if not path.exists() or (anchor and anchor not in map(slug, headings)):
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken


def test_a_loop_and_its_gather_step_are_shown(tmp_path):
    """Other branches add steps such as a gather after a ParallelFor: nothing here is specific."""
    from kfp import compiler, dsl

    @dsl.component(base_image="python:3.11")
    def score_shard(shard: int) -> str:
        return str(shard)

    @dsl.component(base_image="python:3.11")
    def gather_shards(parts: list) -> str:
        return ",".join(parts)

    @dsl.pipeline
    def sharded(shards: list = [1, 2]) -> str:  # noqa: B006 (KFP needs a literal default)
        with dsl.ParallelFor(shards) as shard:
            scored = score_shard(shard=shard)
        return gather_shards(parts=dsl.Collected(scored.output)).output

    compiler.Compiler().compile(sharded, str(tmp_path / "sharded.yaml"))
    spec, platform, description = generate.load_compiled(tmp_path / "sharded.yaml")
    page = generate.pipeline_page(
        "sharded", spec, platform, description, GOOD, {"score_shard", "gather_shards"}
    )
    assert "| `score-shard` | [`score_shard`](../components/score_shard.md) | – |" in page
    assert "`for each item of shards`" in page
    assert (
        "| `gather-shards` | [`gather_shards`](../components/gather_shards.md) | `score-shard` |"
        in page
    )
