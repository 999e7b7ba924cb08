"""Where every component runs, and with exactly which packages.

This module is the one place that fixes the base image and the runtime pins.
Every component is built with :func:`tabular_component`, which makes its
container command install the pins only when they are missing:

* on a Kubeflow pod (``python:3.11.7-slim-bookworm`` has none of them) the pins
  are installed with pip before the step runs, exactly as KFP's own
  ``packages_to_install`` would;
* on the KFP local runner inside our pinned ``.venv``, a 40 ms version check
  finds them all present and pip is skipped (KFP's own mechanism runs
  ``pip install`` before every local task).

The pins must equal ``pyproject.toml`` and the local environment: a joblib
model only loads under the scikit-learn version that wrote it.
"""

import inspect
import types
from collections.abc import Callable, Sequence

from kfp import dsl
from kfp.dsl.python_component import PythonComponent

BASE_IMAGE = "python:3.11.7-slim-bookworm"
KFP_VERSION = "2.17.0"
RUNTIME_PINS = (
    "joblib==1.6.0",
    "numpy==2.4.6",
    "pandas==3.1.1",
    "pyarrow==26.0.1",
    "python-dateutil==4.0.0",
    "scikit-learn==1.9.1",
    "scipy==1.17.1",
    "six==1.17.0",
    "threadpoolctl==3.8.0",
    "tzdata==2026.6",
)

_PIN_CHECK = (
    "import sys\n"
    "from importlib.metadata import version\n"
    "sys.exit(any(version(n) != v for n, v in (p.split('==') for p in sys.argv[1:])))"
)


def _quoted(words: Sequence[str]) -> str:
    return " ".join(f"'{word}'" for word in words)


# `sh -c SCRIPT sh -ec PROGRAM ...`: the script ends by exec-ing the KFP
# program that follows it, as KFP's own install prologue does; a failed pip
# install stops the step there (set -e) with pip's own error.
INSTALL_IF_MISSING = f"""
set -e
if ! python3 -c "{_PIN_CHECK}" {_quoted(RUNTIME_PINS)} 'kfp=={KFP_VERSION}' 2>/dev/null; then
  if ! [ -x "$(command -v pip)" ]; then
    python3 -m ensurepip || python3 -m ensurepip --user
  fi
  export PIP_DISABLE_PIP_VERSION_CHECK=1
  python3 -m pip install --quiet --no-warn-script-location {_quoted(RUNTIME_PINS)}
  python3 -m pip install --quiet --no-warn-script-location --no-deps 'kfp=={KFP_VERSION}'
fi
exec "$0" "$@"
"""


def shared_helpers(func: Callable) -> list[Callable]:
    """The ``components.shared`` functions ``func`` calls, directly or through each other.

    Ordered as in ``shared.py``, so that the compiled YAML is deterministic.
    """
    from components import shared

    found, pending = {}, [func.__code__]
    while pending:
        code = pending.pop()
        pending += [const for const in code.co_consts if isinstance(const, types.CodeType)]
        for name in code.co_names:
            helper = getattr(shared, name, None)
            if inspect.isfunction(helper) and helper.__module__ == shared.__name__:
                if name not in found:
                    found[name] = helper
                    pending.append(helper.__code__)
    return sorted(found.values(), key=lambda helper: helper.__code__.co_firstlineno)


def tabular_component(func: Callable) -> PythonComponent:
    """Builds a lightweight component on the pinned runtime.

    The ``components.shared`` helpers the function calls are embedded in the
    component, so its YAML stands alone.

    Args:
        func: The component function.

    Returns:
        The KFP component.
    """
    component = dsl.component(
        func,
        base_image=BASE_IMAGE,
        install_kfp_package=False,
        additional_funcs=shared_helpers(func) or None,
    )
    container = component.component_spec.implementation.container
    container.command = ["sh", "-c", INSTALL_IF_MISSING, *container.command]
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
        if container["command"][:3] == ["sh", "-c", INSTALL_IF_MISSING]:
            container["command"] = container["command"][3:]
    return json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())
