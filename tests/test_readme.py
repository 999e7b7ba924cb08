"""Every command the README shows is run by a named test, and still parses.

The README's fenced shell commands are matched against EXERCISED: a command with no entry fails,
and so does an entry whose test is gone. What is cheap is checked here too: each ``kfp-tabular``
command is parsed by the command line's own parser (and its ``--param`` names against the
pipeline), each ``make`` target's recipe still does what its test runs, and the Python snippet
is run in a temporary folder.
"""

import ast
import pathlib
import re
import shlex
import sys

import pytest

import compile as compile_script
from pipelines.cli import build_parser
from pipelines.compiled import load_pipeline

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")

# A command's first words -> the test that runs it, and for make, what its recipe must hold.
CLI, COMPILED = "tests/test_cli.py::", "tests/test_compiled.py::"
EXERCISED = {
    "make run": (CLI + "test_demo_trains_and_scores_the_bundled_dataset", "pipelines demo"),
    "make test": ("tests/test_readme.py::test_make_test_runs_the_suite_and_the_lint", "pytest"),
    "make compile": (COMPILED + "test_committed_yaml_matches_a_fresh_compile", "compile.py"),
    "kfp-tabular train": (CLI + "test_train_then_predict_on_a_users_csv", None),
    "kfp-tabular predict": (CLI + "test_train_then_predict_on_a_users_csv", None),
    "kfp-tabular versions": (
        "tests/test_versions.py::test_rollback_renders_and_applies_the_previous_version",
        None,
    ),
    "kfp-tabular deploy": (
        "tests/test_versions.py::test_rollback_renders_and_applies_the_previous_version",
        None,
    ),
    "kfp-tabular submit": (
        "tests/test_submit.py::test_submit_uploads_the_compiled_pipeline_with_the_parameters",
        None,
    ),
    "python compile.py": (
        "tests/test_image_mode.py::test_image_mode_yaml_runs_no_pip_and_uses_the_image",
        None,
    ),
}
PIPELINES = {"training": "training_pipeline", "batch-prediction": "batch_prediction_pipeline"}


def fenced(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, flags=re.M | re.S)


def shell_commands() -> list[list[str]]:
    """The README's ``sh`` commands as words, continuations joined, comments dropped."""
    commands = []
    for block in fenced("sh"):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            while words:
                end = words.index("&&") if "&&" in words else len(words)
                commands.append(words[:end])
                words = words[end + 1 :]
    return commands


def key(words: list[str]) -> str:
    return " ".join([words[0].removeprefix(".venv/bin/"), *words[1:2]])


def makefile_recipes() -> dict[str, str]:
    recipes, target = {}, None
    for line in (ROOT / "Makefile").read_text().splitlines():
        if match := re.match(r"^([A-Za-z][\w-]*):", line):
            target = match.group(1)
            recipes[target] = line.partition(":")[2]
        elif line.startswith("\t") and target:
            recipes[target] += "\n" + line
        elif not line.strip():
            target = None
    return recipes


def test_the_readme_shows_commands():
    assert len(shell_commands()) >= 6 and fenced("python")


@pytest.mark.parametrize("words", shell_commands(), ids=key)
def test_every_readme_command_is_run_by_a_named_test(words):
    assert key(words) in EXERCISED, (
        f"README command {' '.join(words)!r} is run by no test: add one, and list it in EXERCISED"
    )
    where, recipe = EXERCISED[key(words)]
    path, _, name = where.partition("::")
    tests = {
        node.name
        for node in ast.walk(ast.parse((ROOT / path).read_text()))
        if isinstance(node, ast.FunctionDef)
    }
    assert name in tests, f"{where} is gone: point EXERCISED at the test that runs {key(words)!r}"
    if words[0] == "make":
        recipes = makefile_recipes()
        assert words[1] in recipes and recipe in recipes_of(words[1], recipes), words


def recipes_of(target: str, recipes: dict[str, str]) -> str:
    """A target's recipe with those of the targets it depends on."""
    prerequisites = recipes[target].split("\n")[0].split()
    return recipes[target] + "".join(recipes_of(p, recipes) for p in prerequisites if p in recipes)


@pytest.mark.parametrize(
    "words", [w for w in shell_commands() if key(w).startswith("kfp-tabular")], ids=key
)
def test_every_kfp_tabular_command_parses(words):
    args = build_parser(words[1]).parse_args(words[1:])
    if args.command == "submit":
        inputs = load_pipeline(PIPELINES[args.pipeline]).component_spec.inputs
        names = [item.partition("=")[0] for item in args.param]
        assert set(names) <= set(inputs), f"unknown --param {set(names) - set(inputs)}"
        required = {name for name, spec in inputs.items() if not spec.optional}
        assert required <= set(names)


def test_compile_commands_parse(monkeypatch):
    calls = []
    monkeypatch.setattr(compile_script, "compile_all", lambda *args: calls.append(args) or [])
    for words in shell_commands():
        if key(words) == "python compile.py":
            monkeypatch.setattr(sys, "argv", words[1:])
            compile_script.main()
    assert calls and all(image for _, image in calls)  # the README shows image mode


def test_make_test_runs_the_suite_and_the_lint():
    recipe = makefile_recipes()["test"]
    assert "ruff check" in recipe and "-m pytest" in recipe


def test_the_reuse_snippet_compiles_a_pipeline(tmp_path, monkeypatch):
    (tmp_path / "compiled").symlink_to(ROOT / "compiled")
    monkeypatch.chdir(tmp_path)
    for block in fenced("python"):
        exec(compile(block, "README.md", "exec"), {"__name__": "readme"})
    assert "train-model" in (tmp_path / "my_pipeline.yaml").read_text()
