"""Writes the component and pipeline reference pages from the compiled YAML.

Usage: python docs/generate.py [--check]   (``make docs`` runs it after ``make compile``)

For every ``compiled/components/<name>.yaml`` it writes ``docs/components/<name>.md``, for every
``compiled/<name>.yaml`` ``docs/pipelines/<name>.md``, and an index, ``docs/reference.md``. A page
holds the docstring (KFP keeps it in the YAML's ``# Description:`` header), every input and output
artifact with its type, every parameter with its type and default, each with its description from
the docstring's ``Args:`` and ``Returns:``, and the catalogue metadata of
``components/metadata/<name>.yaml`` or ``pipelines/metadata/<name>.yaml``: the schema of the
kubeflow/pipelines-components catalogue (``scripts/validate_metadata/metadata_schema.json``
there), checked here without a JSON-schema library. A pipeline's page also lists its steps with
their conditions, caching, retries, resources and secrets.

Only the compiled YAML and the metadata files are read, never our Python, so a page says exactly
what Kubeflow runs, and a component added on another branch needs nothing here: compile, write its
metadata file, run ``make docs``. The output is deterministic; pages of components that are gone
are deleted. ``--check`` writes nothing and exits 1 when a page is stale (``tests/test_docs.py``
does the same).
"""

import argparse
import datetime
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
COMPILED = ROOT / "compiled"
DOCS = ROOT / "docs"
GENERATED_DIRS = ("components", "pipelines")
INDEX = "reference.md"

PARAMETER_TYPES = {
    "STRING": "str",
    "NUMBER_INTEGER": "int",
    "NUMBER_DOUBLE": "float",
    "BOOLEAN": "bool",
    "LIST": "list",
    "STRUCT": "dict",
    "TASK_FINAL_STATUS": "PipelineTaskFinalStatus",
}
STABILITIES = ("alpha", "beta", "stable")
METADATA_KEYS = {
    "name",
    "stability",
    "dependencies",
    "lastVerified",
    "tags",
    "ci",
    "links",
    "managed",
    "description",
}
# The catalogue's pattern for a dependency's version: semantic versioning with an optional operator.
SEMVER = re.compile(
    r"^(==|>=|<=|~=)?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)


class DocsError(ValueError):
    """A compiled file or a metadata file the reference cannot be written from."""


# --- reading ---------------------------------------------------------------------------------


def load_compiled(path: pathlib.Path) -> tuple[dict, dict, str]:
    """The pipeline spec, the platform spec ({} if none) and the description of a compiled YAML."""
    text = path.read_text(encoding="utf-8")
    documents = list(yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    return documents[0], (documents[1] if len(documents) > 1 else {}), header_description(text)


def header_description(text: str) -> str:
    """The ``# Description:`` block KFP writes at the top of a compiled file (the docstring)."""
    lines, inside = [], False
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        if line.startswith("# Description: "):
            inside = True
            lines.append(line[len("# Description: ") :])
        elif inside and line.startswith("#" + " " * 14):
            lines.append(line[len("# Description: ") :])
        elif inside and line.strip() == "#":
            lines.append("")
        elif inside:
            break
    return "\n".join(line.rstrip() for line in lines).strip()


def load_metadata(path: pathlib.Path, name: str, shown: str) -> dict:
    """Reads and checks one catalogue metadata file; a problem is one line naming the fix."""
    if not path.is_file():
        raise DocsError(
            f"{shown}: missing. Every component and pipeline needs one in the"
            " kubeflow/pipelines-components schema: copy a neighbour's and edit it."
        )
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    for problem in metadata_problems(doc, name):
        raise DocsError(f"{shown}: {problem}.")
    return doc


def metadata_problems(doc, name: str) -> list[str]:
    """What makes ``doc`` fail the catalogue's metadata schema, one phrase each."""
    if not isinstance(doc, dict):
        return ["not a mapping"]
    problems = [
        f"{key!r} is required"
        for key in ("name", "stability", "dependencies", "lastVerified")
        if key not in doc
    ]
    problems += [
        f"{key!r} is not in the catalogue's schema" for key in sorted(set(doc) - METADATA_KEYS)
    ]
    if "name" in doc and doc["name"] != name:
        problems.append(f"name is {doc['name']!r}, expected {name!r}")
    if "stability" in doc and doc["stability"] not in STABILITIES:
        problems.append(f"stability {doc['stability']!r} is not one of {list(STABILITIES)}")
    dependencies = doc.get("dependencies", {})
    if not isinstance(dependencies, dict) or set(dependencies) - {"kubeflow", "external_services"}:
        problems.append("dependencies holds only 'kubeflow' and 'external_services' lists")
        dependencies = {}
    kubeflow = dependencies.get("kubeflow") or []
    if "dependencies" in doc and not any(d.get("name") == "Pipelines" for d in kubeflow):
        problems.append("dependencies.kubeflow needs an entry named 'Pipelines' with its version")
    for dependency in kubeflow + (dependencies.get("external_services") or []):
        if not SEMVER.match(str(dependency.get("version", ""))):
            problems.append(
                f"dependency {dependency.get('name')!r} has version {dependency.get('version')!r},"
                " expected semantic versioning such as '>=2.16.0'"
            )
    if "lastVerified" in doc and not is_date_time(doc["lastVerified"]):
        problems.append(
            f"lastVerified {doc['lastVerified']!r} is not a date-time such as 2026-12-02T00:00:00Z"
        )
    if not all(isinstance(tag, str) for tag in doc.get("tags", [])):
        problems.append("tags must be strings")
    if not isinstance(doc.get("links", {}), dict):
        problems.append("links must be a mapping of label to address")
    return problems


def is_date_time(value) -> bool:
    """Whether ``value`` is an ISO 8601 date-time (YAML may already have parsed it)."""
    if isinstance(value, datetime.datetime):
        return True
    try:
        datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return False
    return "T" in str(value)


# --- rendering -------------------------------------------------------------------------------


def markdown(text: str) -> str:
    """Turns reStructuredText literals (``x``) into Markdown code (`x`)."""
    return re.sub(r"``(.+?)``", r"`\1`", text, flags=re.S)


def cell(text: str | None) -> str:
    """One table cell: a single line, pipes escaped."""
    return markdown(" ".join((text or "").split())).replace("|", "\\|")


def integral(value):
    """A default with whole floats as ints: KFP stores every number of a list or dict as a float."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [integral(item) for item in value]
    if isinstance(value, dict):
        return {key: integral(item) for key, item in value.items()}
    return value


def default_text(spec: dict) -> str:
    """A parameter's default as the Python literal a caller writes; '' for a required one."""
    if "defaultValue" not in spec:
        return "optional" if spec.get("isOptional") else "required"
    value = spec["defaultValue"]
    kind = spec.get("parameterType")
    if kind == "NUMBER_INTEGER":
        value = int(value)
    elif kind != "NUMBER_DOUBLE":
        value = integral(value)
    return f"`{value!r}`".replace("|", "\\|")


def artifact_type(spec: dict) -> str:
    """``system.Model@0.0.1`` as ``Model``; a list of artifacts as ``list[Model]``."""
    title = spec["artifactType"]["schemaTitle"].removeprefix("system.")
    return f"list[{title}]" if spec.get("isArtifactList") else title


def interface_tables(definitions: dict, outputs: bool) -> list[str]:
    """The artifacts, then the parameters, of an input or output definition, as tables."""

    def parameter_type(spec):
        return PARAMETER_TYPES.get(spec["parameterType"], spec["parameterType"])

    def required(spec):
        return "no" if spec.get("isOptional") else "yes"

    # Per kind: its heading, its definitions, and the middle columns inputs add to name and type.
    artifacts, parameters = definitions.get("artifacts", {}), definitions.get("parameters", {})
    kinds = [
        ("Artifacts", artifacts, artifact_type, ("required", required)),
        ("Parameters", parameters, parameter_type, ("default", default_text)),
    ]
    lines = []
    for heading, specs, type_of, (column, value_of) in kinds:
        if not specs:
            continue
        columns = ["name", "type", *([] if outputs else [column]), "description"]
        lines += [f"**{heading}**", "", "| " + " | ".join(columns) + " |"]
        lines.append("| " + " | ".join("---" for _ in columns) + " |")
        for name, spec in sorted(specs.items()):
            cells = [f"`{name}`", type_of(spec), *([] if outputs else [value_of(spec)])]
            lines.append("| " + " | ".join([*cells, cell(spec.get("description"))]) + " |")
        lines.append("")
    return lines or ["None.", ""]


def link(target: str) -> str:
    """A metadata link: an address as it is, a repository path relative to a reference page."""
    return target if re.match(r"^[a-z]+://", target) else f"../../{target}"


def metadata_lines(metadata: dict) -> list[str]:
    """The catalogue metadata as a small table, and its links."""
    dependencies = metadata["dependencies"]
    services = dependencies.get("external_services") or []
    last = metadata["lastVerified"]
    last = last.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(last, datetime.datetime) else last
    lines = [
        "| stability | depends on | tags | last verified |",
        "| --- | --- | --- | --- |",
        f"| {metadata['stability']} | "
        + ", ".join(f"Kubeflow {d['name']} `{d['version']}`" for d in dependencies["kubeflow"])
        + "".join(f", {d['name']} `{d['version']}`" for d in services)
        + f" | {', '.join(metadata.get('tags', [])) or '–'} | {last} |",
        "",
    ]
    if metadata.get("links"):
        lines += [
            " · ".join(
                f"[{label}]({link(str(target))})" for label, target in metadata["links"].items()
            ),
            "",
        ]
    return lines


def header(kind: str, name: str, source: str, metadata_path: str) -> list[str]:
    """The title, and a comment saying where the page comes from and how to refresh it."""
    return [
        f"# {kind} `{name}`",
        "",
        f"<!-- Generated by docs/generate.py from {source} and {metadata_path}: edit the docstring"
        " or the metadata, then run `make docs`. -->",
        "",
    ]


def description_lines(description: str, metadata: dict) -> list[str]:
    """The docstring's summary line, the catalogue metadata, then the docstring's body."""
    summary, _, body = description.partition("\n")
    lines = [markdown(summary.strip()), "", *metadata_lines(metadata)]
    if body.strip():
        lines += [markdown(body.strip()), ""]
    return lines


def component_page(name: str, spec: dict, description: str, metadata: dict) -> str:
    """The reference page of one compiled component."""
    (component,) = [c for c in spec["components"].values() if "executorLabel" in c]
    executor = spec["deploymentSpec"]["executors"][component["executorLabel"]]
    image = executor.get("container", {}).get("image", "")
    source = f"compiled/components/{name}.yaml"
    lines = header("Component", name, source, f"components/metadata/{name}.yaml")
    lines += description_lines(description, metadata)
    lines += ["## Inputs", ""] + interface_tables(spec["root"].get("inputDefinitions", {}), False)
    lines += ["## Outputs", ""] + interface_tables(spec["root"].get("outputDefinitions", {}), True)
    lines += [
        "## Use it",
        "",
        f"Runs on `{image}`. The YAML stands alone: it embeds its code and its pins.",
        "",
        "```python",
        "from kfp import components",
        "",
        loading_line(name, source),
        "```",
        "",
    ]
    return "\n".join(lines)


def pretty_condition(condition: str) -> str:
    """KFP's condition expression with the pipeline-channel plumbing taken out."""
    return re.sub(r"inputs\.parameter_values\['pipelinechannel--([^']+)'\]", r"\1", condition)


def step_rows(spec: dict, platform: dict, components: set[str]) -> list[str]:
    """One table row per step of the pipeline, nested conditions flattened, in run order.

    A step inside a condition also waits for what its condition group waits for (the compiled
    spec records that on the group), so "after" shows its own and its innermost group's.
    """
    executors = spec["deploymentSpec"]["executors"]
    secrets = platform.get("platforms", {}).get("kubernetes", {}).get("deploymentSpec", {})
    secrets = secrets.get("executors", {})
    dags = [spec["root"], *spec["components"].values()]
    shown = {
        key: task["taskInfo"]["name"]
        for dag in dags
        for key, task in dag.get("dag", {}).get("tasks", {}).items()
    }
    groups = {
        key: spec["components"][task["componentRef"]["name"]]["dag"]["tasks"]
        for dag in dags
        for key, task in dag.get("dag", {}).get("tasks", {}).items()
        if "dag" in spec["components"][task["componentRef"]["name"]]
    }

    def steps(key: str) -> set[str]:
        """A task's name, or for a condition or loop group, the names of the steps inside."""
        return set().union(*map(steps, groups[key])) if key in groups else {shown.get(key, key)}

    rows = []

    def visit(dag: dict, conditions: tuple[str, ...], inherited: tuple[str, ...]) -> None:
        for task_name in run_order(dag["tasks"]):
            task = dag["tasks"][task_name]
            component = spec["components"][task["componentRef"]["name"]]
            condition = task.get("triggerPolicy", {}).get("condition")
            inner = conditions + ((pretty_condition(condition),) if condition else ())
            inner += loop(task)
            after = tuple(task.get("dependentTasks", []))
            if "dag" in component:
                visit(component["dag"], inner, after or inherited)
                continue
            label = component["executorLabel"]
            executor = executors[label]
            waits = sorted(set().union(*map(steps, after + inherited)))
            rows.append(
                f"| `{task['taskInfo']['name']}` | {step_component(task, executor, components)} |"
                f" {', '.join(f'`{name}`' for name in waits) or '–'} |"
                f" {' and '.join(f'`{c}`' for c in inner) or 'always'} |"
                f" {step_settings(task, executor, secrets.get(label, {}))} |"
            )

    visit(spec["root"]["dag"], (), ())
    return rows


def loop(task: dict) -> tuple[str, ...]:
    """A ``dsl.ParallelFor`` group as a condition: once for each item of what it iterates on."""
    iterator = task.get("parameterIterator") or task.get("artifactIterator")
    if not iterator:
        return ()
    items = iterator.get("items", {})
    source = items.get("inputParameter") or items.get("inputArtifact") or items.get("raw", "")
    return (f"for each item of {source.removeprefix('pipelinechannel--')}",)


def run_order(tasks: dict) -> list[str]:
    """Task names in dependency order, ties by name, so the table reads as the run goes."""
    done, order = set(), []
    while len(order) < len(tasks):
        ready = sorted(
            name
            for name, task in tasks.items()
            if name not in done and set(task.get("dependentTasks", [])) & set(tasks) <= done
        )
        ready = ready or sorted(set(tasks) - done)[:1]
        done.add(ready[0])
        order.append(ready[0])
    return order


def step_component(task: dict, executor: dict, components: set[str]) -> str:
    """What a step runs: an importer, or a component, linked to its page when it is one of ours."""
    if "importer" in executor:
        kind = executor["importer"]["typeSchema"]["schemaTitle"].removeprefix("system.")
        return f"`dsl.importer` ({kind})"
    name = re.sub(r"-\d+$", "", task["componentRef"]["name"].removeprefix("comp-")).replace(
        "-", "_"
    )
    return f"[`{name}`](../components/{name}.md)" if name in components else f"`{name}`"


def step_settings(task: dict, executor: dict, platform: dict) -> str:
    """A step's caching, retries, resources and secrets, as compiled."""
    settings = []
    if task.get("cachingOptions", {}).get("enableCache"):
        settings.append("cached")
    if "retryPolicy" in task:
        retry = task["retryPolicy"]
        count, backoff = retry.get("maxRetryCount", 0), retry.get("backoffDuration", "0s")
        settings.append(f"{count} retries, {backoff} back-off")
    resources = executor.get("container", {}).get("resources", {})
    if resources:
        cpu = "–".join(
            resources[k] for k in ("resourceCpuRequest", "resourceCpuLimit") if k in resources
        )
        memory = "–".join(
            resources[k] for k in ("resourceMemoryRequest", "resourceMemoryLimit") if k in resources
        )
        settings += [f"CPU {cpu}"] if cpu else []
        settings += [f"memory {memory}"] if memory else []
    for secret in platform.get("secretAsEnv", []):
        names = ", ".join(f"`{k['envVar']}`" for k in secret.get("keyToEnv", []))
        optional = ", optional" if secret.get("optional") else ""
        settings.append(f"{names} from secret `{secret['secretName']}`{optional}")
    return "; ".join(settings) or "–"


def loading_line(name: str, source: str) -> str:
    """The line that loads the YAML, wrapped as ruff formats it (the pages' code is linted too)."""
    line = f'{name} = components.load_component_from_file("{source}")'
    if len(line) <= 100:
        return line
    return f'{name} = components.load_component_from_file(\n    "{source}"\n)'


def pipeline_page(
    name: str, spec: dict, platform: dict, description: str, metadata: dict, components: set[str]
) -> str:
    """The reference page of one compiled pipeline."""
    source = f"compiled/{name}.yaml"
    lines = header("Pipeline", name, source, f"pipelines/metadata/{name}.yaml")
    lines += description_lines(description or spec["pipelineInfo"].get("description", ""), metadata)
    lines += ["## Inputs", ""] + interface_tables(spec["root"].get("inputDefinitions", {}), False)
    lines += ["## Outputs", ""] + interface_tables(spec["root"].get("outputDefinitions", {}), True)
    lines += [
        "## Steps",
        "",
        "| step | component | after | runs when | settings on a cluster |",
        "| --- | --- | --- | --- | --- |",
        *step_rows(spec, platform, components),
        "",
        "## Run it",
        "",
        f"Upload `{source}` in the Kubeflow UI, submit it with `kfp-tabular submit`, or load it:",
        "",
        "```python",
        "from kfp import components",
        "",
        loading_line(name, source),
        "```",
        "",
    ]
    return "\n".join(lines)


def index_page(entries: dict[str, list[tuple[str, str, str]]]) -> str:
    """The index of every pipeline and component page, with its stability and summary."""
    lines = [
        "# Reference",
        "",
        "<!-- Generated by docs/generate.py: run `make docs`. -->",
        "",
        "Generated from the compiled YAML (`make docs`): every input, output and parameter of each"
        " pipeline and component, with its type, default and description.",
        "",
    ]
    for folder, title in (("pipelines", "Pipelines"), ("components", "Components")):
        lines += [f"## {title}", "", "| name | stability | what it does |", "| --- | --- | --- |"]
        lines += [
            f"| [`{n}`]({folder}/{n}.md) | {s} | {cell(summary)} |"
            for n, s, summary in entries[folder]
        ]
        lines.append("")
    return "\n".join(lines)


def generate(compiled: pathlib.Path = COMPILED, root: pathlib.Path = ROOT) -> dict[str, str]:
    """Every reference page, by its path under ``docs/``; raises DocsError on a bad input."""
    pages: dict[str, str] = {}
    entries: dict[str, list[tuple[str, str, str]]] = {"components": [], "pipelines": []}
    component_files = sorted((compiled / "components").glob("*.yaml"))
    components = {path.stem for path in component_files}
    for path in component_files:
        spec, _, description = load_compiled(path)
        shown = f"components/metadata/{path.stem}.yaml"
        metadata = load_metadata(root / shown, path.stem, shown)
        pages[f"components/{path.stem}.md"] = component_page(path.stem, spec, description, metadata)
        entries["components"].append((path.stem, metadata["stability"], description.split("\n")[0]))
    for path in sorted(compiled.glob("*.yaml")):
        spec, platform, description = load_compiled(path)
        shown = f"pipelines/metadata/{path.stem}.yaml"
        metadata = load_metadata(root / shown, path.stem, shown)
        pages[f"pipelines/{path.stem}.md"] = pipeline_page(
            path.stem, spec, platform, description, metadata, components
        )
        summary = (description or spec["pipelineInfo"].get("description", "")).split("\n")[0]
        entries["pipelines"].append((path.stem, metadata["stability"], summary))
    pages[INDEX] = index_page(entries)
    return pages


def stale(pages: dict[str, str], docs: pathlib.Path = DOCS) -> list[str]:
    """The pages under ``docs`` that differ from ``pages``, are missing, or should be gone."""
    on_disk = {INDEX} if (docs / INDEX).exists() else set()
    for folder in GENERATED_DIRS:
        on_disk |= {f"{folder}/{p.name}" for p in (docs / folder).glob("*.md")}
    return sorted(
        name
        for name in on_disk | set(pages)
        if name not in pages
        or name not in on_disk
        or (docs / name).read_text(encoding="utf-8") != pages[name]
    )


def write(pages: dict[str, str], docs: pathlib.Path = DOCS) -> list[str]:
    """Writes the stale pages and deletes the pages of what is gone; returns what changed."""
    changed = stale(pages, docs)
    for name in changed:
        target = docs / name
        if name in pages:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(pages[name], encoding="utf-8")
        else:
            target.unlink()
    return changed


def main() -> None:
    """Parses the command line, then writes or checks the pages."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    args = parser.parse_args()
    try:
        pages = generate()
    except DocsError as error:
        sys.exit(f"error: {error}")
    if args.check:
        changed = stale(pages)
        if changed:
            sys.exit(f"stale reference pages {changed}: run `make docs` and commit docs/")
        return
    for name in write(pages):
        print(f"docs/{name}")


if __name__ == "__main__":
    main()
