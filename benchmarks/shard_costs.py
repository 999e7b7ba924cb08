"""Benchmark: what planning row-range shards of one CSV and starting the second one cost.

Usage: python -m benchmarks.shard_costs [--rows 1000000] [--keep runs/rows_1m.csv]

On a CSV of the scoring benchmark's table, it times counting the rows by parsing
one column (how ``plan_shards`` counted them before) against ``count_rows``
(line ends, where no quote mark makes them ambiguous), and the second of two
shards reaching its first chunk by reading through the rows before it against
seeking to the row mark ``plan_shards`` now hands it.
"""

import argparse
import pathlib
import tempfile
import time

from benchmarks.scoring import write_rows
from components.tables import count_rows, iter_table, part_schema


def main() -> None:
    """Writes the CSV (unless kept), times both ways and prints the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=pathlib.Path, help="write (or reuse) the CSV here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        path = args.keep or pathlib.Path(work) / "rows.csv"
        if not path.exists():
            write_rows(path, args.rows)
        part = str(path)
        names, _ = part_schema(part, part)
        started = time.perf_counter()
        parsed = sum(
            len(chunk) for *_, chunk in iter_table([part], part, 1 << 20, 0, None, names[:1])
        )
        parsing = time.perf_counter() - started
        started = time.perf_counter()
        rows, marks = count_rows(part, part)
        counting = time.perf_counter() - started
        assert rows == parsed
        print(
            f"{rows:,} rows: counted by parsing one column {parsing:.2f} s, "
            f"by line ends {counting:.2f} s ({len(marks)} row marks)"
        )
        half = rows // 2
        near = [mark for mark in marks if mark[1] <= half][-1]
        for label, seek in (("reading through", None), ("seeking to a row mark", near)):
            started = time.perf_counter()
            next(iter_table([part], part, 100_000, half, None, None, seek=seek))
            print(f"  second shard's first chunk, {label}: {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
