"""The memory a step may use: its limit, the rows that fit, and a clear stop when they cannot.

On a pod Kubernetes kills a step that goes over its memory limit (``OOMKilled``,
exit code 137, and no word of ours). A step that knows its limit bounds its
work instead, or stops with one line naming the setting to change. The limit
is the container's cgroup limit on a pod; the declared limit (the pipeline
parameter that also sets the pod's limit, handed to the step as a parameter)
otherwise, so that a run on the local runner, which enforces no limit, does
what a pod run will do.

Embedded into the components that call it (see ``components/shared.py``):
comments, not docstrings, and every import inside the helper.
"""

from components.shared import fail


# Bytes in a Kubernetes memory quantity: "8G", "7629Mi", "4Gi", "1.5G", "8e9", "1073741824".
#
# Kubernetes reads decimal suffixes (k or K, M, G, T, P, E: powers of 1000) and binary
# ones (Ki, Mi, Gi, Ti, Pi, Ei: powers of 1024); kubernetes apimachinery
# pkg/api/resource/quantity.go. KFP checks a literal limit at compile time but passes
# a pipeline parameter through unchecked, so a bad one is caught here.
#
# Args:
#     quantity: The quantity as written.
#     parameter: The parameter it came from, named in the error.
def memory_bytes(quantity, parameter: str) -> int:
    import re

    text = str(quantity).strip()
    pattern = r"([0-9]+(?:\.[0-9]*)?)(?:([eE][0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|[kKMGTPE]))?"
    found = re.fullmatch(pattern, text)
    if not found or float(found.group(1)) <= 0:
        fail(
            f"{parameter}={quantity!r} is not a memory quantity: write a number of bytes or one "
            "with a suffix, e.g. 8G (8 x 1000^3 bytes) or 7629Mi (7629 x 1024^2)."
        )
    number, exponent, suffix = found.groups()
    scale = 10 ** int(exponent[1:]) if exponent else 1
    if suffix:
        power = "KMGTPE".index(suffix[0].upper()) + 1
        scale = (1024 if suffix.endswith("i") else 1000) ** power
    return int(float(number) * scale)


# The container's memory limit in bytes from its cgroup, or None where it has none.
#
# cgroup v2 writes "max" in memory.max for no limit; v1 writes a number near 2^63
# rounded to the page (9223372036854771712) in memory/memory.limit_in_bytes (Linux
# Documentation/admin-guide/cgroup-v1/memory.rst), so anything from 2^60 up is none.
#
# Args:
#     root: Where the cgroup filesystem is mounted (a test points it at a folder).
def cgroup_memory_limit(root: str = "/sys/fs/cgroup"):
    import os

    for name in ("memory.max", os.path.join("memory", "memory.limit_in_bytes")):
        try:
            with open(os.path.join(root, name), encoding="ascii") as handle:
                text = handle.read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:
            return int(text)
        return None
    return None


# The step's memory limit: ``(bytes, how it was found)``, or ``(None, "")`` for none.
#
# The smaller of the cgroup's limit and the declared one. On a pod the two agree
# (the pod's limit is set from the same pipeline parameter); off a pod the cgroup
# is a laptop's or a CI runner's, often larger or unlimited, and the declared limit
# is what a pod run will have.
#
# Args:
#     declared: The declared limit, a Kubernetes quantity; empty for none.
#     parameter: The pipeline parameter that sets it, named in messages.
#     root: Where the cgroup filesystem is mounted.
def memory_limit(declared: str, parameter: str, root: str = "/sys/fs/cgroup"):
    found = []
    cgroup = cgroup_memory_limit(root)
    if cgroup is not None:
        found.append((cgroup, "the container's cgroup limit"))
    if str(declared).strip():
        found.append((memory_bytes(declared, parameter), f"{parameter}={declared}"))
    return min(found) if found else (None, "")


# The resident memory of this process now, in bytes (what the step already holds:
# Python, the libraries, the data read so far).
def resident_bytes() -> int:
    import os
    import resource

    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):  # not Linux: the peak (KiB on Linux, bytes on macOS)
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# A size for a person: "7,629 MiB".
def mebibytes(size) -> str:
    return f"{size / 2**20:,.0f} MiB"


# Stops the step with one line when bounded work cannot fit in its memory limit.
#
# Args:
#     step: The step's name.
#     what: The work that needs the memory ("one chunk of 100,000 rows").
#     needed: Bytes it needs.
#     limit: ``(bytes, how found)`` from ``memory_limit``.
#     parameter: The pipeline parameter to raise.
#     otherwise: Another way out, or empty.
def stop_unless_fits(step, what, needed, limit, parameter, otherwise=""):
    size, source = limit
    if size is not None and needed > size:
        fail(
            f"{step}: {what} needs about {mebibytes(needed)}, more than the step's memory limit of "
            f"{mebibytes(size)} ({source}). Raise the pipeline parameter {parameter}"
            + (f", or {otherwise}." if otherwise else ".")
        )


# How many rows a step may hold: ``asked`` rows, or with ``auto`` as many as its memory
# limit holds; None where neither bounds them.
#
# Args:
#     asked: ``auto`` or a number of rows (a number is taken as given, even above the limit).
#     parameter: The parameter ``asked`` came from, named in errors.
#     spare: Bytes of the limit left for the rows (the limit less what the step holds).
#     row_bytes: Bytes the step needs for each row it holds.
def rows_that_fit(asked, parameter, spare, row_bytes):
    text = str(asked).strip().lower()
    if text != "auto":
        if not text.isdigit() or int(text) < 1:
            fail(f"{parameter}={asked!r} is neither auto (the rows memory holds) nor a row count.")
        return int(text)
    if spare is None:
        return None
    return max(int(spare // max(row_bytes, 1)), 0)


# The rows a step's chunks may hold within its memory limit: ``rows`` (``chunk_rows``)
# where they fit, fewer where the limit is small (so a small pod still runs, only in
# smaller chunks), and one line that stops the step where not even 1,000 rows fit
# beside what it already holds. The limit is ``memory_limit``'s: the container's
# cgroup limit on a pod, the declared one otherwise, so a local run does what a pod does.
#
# Args:
#     step: The step's name.
#     parameter: The pipeline parameter that sets the step's limit.
#     declared: The declared limit (that parameter's value); empty for none.
#     row_bytes: Bytes a row of a chunk costs while the step works on it (its size
#         in memory times the copies the step makes of it).
#     rows: The rows a chunk would hold.
#     held: Bytes the step will keep for the whole table besides (its scores...).
def chunk_rows_within(step, parameter, declared, row_bytes, rows, held=0):
    limit = memory_limit(declared, parameter)
    size, source = limit
    if size is None:
        return rows
    resident = resident_bytes()
    row_bytes = max(int(row_bytes), 1)
    fit = max(int((size - resident - held) // row_bytes), 0)
    if fit >= rows:
        return rows
    smallest = min(rows, 1_000)
    stop_unless_fits(
        step,
        f"a chunk of {smallest:,} rows ({row_bytes:,} bytes a row), beside the "
        f"{mebibytes(resident)} the step holds"
        + (f" and {mebibytes(held)} it keeps for the whole table" if held else ""),
        resident + held + smallest * row_bytes,
        limit,
        parameter,
        "give the step a table of fewer or narrower rows",
    )
    print(
        f"{step}: chunks of {fit:,} rows instead of {rows:,}, to stay within the memory "
        f"limit of {mebibytes(size)} ({source}); raise {parameter} for larger ones"
    )
    return fit
