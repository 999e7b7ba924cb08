"""Checks of the command line's options, made before the first pipeline step runs.

Each returns one line per problem, naming the option and giving an example;
``pipelines.cli`` prints them and runs nothing.
"""

import json
import pathlib
import tempfile

ERROR_MARK = "kfp-tabular error: "  # how a component's one-line error starts

# Shown in the message when a list option is not a JSON list.
LIST_EXAMPLES = {
    "search_space": '[{"model": "random_forest"}, {"model": "hist_gradient_boosting"}]',
    "fail_on": '["leak", "constant"]',
}
# To check the target column, a local CSV is read whole up to HEADER_BYTES; of a
# larger one its first HEADER_BYTES, or the whole file up to WHOLE_FILE_BYTES when
# that prefix alone is unreadable (target_problems).
HEADER_BYTES = 1 << 16
WHOLE_FILE_BYTES = 50 << 20


def option(name: str) -> str:
    """The command-line option of a pipeline parameter: ``test_size`` gives ``--test-size``."""
    return "--" + name.replace("_", "-")


def parsed_list_options(options: dict, pipeline) -> tuple[dict, list[str]]:
    """Parses the list options, given as JSON text.

    Args:
        options: Pipeline parameters from ``pipeline_options``; a list option is
            JSON text (from the command line) or already a list.
        pipeline: The pipeline they are for.

    Returns:
        ``(options, problems)``: the options with each valid list parsed, and one
        line per option that is not a JSON list.
    """
    parsed, problems = dict(options), []
    for name, text in options.items():
        if pipeline.component_spec.inputs[name].type != "List" or not isinstance(text, str):
            continue
        example = f"{option(name)} '{LIST_EXAMPLES.get(name, '[...]')}'"
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            problems.append(
                f"{option(name)}: not valid JSON ({error.msg} at char {error.pos}). "
                f"Give a JSON list, e.g. {example}"
            )
            continue
        if not isinstance(value, list):
            problems.append(
                f"{option(name)}: {shortened(text)} is {json_kind(value)}, not a list. "
                f"Give a JSON list, e.g. {example}"
            )
            continue
        parsed[name] = value
    return parsed, problems


def json_kind(value) -> str:
    """What a parsed JSON value is, in JSON's words: an object, a string, a number or null."""
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, str):
        return "a JSON string"
    if isinstance(value, bool):
        return "a JSON boolean"
    if isinstance(value, (int, float)):
        return "a JSON number"
    return "JSON null"


def shortened(text: str, limit: int = 60) -> str:
    """``text`` quoted, cut to ``limit`` characters."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def training_option_problems(options: dict, pipeline) -> list[str]:
    """Checks the training options that the pipeline would only refuse mid-run.

    ``--test-size``, ``--task``, the metrics, ``--canary-percent`` and
    ``--keep-versions`` are checked here; every
    search-space candidate goes through the model families' own validation,
    ``components.families.check_candidate`` (without importing scikit-learn).

    Args:
        options: Pipeline parameters, list options already parsed.
        pipeline: The training pipeline, for the defaults of the options not given.

    Returns:
        One line per problem, naming the option.
    """
    defaults = {name: spec.default for name, spec in pipeline.component_spec.inputs.items()}
    given = {**defaults, **options}
    problems = []
    size = given["test_size"]
    if isinstance(size, bool) or not isinstance(size, (int, float)) or not 0 < size < 1:
        problems.append(
            f"--test-size: must be strictly between 0 and 1 (the share of rows held out for "
            f"evaluation), got {size!r}. Use e.g. --test-size 0.2"
        )

    from components.tasks import task_metrics

    task = given["task"]
    if task not in ("auto", "classification", "regression"):
        problems.append(
            f"--task: must be auto, classification or regression, got {task!r}. "
            "Use e.g. --task regression"
        )
    known = {"auto", *task_metrics("classification"), *task_metrics("regression")}
    for name in ("selection_metric", "min_metric"):
        if given[name] not in known:
            problems.append(
                f"{option(name)}: {given[name]!r} is not a metric; use auto or one of "
                f"{sorted(known - {'auto'})}. Use e.g. {option(name)} auto"
            )

    problems += memory_option_problems(given)
    problems += column_option_problems(given, task if task in ("regression",) else "auto")
    if not 0 <= given["canary_percent"] <= 99:
        problems.append(
            f"--canary-percent: must be 0 (a full rollout) to 99, the share of traffic the new "
            f"version gets, got {given['canary_percent']}. Use e.g. --canary-percent 10"
        )
    if given["keep_versions"] < 0:
        problems.append(
            f"--keep-versions: must be 0 (keep all) or more, got {given['keep_versions']}. "
            "Use e.g. --keep-versions 10"
        )
    space = given["search_space"]
    if not isinstance(space, list):
        return problems  # bad JSON is reported already
    known_task = task if task in ("classification", "regression") else "auto"
    for number, candidate in enumerate(space or [{}], start=1):
        problem = candidate_problem(candidate, known_task, f"--search-space candidate {number}")
        if problem:
            problems.append(problem)
    return problems


def memory_option_problems(given: dict) -> list[str]:
    """Checks the memory quantities and ``max_train_rows``, which a pod would only refuse later.

    Args:
        given: The training pipeline's parameters, defaults included.

    Returns:
        One line per problem, naming the option.
    """
    from components.memory import memory_bytes, rows_that_fit

    def stop_line(check, *arguments):
        try:
            return None, check(*arguments)
        except SystemExit as stop:
            return str(stop).removeprefix(ERROR_MARK), None

    problems = []
    for kind in ("light", "heavy"):
        sizes = {}
        for setting in ("request", "limit"):
            name = f"{kind}_memory_{setting}"
            problem, sizes[setting] = stop_line(memory_bytes, given[name], option(name))
            if problem:
                problems.append(problem)
        if None not in sizes.values() and sizes["request"] > sizes["limit"]:
            request, limit = option(f"{kind}_memory_request"), option(f"{kind}_memory_limit")
            problems.append(
                f"{request} {given[f'{kind}_memory_request']} is more than {limit} "
                f"{given[f'{kind}_memory_limit']}: Kubernetes refuses a pod whose memory request "
                f"passes its limit. Lower {request} or raise {limit}."
            )
    problem, _ = stop_line(rows_that_fit, given["max_train_rows"], option("max_train_rows"), 0, 1)
    if problem:
        problems.append(problem + f" Use e.g. {option('max_train_rows')} auto")
    return problems


COLUMN_OPTIONS = ("time_column", "split_column", "weight_column")


def column_option_problems(given: dict, task: str) -> list[str]:
    """Checks ``--threshold-objective`` and that the split and weight columns are distinct.

    The objective goes through ``components.training_options.parse_objective``,
    the training step's own check (with the task when ``--task`` names it).

    Args:
        given: Pipeline parameters, defaults filled in.
        task: The ``--task`` option when valid, else ``auto``.

    Returns:
        One line per problem, naming the option.
    """
    from components.training_options import parse_objective

    problems = []
    try:
        parse_objective(given.get("threshold_objective", ""), task)
    except SystemExit as error:
        example = "Use e.g. --threshold-objective precision_at_recall:0.9"
        problems.append(f"--threshold-objective: {str(error).removeprefix(ERROR_MARK)} {example}")
    named = [given.get(name, "") for name in COLUMN_OPTIONS]
    for name, column in zip(COLUMN_OPTIONS, named, strict=True):
        if column and named.count(column) > 1 and name != "time_column":
            problems.append(
                f"{option(name)}: {column!r} is also another option's column; a split or weight "
                "column is not a feature. Use a column of its own."
            )
    return problems


def candidate_problem(candidate, task: str, where: str) -> str | None:
    """Why the model families refuse this candidate, in their own words; None if they take it."""
    from components.families import check_candidate

    try:
        check_candidate(candidate, task, where)
    except SystemExit as error:
        return str(error).removeprefix(ERROR_MARK)
    return None


def target_problems(data, target: str, options: dict) -> list[str]:
    """Checks that ``target`` is a column of a local CSV, reading as the load step reads.

    The file is read with ``read_csv_table``, the load step's reader, with the
    delimiter, decimal and encoding options. A file of at most ``HEADER_BYTES``
    is read whole, so a missing file or any reading problem is reported too. Of
    a larger file only its first ``HEADER_BYTES``, cut at the last line end, are
    read; when that prefix alone cannot be read (a quoted field spanning the
    cut, a header longer than the prefix, bad bytes…), a file of at most
    ``WHOLE_FILE_BYTES`` is read whole instead, and the check of a larger one
    is left to the load step. URIs are left to the load step too.

    Args:
        data: The ``--data`` path or URI, as given.
        target: The ``--target`` column.
        options: Pipeline parameters, for delimiter, decimal and encoding, and
            the time, split and weight columns (checked to be columns too).

    Returns:
        One line per problem, naming the option.
    """
    from components.tables import read_csv_table

    if "://" in str(data):
        return []
    reading = {name: options.get(name, "auto") for name in ("delimiter", "decimal", "encoding")}
    path = pathlib.Path(data)
    size = path.stat().st_size if path.is_file() else 0
    read = _read_prefix(path, str(data), reading) if size > HEADER_BYTES else None
    if read is None:
        if size > WHOLE_FILE_BYTES:
            return []
        try:
            read = read_csv_table(str(path), str(data), **reading)
        except SystemExit as error:
            return [f"--data: {str(error).removeprefix(ERROR_MARK)}"]
    frame, used = read
    columns = list(frame.columns)
    absent = [
        f"{option(name)}: column {options[name]!r} not found in {data}; its columns are "
        f"{columns[:20]}. Set {option(name)} to one of them."
        for name in COLUMN_OPTIONS
        if options.get(name) and options[name] not in columns
    ]
    if target in columns:
        return absent
    near = [name for name in columns if name.casefold() == target.strip().casefold()]
    if len(columns) > 20:
        listed = f"the first 20 of its {len(columns)} columns are {columns[:20]}"
    else:
        listed = f"its columns are {columns}"
    problem = f"--target: column {target!r} not found in {data}; "
    if near:
        problem += f"did you mean {near[0]!r}? ({listed[0].upper()}{listed[1:]}.)"
    else:
        problem += f"{listed}. Set --target to one of them."
    if len(columns) == 1:
        other = ";" if used["delimiter"] == "," else ","
        problem += (
            f" Only one column was found: is the delimiter {used['delimiter']!r} right? "
            f"Set it with --delimiter, e.g. --delimiter '{other}'"
        )
    return [problem, *absent]


def _read_prefix(path: pathlib.Path, source: str, reading: dict):
    """``read_csv_table`` of the file's first ``HEADER_BYTES`` up to a line end, or None."""
    from components.tables import read_csv_table

    with path.open("rb") as handle:
        head = handle.read(HEADER_BYTES)
    end = head.rfind(b"\n")
    if end < 0:
        return None
    with tempfile.TemporaryDirectory() as folder:
        prefix = pathlib.Path(folder) / path.name
        prefix.write_bytes(head[: end + 1])
        try:
            return read_csv_table(str(prefix), source, **reading)
        except SystemExit:
            return None
