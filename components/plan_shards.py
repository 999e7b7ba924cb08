"""Component: split the rows to score into shards that score in parallel."""

from kfp.dsl import Dataset, Input

from components.runtime import TABLE_PINS, tabular_component
from components.shared import fail
from components.storage import local_path
from components.tables import count_rows, part_schema, table_parts


@tabular_component(packages=TABLE_PINS)
def plan_shards(
    data: Input[Dataset],
    shards: int = 1,
    delimiter: str = "auto",
    decimal: str = "auto",
    encoding: str = "auto",
) -> list:
    """Plans how ``batch_predict`` tasks share a table: groups of part files, or row ranges.

    A folder or prefix of at least ``shards`` part files is cut into
    ``shards`` groups of consecutive parts of about equal size in bytes; with
    fewer parts (but more than one) each part is a shard. A single file is cut
    into ``shards`` ranges of rows (its rows are counted, a Parquet file from
    its metadata); never more shards than rows. Each shard's text stays
    small (KFP passes the list on a command line): no column names.

    Args:
        data: Table of rows to score, as ``batch_predict`` reads it.
        shards: How many shards to plan (at least 1).
        delimiter: Field separator of CSV input, or ``auto``.
        decimal: Decimal mark of CSV input, or ``auto``.
        encoding: Text encoding of CSV input, or ``auto``.

    Returns:
        One JSON text per shard, for ``batch_predict``'s ``shard``: its
        ``index``, ``parts`` (relative to the table's folder; ``""`` for a
        single file), ``start`` and ``stop`` rows, and for a row range of a
        CSV file ``seek``: the byte position and row number of a block start
        at or before ``start``, so the shard neither reads nor parses the rows
        before it (the rows are counted by their line ends where no quote
        mark or empty line makes that ambiguous, else by parsing).
    """
    import json
    import os

    if shards < 1:
        fail(f"shards is {shards}; set it to 1 or more.")
    location = local_path(data)
    parts = table_parts(location, data.uri)
    named = data.uri if parts[0] == location else data.uri + parts[0][len(location) :]
    part_schema(parts[0], named, delimiter, decimal, encoding)  # stops on an unreadable first part
    relative = ["" if part == location else os.path.relpath(part, location) for part in parts]
    plans = []
    if len(parts) > 1 or shards == 1:
        sizes = [os.path.getsize(part) for part in parts]
        count = min(shards, len(parts))
        groups, current, done = [], [], 0
        for index, (name, size) in enumerate(zip(relative, sizes, strict=True)):
            current.append(name)
            done += size
            left_parts, left_groups = len(parts) - index - 1, count - len(groups) - 1
            if left_groups and (
                done >= sum(sizes) * (len(groups) + 1) / count or left_parts == left_groups
            ):
                groups.append(current)
                current = []
        groups.append(current)
        plans = [{"parts": group} for group in groups if group]
    else:
        rows, marks = count_rows(parts[0], data.uri, delimiter, decimal, encoding)
        if not rows:
            fail(f"{data.uri}: a header but no data rows. Provide a table with data rows.")
        count = min(shards, rows)
        bounds = [rows * k // count for k in range(count + 1)]
        plans = [
            {"parts": relative, "start": bounds[k], "stop": bounds[k + 1]} for k in range(count)
        ]
        for plan in plans[1:]:  # where a CSV shard starts reading: no row before it parsed
            near = [mark for mark in marks if mark[1] <= plan["start"]]
            if near and near[-1][1]:
                plan["seek"] = list(near[-1])
    planned = [json.dumps({"index": k, **plan}) for k, plan in enumerate(plans)]
    print(f"Planned {len(planned)} shard(s) of {data.uri} ({len(parts)} part file(s)).")
    return planned
