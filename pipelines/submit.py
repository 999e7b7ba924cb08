"""Compile a pipeline and start a run on a Kubeflow Pipelines cluster with ``kfp.Client``."""

import pathlib
import tempfile
import warnings

from kfp import compiler

# The Python type each KFP parameter type takes (bool is not an Integer or a Float).
EXPECTED = {
    "String": (str,),
    "Integer": (int,),
    "Float": (int, float),
    "Boolean": (bool,),
    "List": (list,),
    "Dict": (dict,),
}


class SubmitFailed(Exception):
    """The run could not be started; the message says why and what to do."""


def check_arguments(pipeline, arguments: dict) -> None:
    """Refuses unknown, missing or mistyped pipeline parameters before anything is sent.

    Raises:
        SubmitFailed: Naming the parameter, what was expected, and the valid names.
    """
    inputs = pipeline.component_spec.inputs
    unknown = sorted(set(arguments) - set(inputs))
    if unknown:
        raise SubmitFailed(
            f"unknown parameter(s) {unknown} for {pipeline.name}; it takes {sorted(inputs)}."
        )
    missing = sorted(
        name for name, spec in inputs.items() if not spec.optional and name not in arguments
    )
    if missing:
        raise SubmitFailed(f"{pipeline.name} needs parameter(s) {missing}; pass them with --param.")
    for name, value in arguments.items():
        kind = inputs[name].type
        wrong_bool = isinstance(value, bool) and kind in ("Integer", "Float")
        if not isinstance(value, EXPECTED.get(kind, (object,))) or wrong_bool:
            raise SubmitFailed(
                f"parameter {name!r} must be {kind}, got {value!r} ({type(value).__name__})."
            )


def submit(
    pipeline,
    host: str,
    arguments: dict,
    experiment: str = "kfp-tabular",
    run_name: str = "",
    namespace: str = "",
    token: str = "",
    cookies: str = "",
    service_account_token_path: str = "",
) -> tuple[str, str]:
    """Compiles ``pipeline`` and starts a run of it.

    Authentication, the usual KFP ways: a bearer ``token`` (e.g. from
    ``gcloud auth print-access-token`` or an OIDC provider), ``cookies`` (e.g.
    ``authservice_session=…`` behind Dex/oauth2-proxy), or, inside a cluster, the
    projected service account token at ``service_account_token_path``.

    Returns:
        ``(run_id, url)``: the run's ID and its page in the Kubeflow UI.

    Raises:
        SubmitFailed: For bad parameters, an unreachable host, or a refusal.
    """
    import kfp
    import kfp_server_api
    import urllib3

    check_arguments(pipeline, arguments)
    credentials = None
    if service_account_token_path:
        from kfp.client.set_volume_credentials import ServiceAccountTokenVolumeCredentials

        credentials = ServiceAccountTokenVolumeCredentials(path=service_account_token_path)
    with tempfile.TemporaryDirectory() as folder:
        package = pathlib.Path(folder) / "pipeline.yaml"
        compiler.Compiler().compile(pipeline, str(package))
        try:
            # The client warns on every creation that it needs KFP >= 2.0.0-beta.2.
            warnings.filterwarnings("ignore", "This client only works with", FutureWarning)
            client = kfp.Client(
                host=host,
                namespace=namespace or "kubeflow",
                existing_token=token or None,
                cookies=cookies or None,
                credentials=credentials,
            )
            result = client.create_run_from_pipeline_package(
                str(package),
                arguments=arguments,
                run_name=run_name or None,
                experiment_name=experiment,
                namespace=namespace or None,
            )
        except kfp_server_api.ApiException as error:
            if error.status == 0 or error.status is None:
                raise SubmitFailed(
                    f"cannot reach Kubeflow Pipelines at {host}: {error.reason}."
                ) from None
            detail = (error.body or error.reason or "").strip().splitlines()
            hint = " Check --token or --cookies." if error.status in (401, 403) else ""
            raise SubmitFailed(
                f"Kubeflow Pipelines at {host} refused the run ({error.status}): "
                f"{detail[0][:300] if detail else ''}.{hint}"
            ) from None
        except (urllib3.exceptions.HTTPError, OSError, TimeoutError) as error:
            raise SubmitFailed(
                f"cannot reach Kubeflow Pipelines at {host} ({type(error).__name__}). Check "
                "--host (e.g. http://localhost:8080 after kubectl port-forward "
                "svc/ml-pipeline-ui 8080:80)."
            ) from None
    return result.run_id, f"{host.rstrip('/')}/#/runs/details/{result.run_id}"
