"""How tasks run on a cluster: caching, retries, CPU and memory.

The local runner ignores CPU and memory requests and limits, and caches only
when ``kfp.local.init(enable_caching=True)``; it does honour retries, with their
back-off.
"""


def cached(task):
    """Reads only this pipeline's own artifacts and is deterministic: reuse a cached result."""
    return task.set_caching_options(True)


def uncached(task):
    """Run every time: the task reads a URI whose content may change, or writes outside.

    KFP caches by artifact URI, so new data at the same path would get a stale result.
    """
    return task.set_caching_options(False)


def writes_to_storage(task):
    """Writes to external storage: retry transient failures, twice, 5 s then 10 s apart.

    Only the export gets retries. KFP retries a task on any failure, and the other
    steps fail on bad input, which a retry cannot mend: they stop at once instead
    (a failed download can be rerun with "Retry" on the run in the Kubeflow UI).
    """
    return task.set_retry(num_retries=2, backoff_duration="5s", backoff_factor=2.0)


def light(task):
    """Reading, validating and splitting ~1M rows x 20 columns: about 1 GB at peak."""
    return (
        task.set_cpu_request("1").set_cpu_limit("2").set_memory_request("2G").set_memory_limit("4G")
    )


def heavy(task):
    """Fitting or scoring a forest on ~1M rows: 2 GB peak measured, the model ~0.8 GB in memory."""
    return (
        task.set_cpu_request("2").set_cpu_limit("4").set_memory_request("4G").set_memory_limit("8G")
    )


def with_store_keys(task):
    """Gives the task the keys of KFP's own object store as MINIO_ACCESS_KEY / MINIO_SECRET_KEY.

    They come from the ``mlpipeline-minio-artifact`` secret (keys ``accesskey`` and
    ``secretkey``; kubeflow/pipelines backend/src/v2/config/env.go), which KFP's
    profile controller copies into every user namespace. Optional: where the secret
    does not exist (another store, Vertex AI), the task still starts. The local
    runner ignores Kubernetes settings.
    """
    from kfp import kubernetes

    return kubernetes.use_secret_as_env(
        task,
        secret_name="mlpipeline-minio-artifact",
        secret_key_to_env={"accesskey": "MINIO_ACCESS_KEY", "secretkey": "MINIO_SECRET_KEY"},
        optional=True,
    )
