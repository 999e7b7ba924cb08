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


def with_memory(task, request, limit):
    """Sets the task's memory request and limit: literal quantities or pipeline parameters.

    KFP 2.17 writes a parameter into the container's resources as a placeholder, but
    finds the inputs a condition's sub-DAG needs before it looks at resources
    (kfp/compiler/compiler_utils.py get_inputs_for_all_groups reads only
    ``task.channel_inputs``): inside ``dsl.If`` the placeholder named an input the
    branch never received. Registering the parameters as the task's channels, as
    kfp-kubernetes does for its own settings (kfp/kubernetes/common.py), hands them
    down. KFP also adds them to the task's inputs as ``memory_request`` and
    ``memory_limit`` (pipeline_spec_builder.py, "Inject resource fields into inputs"),
    so no component has a parameter of those names.
    """
    task.set_memory_request(request).set_memory_limit(limit)
    task.register_pipeline_channels(
        [value for value in (request, limit) if not isinstance(value, str)]
    )
    return task


def light(task, memory_request="2G", memory_limit="4G"):
    """Reading, validating and splitting tables, writing notes and manifests.

    The memory request and limit are the training pipeline's ``light_memory_request`` and
    ``light_memory_limit`` parameters there (a string or a pipeline parameter: KFP 2.17's
    ``set_memory_limit`` writes a parameter as a placeholder the backend fills in), these
    defaults elsewhere.
    """
    task.set_cpu_request("1").set_cpu_limit("2")
    return with_memory(task, memory_request, memory_limit)


def heavy(task, memory_request="4G", memory_limit="8G"):
    """Fitting or scoring models: ``heavy_memory_request`` and ``heavy_memory_limit`` in training.

    ``train_model`` fits on as many rows as its limit holds (``components/memory.py``).
    """
    task.set_cpu_request("2").set_cpu_limit("4")
    return with_memory(task, memory_request, memory_limit)


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
