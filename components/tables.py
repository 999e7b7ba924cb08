"""Helpers for reading tables: the one home of every step that reads rows.

A table is a single file, or a folder or object-store prefix of part files;
each part is CSV or Parquet, told apart by its content (Parquet files start
with ``PAR1``), not only by its name. It is read in chunks of rows: typed as
pandas types a whole file (``iter_frames``, for load_data) or as text
(``iter_table``, pyarrow's CSV reader block by block and Parquet row groups), so
a step's memory is set by the chunk, not by the file.

Embedded into the components that call them, as ``shared.py``'s helpers are
(read its docstring: the same rules hold, comments rather than docstrings).
"""

from components.shared import chunk_rows, fail
from components.storage import object_store


# The CSV reading options, detected from the first bytes of a file where "auto".
#
# "auto" options are detected from the first 64 KiB: the encoding (UTF-16 or
# UTF-32 when a byte-order mark says so; else UTF-8, with or without a
# byte-order mark, else Windows-1252, else Latin-1), the delimiter (the one of
# , ; tab | that splits every sampled line into the same number of fields, the
# most fields winning) and the decimal mark (a comma when numbers like 3,14
# outnumber numbers like 3.14, with "." then read as the thousands separator).
#
# Args:
#     head: The file's first 64 KiB.
#     source: How to name the file in messages (its URI).
#     delimiter: Field separator, or "auto".
#     decimal: Decimal mark ("." or ","), or "auto".
#     encoding: Text encoding (a Python codec name), or "auto".
#
# Returns:
#     (options, encodings): the delimiter, decimal and thousands separator, and
#     the encodings the head decodes with, most likely first.
def csv_options(head: bytes, source: str, delimiter="auto", decimal="auto", encoding="auto"):
    import codecs
    import csv
    import re

    if not head.strip():
        fail(f"{source}: the file is empty. Provide a CSV with a header row and data rows.")
    # A UTF-16 or UTF-32 byte-order mark says the encoding unambiguously.
    if encoding == "auto" and head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        encoding = "utf-32"
    elif encoding == "auto" and head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    if encoding == "auto" and b"\x00" in head:  # a forced encoding is taken at its word
        fail(
            f"{source}: binary content, not CSV text (an Excel or zip file, or UTF-16 "
            "text without a byte-order mark?). Export it as a UTF-8 CSV or Parquet, or set the "
            "encoding option (e.g. utf-16-le)."
        )

    if encoding == "auto":
        encodings = ["utf-8-sig", "cp1252", "latin-1"]
    elif encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
        encodings = ["utf-8-sig"]  # also accepts a byte-order mark
    else:
        encodings = [encoding]
    text = None
    for candidate in list(encodings):
        try:
            text = codecs.getincrementaldecoder(candidate)().decode(head, final=False)
            break
        except LookupError:
            fail(f"{source}: unknown encoding {candidate!r}. Use a codec name such as utf-8.")
        except UnicodeDecodeError:
            encodings.remove(candidate)
    if text is None:
        fail(
            f"{source}: not valid {encoding} text. Set the encoding option to the file's "
            "encoding, e.g. latin-1 or cp1252, or to auto."
        )

    sampled = text.splitlines()
    if len(head) == 1 << 16 and len(sampled) > 1:
        sampled = sampled[:-1]  # the last line may be cut short
    lines = [line for line in sampled if line.strip()][:50]
    if delimiter == "auto":
        widths = {}
        for candidate in (",", ";", "\t", "|"):
            counts = [len(row) for row in csv.reader(lines, delimiter=candidate)]
            widths[candidate] = (len(set(counts)) == 1, counts[0] if counts else 1)
        consistent = [c for c, (same, width) in widths.items() if same and width > 1]
        pool = consistent or [c for c, (_, width) in widths.items() if width > 1] or [","]
        delimiter = max(pool, key=lambda c: widths.get(c, (True, 1))[1])
    if decimal == "auto":
        fields = [f.strip() for row in csv.reader(lines[1:], delimiter=delimiter) for f in row]
        comma_numbers = sum(bool(re.fullmatch(r"[-+]?\d[\d.]*,\d+", f)) for f in fields)
        dot_numbers = sum(bool(re.fullmatch(r"[-+]?\d*\.\d+", f)) for f in fields)
        decimal = "," if delimiter != "," and comma_numbers > dot_numbers else "."
    thousands = "." if decimal == "," else None
    return {"delimiter": delimiter, "decimal": decimal, "thousands": thousands}, encodings


# The column names of a CSV header as written, stripped; stops on a repeated name.
#
# Args:
#     header: The header's fields.
#     source: How to name the file in messages.
def header_names(header, source: str) -> list:
    import collections

    names = [str(name).strip() for name in header]
    duplicated = sorted(name for name, count in collections.Counter(names).items() if count > 1)
    if duplicated:
        fail(f"{source}: duplicate column names {duplicated}. Rename them so each is unique.")
    return names


# The arguments of ``pandas.read_csv`` for the options ``csv_options`` found: the
# one place read_csv_table (a whole file) and iter_frames (its chunks) take them from,
# so that both type a file alike.
#
# Args:
#     options: The delimiter, decimal and thousands separator.
#     encoding: The text encoding to read with.
def pandas_csv_options(options: dict, encoding: str) -> dict:
    return {
        "sep": options["delimiter"],
        "decimal": options["decimal"],
        "thousands": options["thousands"],
        "encoding": encoding,
        "low_memory": False,
    }


# Reads a CSV file into a DataFrame, or stops with a clear error.
#
# The options are those of ``csv_options``. Column names are stripped of
# surrounding spaces.
#
# Args:
#     path: Local path of the file.
#     source: How to name the file in messages (its URI).
#     delimiter: Field separator, or "auto".
#     decimal: Decimal mark ("." or ","), or "auto".
#     encoding: Text encoding (a Python codec name), or "auto".
#
# Returns:
#     (frame, options): the table, and the delimiter, decimal, thousands and
#     encoding it was read with.
def read_csv_table(path: str, source: str, delimiter="auto", decimal="auto", encoding="auto"):
    import csv
    import os

    import pandas as pd

    if not os.path.exists(path):
        fail(f"{source}: file not found. Check the data URI or path.")
    if os.path.isdir(path):
        fail(f"{source}: is a directory, not a CSV file. Point the data URI at the file.")
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    options, encodings = csv_options(head, source, delimiter, decimal, encoding)
    frame = None
    for candidate in encodings:
        try:
            frame = pd.read_csv(path, **pandas_csv_options(options, candidate))
            options["encoding"] = candidate
            break
        except UnicodeDecodeError as error:
            last_error = error
        except pd.errors.EmptyDataError:
            fail(f"{source}: no columns found. Provide a CSV with a header row and data rows.")
        except (pd.errors.ParserError, ValueError) as error:
            reason = str(error).strip().splitlines()[-1]
            fail(
                f"{source}: not a readable CSV with delimiter {options['delimiter']!r} "
                f"({reason}). Fix the file or set the delimiter option."
            )
    if frame is None:
        fail(
            f"{source}: not valid {last_error.encoding} text (byte {last_error.start}). "
            "Set the encoding option to the file's encoding, e.g. latin-1 or cp1252."
        )
    # pandas renames a repeated header ("a", "a.1"), so count the names as written.
    with open(path, encoding=options["encoding"], newline="") as handle:
        header = next(csv.reader(handle, delimiter=options["delimiter"]), [])
    if options["encoding"] == "utf-8-sig":
        options["encoding"] = "utf-8"
    frame.columns = [str(name).strip() for name in frame.columns]
    if len(header) == len(frame.columns):
        header_names(header, source)
    if frame.empty:
        fail(f"{source}: a header but no data rows. Provide a CSV with data rows.")
    return frame, options


# The part files of a table: the file itself, or the files of a folder or
# object-store prefix, sorted by name. Names starting with "_" or "." (such as
# _SUCCESS markers) and manifest.json are not data and are left out.
#
# Args:
#     location: A local path or an object-store URI.
#     source: How to name the table in messages.
def table_parts(location: str, source: str) -> list:
    import os

    def is_data(name):
        base = name.rstrip("/").rsplit("/", 1)[-1]
        return not base.startswith(("_", ".")) and base != "manifest.json"

    store = object_store(location)
    if store is None:
        if os.path.isfile(location):
            return [location]
        if not os.path.isdir(location):
            fail(f"{source}: file not found. Check the data URI or path.")
        parts = sorted(
            os.path.join(folder, name)
            for folder, _, files in os.walk(location)
            for name in files
            if is_data(os.path.relpath(os.path.join(folder, name), location))
        )
    else:
        filesystem, path = store
        scheme = location.partition("://")[0]
        if filesystem.isfile(path):
            return [location]
        parts = sorted(f"{scheme}://{p}" for p in filesystem.find(path) if is_data(p[len(path) :]))
    if not parts:
        fail(f"{source}: a folder with no table files. Point the data URI at CSV or Parquet files.")
    return parts


# Opens a part file (a local path or an object-store URI) for reading bytes.
#
# Args:
#     part: The part's path or URI.
def open_part(part: str):
    store = object_store(part)
    if store is None:
        return open(part, "rb")
    filesystem, path = store
    return filesystem.open(path, "rb")


# "parquet" when the part starts with Parquet's magic bytes, else "csv".
#
# Args:
#     part: The part's path or URI.
def part_format(part: str) -> str:
    with open_part(part) as handle:
        return "parquet" if handle.read(4) == b"PAR1" else "csv"


# The column names of a part, and how to read it: the CSV options detected on
# its first 64 KiB (see ``csv_options``), or {"format": "parquet"}.
#
# Args:
#     part: The part's path or URI.
#     source: How to name the part in messages.
#     delimiter: Field separator, or "auto".
#     decimal: Decimal mark, or "auto".
#     encoding: Text encoding, or "auto".
def part_schema(part: str, source: str, delimiter="auto", decimal="auto", encoding="auto"):
    import codecs
    import csv
    import io

    if part_format(part) == "parquet":
        import pyarrow.parquet as pq

        with open_part(part) as handle:
            try:
                names = pq.ParquetFile(handle).schema_arrow.names
            except Exception as error:  # pyarrow raises many kinds for a damaged file
                fail(f"{source}: not a readable Parquet file ({error}). Fix or remove it.")
        return header_names(names, source), {"format": "parquet"}
    with open_part(part) as handle:
        head = handle.read(1 << 16)
    options, encodings = csv_options(head, source, delimiter, decimal, encoding)
    text = codecs.getincrementaldecoder(encodings[0])().decode(head, final=False)
    header = next(csv.reader(io.StringIO(text), delimiter=options["delimiter"]), [])
    encoding = "utf-8" if encodings[0] == "utf-8-sig" else encodings[0]
    return header_names(header, source), {"format": "csv", **options, "encoding": encoding}


# The records of a CSV part after its header, in blocks of about ``size`` bytes,
# each cut after a line end outside quotes (an even count of quote marks before
# it), so that every block parses alone.
#
# pyarrow's streaming reader grew with the file (measured: a 5M-row CSV peaked
# at 0.85 to 1.0 GiB against 0.4 GiB for 1M rows, however the chunks were used);
# parsing block by block with ``pyarrow.csv.read_csv`` stays flat (0.37 GiB at
# 5M rows). For encodings that write a line end as the byte 10 (UTF-8, Latin-1,
# cp1252 and the like).
#
# Args:
#     handle: The part, opened in binary mode.
#     size: Bytes to read at a time.
#     quote: The quote mark, as a byte string.
#     header: Whether the handle is at the header (else at the start of a record).
def csv_blocks(handle, size: int, quote: bytes = b'"', header: bool = True):
    rest = b""
    while True:
        data = handle.read(size)
        buffer = rest + data
        if not data:
            if buffer.strip() and not header:
                yield buffer
            return
        end = buffer.rfind(b"\n")
        quotes = buffer.count(quote, 0, end)
        while end >= 0 and quotes % 2:  # inside quotes: an earlier line end
            earlier = buffer.rfind(b"\n", 0, end)
            quotes -= buffer.count(quote, earlier + 1, end)
            end = earlier
        if end < 0:
            rest = buffer
            continue
        if header:  # the first line end outside quotes ends the header
            first = buffer.find(b"\n")
            while buffer.count(quote, 0, first) % 2:
                first = buffer.find(b"\n", first + 1)
            buffer, end, header = buffer[first + 1 :], end - first - 1, False
        block, rest = buffer[: end + 1], buffer[end + 1 :]
        if block:
            yield block


# The tables of ``tables`` after their first ``skip`` rows.
#
# Args:
#     tables: pyarrow tables, in order.
#     skip: Rows to drop from the start.
def skipped(tables, skip: int):
    for table in tables:
        if skip >= len(table):
            skip -= len(table)
            continue
        yield table.slice(skip)
        skip = 0


# Reads a table in chunks of at most ``chunk_rows`` rows, as pyarrow tables.
#
# CSV parts are read block by block (``csv_blocks``), every column as text
# (the empty field and pandas' missing markers such as NA as missing): the
# types then do not depend on where a chunk starts, so any chunking gives the
# same rows. Parquet parts are read by row group, with their own types.
# ``start`` and ``stop`` count rows over the whole table (for a shard of it).
#
# Args:
#     parts: The part files, from ``table_parts``.
#     source: How to name the table in messages.
#     chunk_rows: Most rows in a chunk.
#     start: First row to read.
#     stop: Row to stop before; None for the end.
#     columns: The columns to read (in the part's order); None for all.
#     delimiter: Field separator of CSV parts, or "auto".
#     decimal: Decimal mark of CSV parts, or "auto".
#     encoding: Text encoding of CSV parts, or "auto".
#     root: The folder the parts are in, named ``source`` in messages.
#     seek: For a single CSV part: a (byte position, row number) of
#         ``count_rows``'s marks at or before ``start``, where reading begins
#         (the rows before it are neither read nor parsed).
#
# Yields:
#     (part, names, options, first_row, chunk): the part, its column names, its
#     reading options, the number of the chunk's first row in the part (from 0)
#     and the chunk (a pyarrow Table).
def iter_table(
    parts, source, chunk_rows=100_000, start=0, stop=None, columns=None, delimiter="auto",
    decimal="auto", encoding="auto", root="", seek=None,
):  # fmt: skip
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    missing_markers = [
        "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
        "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
    ]  # fmt: skip
    seen = 0  # rows of the table before the current part
    for part in parts:
        if stop is not None and seen >= stop:
            return
        named = source if len(parts) == 1 else part
        if root and part.startswith(root):
            named = source + part[len(root) :]
        names, options = part_schema(part, named, delimiter, decimal, encoding)
        skip = max(start - seen, 0)
        handle = open_part(part)
        try:
            if options["format"] == "parquet":
                parquet = pq.ParquetFile(handle, pre_buffer=False)
                total, end = parquet.metadata.num_rows, None if stop is None else stop - seen
                groups, first, offset = [], 0, None
                for index in range(parquet.num_row_groups):
                    size = parquet.metadata.row_group(index).num_rows
                    if first + size > skip and (end is None or first < end):
                        offset = first if offset is None else offset
                        groups.append(index)
                    first += size
                offset = offset or 0
                batches = (
                    parquet.iter_batches(batch_size=chunk_rows, row_groups=groups, columns=columns)
                    if groups
                    else []
                )
            else:
                # Blocks of about chunk_rows rows, from the header's size as a guess.
                block = max(min(len(",".join(names)) * 4 * chunk_rows, 64 << 20), 1 << 14)
                encoding = {"utf-8": "utf8"}.get(options["encoding"], options["encoding"])
                convert = pacsv.ConvertOptions(
                    column_types={name: pa.string() for name in names},
                    null_values=missing_markers,
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                    include_columns=columns,
                )
                parse = pacsv.ParseOptions(delimiter=options["delimiter"])
                if '\n"'.encode(encoding) == b'\n"':
                    reading = pacsv.ReadOptions(encoding=encoding, column_names=names)
                    at, passed = seek if seek and len(parts) == 1 else (0, 0)
                    if at:
                        handle.seek(at)
                    batches = skipped(
                        (
                            pacsv.read_csv(pa.BufferReader(data), reading, parse, convert)
                            for data in csv_blocks(handle, block, header=not at)
                        ),
                        skip - passed,
                    )
                else:  # UTF-16 and the like: pyarrow's streaming reader
                    reading = pacsv.ReadOptions(
                        encoding=encoding,
                        skip_rows=1,
                        column_names=names,
                        skip_rows_after_names=skip,
                        block_size=block,
                    )
                    batches = pacsv.open_csv(handle, reading, parse, convert)
                total, offset = None, skip
            row = offset  # the part's row number of the next batch
            for batch in batches:
                chunk = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
                low = max(skip - row, 0)
                high = len(chunk) if stop is None else min(len(chunk), stop - seen - row)
                for begin in range(low, max(high, low), chunk_rows):
                    end = min(begin + chunk_rows, high)
                    yield part, names, options, row + begin, chunk.slice(begin, end - begin)
                row += len(chunk)
                if stop is not None and seen + row >= stop:
                    break
            seen += total if total is not None else row
        except (pa.ArrowException, OSError, UnicodeDecodeError) as error:
            reason = (str(error).strip().splitlines() or [""])[0][:300]
            fail(
                f"{named}: not a readable {'CSV' if options['format'] == 'csv' else 'Parquet'} "
                f"file ({reason}). Fix or "
                "remove this file, or set the delimiter and encoding options."
            )
        finally:
            handle.close()


# The data rows of a CSV part, and where to start reading near a row: every
# ``csv_blocks`` block's (byte position, row number from 0). A block with no
# quote mark, no empty line and no bare carriage return holds one row a line
# end, so counting its line ends counts its rows with nothing parsed (1.5 GB of
# numbers: about 1 s, where parsing one column took 6.6 s); any other block is
# parsed, its first column only.
#
# Args:
#     part: The part's path or URI.
#     names: Its column names (``part_schema``).
#     options: Its reading options (``part_schema``).
#     size: Bytes a block.
#
# Returns:
#     ``(rows, marks)``, or ``(None, [])`` for an encoding ``csv_blocks`` cannot cut.
def csv_row_marks(part: str, names: list, options: dict, size: int = 4 << 20):
    import pyarrow as pa
    import pyarrow.csv as pacsv

    encoding = {"utf-8": "utf8"}.get(options["encoding"], options["encoding"])
    if '\n"'.encode(encoding) != b'\n"':
        return None, []
    reading = pacsv.ReadOptions(encoding=encoding, column_names=names)
    parse = pacsv.ParseOptions(delimiter=options["delimiter"])
    convert = pacsv.ConvertOptions(column_types={names[0]: pa.string()}, include_columns=names[:1])
    rows, marks = 0, []
    with open_part(part) as handle:
        text = handle.readline()  # the header, with any line ends it quotes
        while text.count(b'"') % 2 and text.endswith(b"\n"):
            text += handle.readline()
        at = handle.tell()
        for block in csv_blocks(handle, size, header=False):
            marks.append((at, rows))
            at += len(block)
            plain = (
                b'"' not in block and b"\n\n" not in block and block.endswith(b"\n")
                and block[:1] not in (b"\n", b"\r")
                and (b"\r" not in block or (
                    b"\n\r\n" not in block and block.count(b"\r") == block.count(b"\r\n")
                ))
            )  # fmt: skip
            if plain:
                rows += block.count(b"\n")
            else:
                rows += pacsv.read_csv(pa.BufferReader(block), reading, parse, convert).num_rows
    return rows, marks


# The number of data rows in a part: a Parquet file's metadata, or a CSV's
# ``csv_row_marks`` (read through, its first column only, for other encodings).
#
# Args:
#     part: The part's path or URI.
#     source: How to name the part in messages.
#     delimiter: Field separator, or "auto".
#     decimal: Decimal mark, or "auto".
#     encoding: Text encoding, or "auto".
#
# Returns:
#     ``(rows, marks)``: marks as ``csv_row_marks``'s, empty for Parquet.
def count_rows(part: str, source: str, delimiter="auto", decimal="auto", encoding="auto"):
    import pyarrow as pa
    import pyarrow.parquet as pq

    names, options = part_schema(part, source, delimiter, decimal, encoding)
    if options["format"] == "parquet":
        with open_part(part) as handle:
            return pq.ParquetFile(handle).metadata.num_rows, []
    try:
        rows, marks = csv_row_marks(part, names, options)
    except (pa.ArrowException, OSError, UnicodeDecodeError) as error:
        reason = (str(error).strip().splitlines() or [""])[0][:300]
        fail(
            f"{source}: not a readable CSV file ({reason}). Fix or remove this file, or set the "
            "delimiter and encoding options."
        )
    if rows is None:
        first = names[:1]
        chunks = iter_table([part], source, 1 << 20, 0, None, first, delimiter, decimal, encoding)
        rows = sum(len(chunk) for *_, chunk in chunks)
    return rows, marks


# The first encoding of ``encodings`` that decodes the whole file, read in
# blocks (about 1 s a GB): what ``read_csv_table`` finds by reading the file
# once per encoding, found before the chunks are parsed.
#
# Args:
#     path: Local path of the file.
#     source: How to name the file in messages.
#     encodings: The candidates, from ``csv_options``.
def whole_file_encoding(path: str, source: str, encodings: list) -> str:
    import codecs

    last = None
    for candidate in encodings:
        decoder = codecs.getincrementaldecoder(candidate)()
        at = 0
        try:
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(16 << 20), b""):
                    decoder.decode(block)
                    at += len(block)
                decoder.decode(b"", final=True)
            return candidate
        except UnicodeDecodeError as error:
            last = (error.encoding, at + error.start)
    fail(
        f"{source}: not valid {last[0]} text (byte {last[1]}). "
        "Set the encoding option to the file's encoding, e.g. latin-1 or cp1252."
    )


# Reads a table in chunks of ``rows`` rows as pandas DataFrames, each typed by
# pandas' inference on its own rows, as ``read_csv_table`` types a whole
# file: a CSV part through pandas' chunked reader with the options of
# ``read_csv_table``, a Parquet part by batches with its own types. A column may
# come out typed differently in two chunks (whole numbers here, a gap or a
# fraction there): the caller merges the types (``merged_dtype``), reading
# again with ``as_text`` the columns whose chunks disagree beyond numbers.
#
# Args:
#     location: A local path (a file or a folder).
#     source: How to name the table in messages.
#     rows: Most rows in a chunk.
#     delimiter: Field separator of CSV parts, or "auto".
#     decimal: Decimal mark of CSV parts, or "auto".
#     encoding: Text encoding of CSV parts, or "auto".
#     as_text: Columns of CSV parts read as text, untyped.
#
# Yields:
#     (frame, options): a chunk, and the reading options of its part
#     ({"format": "parquet"} for Parquet).
def iter_frames(location, source, rows, delimiter="auto", decimal="auto", encoding="auto",
                as_text=()):  # fmt: skip
    import csv
    import os

    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts, columns, seen = table_parts(location, source), None, 0
    for part in parts:
        named = source if part == location else f"{source}/{os.path.relpath(part, location)}"
        if part_format(part) == "parquet":
            options = {"format": "parquet"}
            try:
                reader = pq.ParquetFile(part, pre_buffer=False)
                chunks = (
                    pa.Table.from_batches([batch]).to_pandas()
                    for batch in reader.iter_batches(batch_size=rows)
                )
                names = reader.schema_arrow.names
            except Exception as error:  # pyarrow raises many kinds for a damaged file
                fail(f"{named}: not a readable Parquet file ({error}). Fix or remove it.")
        else:
            if os.path.isdir(part):
                fail(f"{named}: is a directory, not a CSV file. Point the data URI at the file.")
            with open(part, "rb") as handle:
                head = handle.read(1 << 16)
            options, encodings = csv_options(head, named, delimiter, decimal, encoding)
            options["encoding"] = whole_file_encoding(part, named, encodings)
            with open(part, encoding=options["encoding"], newline="") as handle:
                header = next(csv.reader(handle, delimiter=options["delimiter"]), [])
            names = [str(name).strip() for name in header]
            try:
                chunks = pd.read_csv(
                    part,
                    **pandas_csv_options(options, options["encoding"]),
                    chunksize=rows,
                    dtype={name: "str" for name in header if name.strip() in as_text} or None,
                )
            except pd.errors.EmptyDataError:
                fail(f"{named}: no columns found. Provide a CSV with a header row and data rows.")
            if options["encoding"] == "utf-8-sig":
                options["encoding"] = "utf-8"
        try:
            for frame in chunks:
                if options.get("format") != "parquet":
                    frame.columns = [str(name).strip() for name in frame.columns]
                    if len(header) == len(frame.columns):
                        header_names(header, named)
                if columns is None:
                    columns = list(frame.columns)
                elif list(frame.columns) != columns:
                    fail(
                        f"{named}: columns differ from the first part's {columns[:20]}. "
                        "Give every part file the same columns."
                    )
                seen += len(frame)
                yield frame.reset_index(drop=True), options
        except (pd.errors.ParserError, ValueError) as error:
            reason = str(error).strip().splitlines()[-1]
            fail(
                f"{named}: not a readable CSV with delimiter {options.get('delimiter')!r} "
                f"({reason}). Fix the file or set the delimiter option."
            )
        if columns is None and names:
            columns = names
    if not seen:
        fail(f"{source}: a header but no data rows. Provide a table with data rows.")


# How a chunk's column is typed, for ``merged_dtype``: "empty" (no value), "i"
# (integers), "u" (unsigned), "f" (floats), "b" (booleans), "bool-object"
# (booleans with gaps), or the dtype's name.
#
# Args:
#     values: The chunk's column.
def chunk_kind(values) -> str:
    import pandas as pd

    if not values.notna().any():
        return "empty"
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "b"
    if dtype.kind in "iuf":
        return dtype.kind
    if dtype.kind == "O" and pd.api.types.infer_dtype(values, skipna=True) == "boolean":
        return "bool-object"
    return str(dtype)


# The type pandas gives a whole column, from the kinds (``chunk_kind``) its
# chunks were read as: what reading the table whole would have given. None
# when the chunks disagree beyond numbers and gaps (numbers in some, text in
# others): the column is then read again as text, as pandas reads it whole.
#
# Args:
#     kinds: The chunks' kinds.
#     dtypes: A dtype each kind was read as (kind to dtype).
#     gaps: Whether any chunk holds a missing value in the column.
def merged_dtype(kinds, dtypes: dict, gaps: bool):
    real = set(kinds) - {"empty"}
    if not real:
        return dtypes.get("empty")
    if real in ({"i"}, {"u"}, {"b"}) and not gaps:
        return dtypes[real.pop()]
    if real <= {"i", "f"} or real <= {"u", "f"}:
        return "float64"
    if real <= {"b", "bool-object"}:
        return "object"
    if len(real) == 1 and not real <= {"i", "u", "b"}:
        return dtypes[real.pop()]
    return None


# Writes the rows of a Parquet table to two Parquet files, a chunk
# (``chunk_rows``) at a time, each row to the side its flag says, in the
# table's order; the rows are copied as Arrow data, never through pandas.
#
# Args:
#     path: The table (a Parquet file or folder).
#     second: Per row, whether it goes to ``second_path`` (else ``first_path``).
#     first_path: Where the unflagged rows go.
#     second_path: Where the flagged rows go.
#     rows: Rows in a chunk; None for ``chunk_rows``.
def split_rows(path: str, second, first_path: str, second_path: str, rows=None):
    import pyarrow.parquet as pq

    # pre_buffer (pyarrow's default, True) keeps every column chunk read so far until
    # the reader is done: iterating a 10M-row table grew Arrow's allocations from 67
    # to 321 MiB by its 40th chunk of 200,000 rows; without it they stayed at 42 MiB
    # (measured). Every chunked Parquet reader of the steps opens its file so.
    table = pq.ParquetFile(path, pre_buffer=False)
    writers = [pq.ParquetWriter(p, table.schema_arrow) for p in (first_path, second_path)]
    at = 0
    try:
        for batch in table.iter_batches(batch_size=rows or chunk_rows()):
            flags = second[at : at + batch.num_rows]
            at += batch.num_rows
            writers[0].write_batch(batch.filter(~flags))
            writers[1].write_batch(batch.filter(flags))
    finally:
        for writer in writers:
            writer.close()


# Writes the rows of a Parquet table to two Parquet files in the order of
# ``rank``: the rows ranked below ``first_rows`` to ``first_path``, the others
# to ``second_path``. An out-of-core sort: each chunk's rows go to the bucket of
# ``chunk_rows`` ranks they fall in (Arrow IPC files in a temporary folder), then
# each bucket, one at a time, is sorted and written; memory holds a chunk and a
# bucket, and the ranks (8 bytes a row).
#
# Args:
#     path: The table (a Parquet file).
#     rank: Per row, its place in the output order (a permutation of 0..n-1).
#     first_rows: How many of the first ranks go to ``first_path``.
#     first_path: Where the first ``first_rows`` rows go.
#     second_path: Where the others go.
#     rows: Rows in a chunk and a bucket; None for ``chunk_rows``.
def split_in_order(path: str, rank, first_rows: int, first_path: str, second_path: str, rows=None):
    import os
    import shutil
    import tempfile

    import numpy as np
    import pyarrow as pa
    import pyarrow.ipc as ipc
    import pyarrow.parquet as pq

    table, size = pq.ParquetFile(path, pre_buffer=False), rows or chunk_rows()  # see split_rows
    schema = table.schema_arrow
    folder = tempfile.mkdtemp(prefix="split-")
    ranked = schema.append(pa.field("__rank__", pa.int64()))
    buckets, at = {}, 0
    try:
        for batch in table.iter_batches(batch_size=size):
            ranks = rank[at : at + batch.num_rows]
            at += batch.num_rows
            batch = pa.RecordBatch.from_arrays([*batch.columns, pa.array(ranks)], schema=ranked)
            which = ranks // size
            for bucket in np.unique(which):
                if bucket not in buckets:
                    sink = pa.OSFile(os.path.join(folder, f"{bucket}.arrow"), "wb")
                    buckets[bucket] = (sink, ipc.new_stream(sink, ranked))
                buckets[bucket][1].write_batch(batch.filter(pa.array(which == bucket)))
        for sink, writer in buckets.values():
            writer.close()
            sink.close()
        writers = [pq.ParquetWriter(p, schema) for p in (first_path, second_path)]
        try:
            for bucket in sorted(buckets):
                name = os.path.join(folder, f"{bucket}.arrow")
                with pa.OSFile(name, "rb") as source:
                    rows = ipc.open_stream(source).read_all()
                os.remove(name)
                rows = rows.sort_by("__rank__")
                first = int(np.searchsorted(rows.column("__rank__").to_numpy(), first_rows))
                rows = rows.drop_columns(["__rank__"])
                writers[0].write_table(rows.slice(0, first))
                writers[1].write_table(rows.slice(first))
                del rows
        finally:
            for writer in writers:
                writer.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# A uniform sample of a Parquet table's rows, in table order, for the checks
# that need rows whole (pairs of columns, order, samples of values): 100,000
# rows (the environment variable KFP_TABULAR_SAMPLE_ROWS overrides it), fewer
# for wide rows (at most 256 MiB of Arrow data); up to that many rows, the
# whole table. Drawn as the chunks stream: each row gets a seeded random key
# and the rows of the smallest keys are kept. Also hands each chunk to
# ``visit`` as a pyarrow Table, with the number of its first row, so the caller
# can gather statistics in the same pass.
#
# Args:
#     path: The Parquet table.
#     visit: Called with (first_row, chunk) for every chunk, or None.
#     seed: Seed of the keys.
#     size: Rows in a chunk; None for ``chunk_rows``.
#
# Returns:
#     ``(sample, positions, rows)``: the sampled rows as a pyarrow Table, their
#     row numbers, and the table's number of rows.
def sample_rows(path: str, visit=None, seed: int = 0, size=None):
    import os

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.ParquetFile(path, pre_buffer=False)  # see split_rows
    rng = np.random.default_rng(seed)
    most = int(os.environ.get("KFP_TABULAR_SAMPLE_ROWS", "") or 100_000)
    limit, held, keys, rows = None, None, np.empty(0), 0
    positions = np.empty(0, dtype=np.int64)
    for batch in table.iter_batches(batch_size=size or chunk_rows()):
        chunk = pa.Table.from_batches([batch])
        if limit is None:  # from the width of the first rows
            width = max(chunk.nbytes / max(len(chunk), 1), 1)
            limit = int(min(most, max(1_000, (256 << 20) // width)))
        if visit is not None:
            visit(rows, chunk)
        held = chunk if held is None else pa.concat_tables([held, chunk])
        keys = np.concatenate([keys, rng.random(len(chunk))])
        positions = np.concatenate([positions, np.arange(rows, rows + len(chunk))])
        rows += len(chunk)
        if len(keys) > limit:  # the smallest keys, in row order
            best = np.sort(np.argpartition(keys, limit)[:limit])
            held, keys, positions = held.take(pa.array(best)), keys[best], positions[best]
    sample = held if held is not None else table.schema_arrow.empty_table()
    return sample, positions, rows


# The sorted 64-bit hashes of a column's distinct values, at most ``size`` of
# them, merged with ``values``: a k-minimum-values sketch. While it holds fewer
# than ``size`` hashes it holds every distinct value's (an exact count); past
# that, ``distinct_count`` estimates the count (about 0.4% off at 65,536).
#
# Args:
#     sketch: The sketch so far (a sorted uint64 array), or None.
#     values: More values (pandas, no gaps).
#     size: Most hashes kept.
def merge_distinct(sketch, values, size: int = 65_536):
    import numpy as np
    import pandas as pd

    hashes = np.unique(pd.util.hash_array(np.asarray(values)))
    merged = hashes if sketch is None else np.union1d(sketch, hashes)
    return merged[: size + 1]


# The number of distinct values a ``merge_distinct`` sketch counts, and
# whether it is exact.
#
# Args:
#     sketch: The sketch, or None (no values).
#     size: The size it was merged with.
def distinct_count(sketch, size: int = 65_536):
    if sketch is None:
        return 0, True
    if len(sketch) <= size:
        return len(sketch), True
    return int((size - 1) / ((int(sketch[size - 1]) + 1) / 2.0**64)), False


# One column of a Parquet table as a pandas Series, read a chunk at a time,
# integers kept in their least type (a 10M-row class column: 10 MB, not 80 MB
# and an Arrow copy beside it).
#
# Args:
#     path: The Parquet table.
#     name: The column.
#     rows: Rows in a chunk; None for ``chunk_rows``.
def read_column(path: str, name: str, rows=None):
    import pandas as pd
    import pyarrow.parquet as pq

    parts = []
    table = pq.ParquetFile(path, pre_buffer=False)  # see split_rows
    for batch in table.iter_batches(batch_size=rows or chunk_rows(), columns=[name]):
        part = batch.column(0).to_pandas()
        if pd.api.types.is_integer_dtype(part):
            part = pd.to_numeric(part, downcast="integer")
        parts.append(part)
    if not parts:
        return pq.read_table(path, columns=[name]).column(0).to_pandas()
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


# The rows at ``positions`` (sorted, distinct) of a Parquet file, typed as
# ``pd.read_parquet`` types them, read a batch at a time so that only the rows
# kept are ever held whole (train_model's sample of a table larger than its memory).
#
# Args:
#     path: Local path of the Parquet file.
#     positions: Sorted row positions (numpy integers).
#     columns: The columns to read; None for all.
def parquet_rows(path: str, positions, columns=None):
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    handle = pq.ParquetFile(path, pre_buffer=False)  # see split_rows
    kept, start = [], 0
    for batch in handle.iter_batches(batch_size=65_536, columns=columns):
        low, high = np.searchsorted(positions, [start, start + batch.num_rows])
        if high > low:
            kept.append(batch.take(pa.array(positions[low:high] - start)))
        start += batch.num_rows
    if not kept:
        empty = handle.schema_arrow.empty_table()
        return (empty if columns is None else empty.select(columns)).to_pandas()
    return pa.Table.from_batches(kept).to_pandas()


# Bytes a row of a Parquet table takes in pandas (from its first 1,000 rows, text as
# Python strings): what a step's chunk of it costs, before the step reads one.
#
# Args:
#     path: The Parquet table.
def parquet_row_bytes(path: str) -> float:
    import pyarrow.parquet as pq

    batch = next(pq.ParquetFile(path, pre_buffer=False).iter_batches(batch_size=1_000), None)
    if batch is None or not batch.num_rows:
        return 1.0
    return float(batch.to_pandas().memory_usage(deep=True).sum()) / batch.num_rows
