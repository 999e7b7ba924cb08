"""A step's memory limit: from the cgroup, from the declared limit, and the rows that fit."""

import pytest

from components.memory import (
    cgroup_memory_limit,
    chunk_rows_within,
    memory_bytes,
    memory_limit,
    rows_that_fit,
    stop_unless_fits,
)


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("8G", 8 * 1000**3),
        ("7629Mi", 7629 * 1024**2),
        ("4Gi", 4 * 1024**3),
        ("1.5G", 1_500_000_000),
        ("512k", 512_000),
        ("8e9", 8_000_000_000),
        ("1073741824", 1073741824),
    ],
)
def test_memory_bytes_reads_kubernetes_quantities(quantity, expected):
    assert memory_bytes(quantity, "heavy_memory_limit") == expected


@pytest.mark.parametrize("quantity", ["8 GB", "eight", "8Gb", "0", "-1G"])
def test_memory_bytes_refuses_a_bad_quantity_in_one_line(quantity):
    with pytest.raises(SystemExit, match=r"heavy_memory_limit=.* is not a memory quantity.*7629Mi"):
        memory_bytes(quantity, "heavy_memory_limit")


def cgroup(tmp_path, name, text):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")
    return str(tmp_path)


def test_cgroup_limit_v2_v1_and_none(tmp_path):
    assert cgroup_memory_limit(cgroup(tmp_path / "v2", "memory.max", "4294967296")) == 2**32
    assert cgroup_memory_limit(cgroup(tmp_path / "v2max", "memory.max", "max")) is None
    v1 = cgroup(tmp_path / "v1", "memory/memory.limit_in_bytes", "2147483648")
    assert cgroup_memory_limit(v1) == 2**31
    unlimited = cgroup(tmp_path / "v1max", "memory/memory.limit_in_bytes", "9223372036854771712")
    assert cgroup_memory_limit(unlimited) is None
    assert cgroup_memory_limit(str(tmp_path / "nothing")) is None


def test_limit_from_the_cgroup_the_declared_limit_or_the_smaller_of_both(tmp_path):
    pod = cgroup(tmp_path / "pod", "memory.max", str(3 * 2**30))
    laptop = cgroup(tmp_path / "laptop", "memory.max", "max")
    assert memory_limit("", "heavy_memory_limit", root=pod) == (
        3 * 2**30,
        "the container's cgroup limit",
    )
    assert memory_limit("8G", "heavy_memory_limit", root=laptop) == (8e9, "heavy_memory_limit=8G")
    assert memory_limit("8G", "heavy_memory_limit", root=pod)[0] == 3 * 2**30
    assert memory_limit("2Gi", "heavy_memory_limit", root=pod)[0] == 2 * 2**30
    assert memory_limit("", "heavy_memory_limit", root=laptop) == (None, "")


def test_rows_that_fit_from_the_budget_or_max_train_rows():
    assert rows_that_fit("auto", "max_train_rows", spare=1000 * 2**20, row_bytes=2**10) == 1024000
    assert rows_that_fit("auto", "max_train_rows", spare=None, row_bytes=100) is None
    assert rows_that_fit("auto", "max_train_rows", spare=-5, row_bytes=100) == 0
    assert rows_that_fit("250000", "max_train_rows", spare=100, row_bytes=100) == 250000
    assert rows_that_fit(" AUTO ", "max_train_rows", spare=100, row_bytes=10) == 10
    for bad in ("0", "many", "1.5"):
        with pytest.raises(SystemExit, match=r"max_train_rows='.*' is neither auto .* row count"):
            rows_that_fit(bad, "max_train_rows", spare=100, row_bytes=10)


def test_the_one_line_stop_names_the_step_the_limit_the_need_and_the_parameter():
    limit = (4 * 2**30, "light_memory_limit=4Gi")
    stop_unless_fits("load_data", "one chunk", 2**30, limit, "light_memory_limit")  # fits: no stop
    stop_unless_fits("load_data", "one chunk", 2**40, (None, ""), "light_memory_limit")  # no limit
    with pytest.raises(SystemExit) as stopped:
        stop_unless_fits(
            "load_data",
            "one chunk of 100,000 rows",
            6 * 2**30,
            limit,
            "light_memory_limit",
            otherwise="lower chunk_rows",
        )
    message = str(stopped.value)
    assert "\n" not in message
    assert message == (
        "kfp-tabular error: load_data: one chunk of 100,000 rows needs about 6,144 MiB, more than "
        "the step's memory limit of 4,096 MiB (light_memory_limit=4Gi). Raise the pipeline "
        "parameter light_memory_limit, or lower chunk_rows."
    )


def test_chunks_shrink_to_the_limit_and_stop_where_not_1000_rows_fit(monkeypatch, capsys):
    import components.memory

    monkeypatch.setattr(components.memory, "resident_bytes", lambda: 100 * 2**20)
    monkeypatch.setattr(components.memory, "cgroup_memory_limit", lambda root="": None)
    # 128 MiB less the 100 MiB the step holds and 8 MiB it keeps: 20 MiB, 20,971 rows of 1,000 bytes
    assert chunk_rows_within("evaluate_model", "heavy_memory_limit", "", 1_000, 200_000) == 200_000
    assert chunk_rows_within("s", "light_memory_limit", "1Gi", 1_000, 200_000) == 200_000
    assert chunk_rows_within("s", "light_memory_limit", "128Mi", 1_000, 200_000, 8 << 20) == 20_971
    assert "s: chunks of 20,971 rows instead of 200,000" in capsys.readouterr().out
    with pytest.raises(SystemExit, match=r"s: a chunk of 1,000 rows .*Raise the pipeline parame"):
        chunk_rows_within("s", "light_memory_limit", "128Mi", 100 << 10, 200_000, 8 << 20)
