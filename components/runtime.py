"""Where every component runs, and with exactly which packages.

This module is the one place that fixes the base image and the runtime pins.
Every component is built with :func:`tabular_component`, which makes its
container command install the pins only when they are missing:

* on a Kubeflow pod (``python:3.11.7-slim-bookworm`` has none of them) the pins
  are installed with pip before the step runs, exactly as KFP's own
  ``packages_to_install`` would;
* on the KFP local runner inside our pinned ``.venv``, a 50 ms version check
  finds them all present and pip is skipped (KFP's own mechanism runs
  ``pip install`` before every local task).

The pins must equal ``pyproject.toml`` and the local environment: a joblib
model only loads under the scikit-learn version that wrote it.
"""

import functools
import inspect
import types
from collections.abc import Callable, Sequence

from kfp import dsl

BASE_IMAGE = "python:3.11.7-slim-bookworm"
KFP_VERSION = "2.17.0"
RUNTIME_PINS = (
    "joblib==1.6.0",
    "numpy==2.4.6",
    "pandas==3.1.1",
    "pyarrow==26.0.1",
    "python-dateutil==2.9.0.post0",
    "scikit-learn==1.9.1",
    "scipy==1.17.1",
    "six==1.17.0",
    "threadpoolctl==3.8.0",
    "tzdata==2026.6",
)
# The serving image's default name (Dockerfile.serving; deploy_model and the pipeline repeat
# it as a literal default, which a test checks).
SERVING_IMAGE = "kfp-tabular-serving:0.1.0"
# Object storage through fsspec (s3fs, gcsfs, adlfs), with everything they need
# that RUNTIME_PINS lacks, installed only by the step that writes to a store
# (export_model): on a pod the install took 24-30 s and 124 MiB (measured), which the
# other steps need not pay. The local environment has them all (pyproject.toml).
# botocore needs python-dateutil<3, hence 2.9.0.post0 in RUNTIME_PINS.
STORAGE_PINS = (
    "adlfs==2026.8.0",
    "aiobotocore==3.10.0",
    "aiohappyeyeballs==2.7.1",
    "aiohttp==3.14.5",
    "aioitertools==0.13.0",
    "aiosignal==1.4.0",
    "attrs==26.1.0",
    "azure-core==1.41.0",
    "azure-identity==1.27.0",
    "azure-storage-blob==12.31.1",
    "botocore==1.43.117",
    "certifi==2026.10.19.post1",
    "cffi==2.1.1",
    "charset-normalizer==3.5.2",
    "cryptography==50.0.2",
    "decorator==5.3.1",
    "frozenlist==1.8.0",
    "fsspec==2026.7.0",
    "gcsfs==2026.7.0",
    "google-api-core==2.44.0",
    "google-auth-oauthlib==1.5.0",
    "google-auth==2.63.0",
    "google-cloud-core==2.8.0",
    "google-cloud-storage-control==1.17.0",
    "google-cloud-storage==3.17.1",
    "google-crc32c==1.9.0",
    "google-resumable-media==2.11.0",
    "googleapis-common-protos==1.76.0",
    "grpc-google-iam-v1==0.14.6",
    "grpcio-status==1.85.3",
    "grpcio==1.85.3",
    "idna==3.20",
    "isodate==0.7.2",
    "jmespath==1.1.0",
    "msal-extensions==1.3.1",
    "msal==1.39.0",
    "multidict==7.2.1",
    "oauthlib==4.0.1",
    "opentelemetry-api==1.45.2",
    "propcache==0.5.4",
    "proto-plus==1.29.0",
    "protobuf==6.33.6",
    "pyasn1==0.6.5",
    "pyasn1_modules==0.4.2",
    "pycparser==3.12",
    "PyJWT==2.15.1",
    "requests-oauthlib==2.0.0",
    "requests==2.33.0",
    "s3fs==2026.7.0",
    "typing_extensions==4.16.0",
    "urllib3==2.7.0",
    "wrapt==2.5.2",
    "yarl==1.25.1",
)
# Compile-time only: kfp-kubernetes writes the Kubernetes settings into the YAML.
KFP_KUBERNETES_VERSION = "2.17.0"

# Whether every pin NAME==VERSION has a NAME-VERSION.dist-info folder on sys.path, names
# compared as pip writes them (lowercase, - and . as _). 50 ms a step, against 190 ms for
# importlib.metadata.version (measured in .venv: it reads every METADATA file it passes).
_PIN_CHECK = (
    "import os, sys\n"
    "def key(name, version):\n"
    "    return name.replace('-', '_').replace('.', '_').lower() + '==' + version\n"
    "found = set()\n"
    "for folder in sys.path:\n"
    "    try:\n"
    "        entries = os.listdir(folder or '.')\n"
    "    except OSError:\n"
    "        continue\n"
    "    stems = [entry[:-10] for entry in entries if entry.endswith('.dist-info')]\n"
    "    found.update(key(*stem.rsplit('-', 1)) for stem in stems if '-' in stem)\n"
    "sys.exit(any(key(*pin.split('==', 1)) not in found for pin in sys.argv[1:]))"
)


def _quoted(words: Sequence[str]) -> str:
    return " ".join(f"'{word}'" for word in words)


def install_prologue(pins: Sequence[str]) -> str:
    """The shell script that starts a step: install ``pins`` and kfp if missing, then run.

    Run as ``sh -c SCRIPT sh -ec PROGRAM ...``: the script ends by exec-ing the
    KFP program that follows it, as KFP's own install prologue does; a failed
    pip install stops the step there (set -e) with pip's own error.
    """
    return f"""
{PROLOGUE_MARK}
set -e
if ! python3 -c "{_PIN_CHECK}" {_quoted(pins)} 'kfp=={KFP_VERSION}' 2>/dev/null; then
  if ! [ -x "$(command -v pip)" ]; then
    python3 -m ensurepip || python3 -m ensurepip --user
  fi
  export PIP_DISABLE_PIP_VERSION_CHECK=1
  python3 -m pip install --quiet --no-warn-script-location {_quoted(pins)}
  python3 -m pip install --quiet --no-warn-script-location --no-deps 'kfp=={KFP_VERSION}'
fi
exec "$0" "$@"
"""


PROLOGUE_MARK = "# kfp-tabular: install the pins when missing"
INSTALL_IF_MISSING = install_prologue(RUNTIME_PINS)


def shared_helpers(func: Callable) -> list[Callable]:
    """The helpers ``func`` calls from the helper modules (shared, tasks, features, …).

    Found directly or through each other, and ordered by module and line, so
    that the compiled YAML is deterministic.
    """
    from components import families, features, kserve, reports, selection, shared, storage, tasks

    modules = [shared, tasks, families, features, selection, storage, kserve, reports]
    found, pending = {}, [func.__code__]
    while pending:
        code = pending.pop()
        pending += [const for const in code.co_consts if isinstance(const, types.CodeType)]
        for name in code.co_names:
            for module in modules:
                helper = getattr(module, name, None)
                if inspect.isfunction(helper) and helper.__module__ == module.__name__:
                    if name not in found:
                        found[name] = helper
                        pending.append(helper.__code__)
    return sorted(
        found.values(),
        key=lambda helper: (
            [m.__name__ for m in modules].index(helper.__module__),
            helper.__code__.co_firstlineno,
        ),
    )


def tabular_component(func: Callable = None, *, extra_pins: Sequence[str] = ()):
    """Builds a lightweight component on the pinned runtime.

    The helpers the function calls are embedded in the component, so its YAML
    stands alone. Use as ``@tabular_component``, or as
    ``@tabular_component(extra_pins=STORAGE_PINS)`` for a step that needs more.

    Args:
        func: The component function.
        extra_pins: Exact pins this step installs besides ``RUNTIME_PINS``.

    Returns:
        The KFP component.
    """
    if func is None:
        return functools.partial(tabular_component, extra_pins=extra_pins)
    component = dsl.component(
        func,
        base_image=BASE_IMAGE,
        install_kfp_package=False,
        additional_funcs=shared_helpers(func) or None,
    )
    container = component.component_spec.implementation.container
    prologue = install_prologue([*RUNTIME_PINS, *extra_pins])
    container.command = ["sh", "-c", prologue, *container.command]
    return component


def use_image(pipeline_spec, image: str):
    """Returns a copy of a compiled spec whose steps run on ``image`` and install nothing.

    For clusters without a package index: ``image`` must hold the exact pins
    (see the ``Dockerfile``), so the install prologue is dropped from every
    command.

    Args:
        pipeline_spec: A ``PipelineSpec`` message, of a pipeline or a component.
        image: The runtime image, e.g. ``registry.example.com/kfp-tabular-runtime:0.1.0``.
    """
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    spec = json_format.MessageToDict(pipeline_spec)
    for executor in spec["deploymentSpec"]["executors"].values():
        container = executor.get("container")
        if container is None:  # an importer
            continue
        container["image"] = image
        command = container["command"]
        if command[:2] == ["sh", "-c"] and command[2].lstrip().startswith(PROLOGUE_MARK):
            container["command"] = command[3:]
    return json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())
