"""The benchmark runs and reports every figure (no timing assertions: benchmarks are not tests)."""

import numpy as np

from benchmarks.run import bench_size, step_seconds

LOG = """\
12:00:01.000 - INFO - Executing task \x1b[96m'load-data'\x1b[0m
12:00:01.750 - INFO - Task \x1b[96m'load-data'\x1b[0m finished with status \x1b[92mSUCCESS\x1b[0m
12:00:02.000 - INFO - Executing task 'train-model'
12:00:04.500 - INFO - Task 'train-model' finished with status SUCCESS
"""


def test_step_times_are_read_from_the_runner_log():
    assert step_seconds(LOG) == {"load-data": 0.75, "train-model": 2.5}


def test_small_benchmark_reports_every_figure(tmp_path):
    result = bench_size(150, tmp_path)
    for variant in ("plain", "default", "single", "floor"):
        assert result[variant]["wall_s"] > 0 and result[variant]["peak_rss_mb"] > 0
    for variant in ("plain", "default", "single"):
        assert result[variant]["model_mb"] > 0 and result[variant]["load_s"] > 0
        assert 0 < result[variant]["balanced_accuracy"] <= 1
    for variant in ("default", "single"):
        assert set(result[variant]["steps_s"]) >= {
            "load-data",
            "split-data",
            "train-model",
            "evaluate-model",
        }
    assert result["single"]["model"] == "random_forest"
    assert set(result["ratios"]) == {
        "default_vs_plain_wall",
        "single_vs_floor_wall",
        "single_vs_plain_wall",
        "default_vs_plain_peak_rss",
        "default_vs_plain_model_size",
        "default_vs_plain_load_time",
    }


def test_the_quality_benchmark_bootstraps_the_ratio_on_the_same_rows():
    from benchmarks.versus import bootstrap_ratio, metric_on

    rng = np.random.default_rng(1)
    truth = rng.normal(size=400)
    close = truth + rng.normal(scale=0.5, size=400)
    far = truth + rng.normal(scale=2.0, size=400)
    assert metric_on("r2", truth, close) > metric_on("r2", truth, far)
    assert bootstrap_ratio("r2", truth, close, [close]) == [1.0, 1.0]  # the same outputs: no noise
    low, high = bootstrap_ratio("r2", truth, far, [close, far])
    assert high < 0.99  # far worse than the best peer on every draw
    labels = np.where(truth > 0, "yes", "no")
    low, high = bootstrap_ratio("roc_auc", labels, close + rng.normal(size=400), [close], "yes")
    assert low < high < 1.0
