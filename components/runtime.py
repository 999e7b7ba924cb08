"""Where every component runs, and with exactly which packages.

This module is the one place that fixes the base image, the pins, and which of
them each step installs. Every component is built with
:func:`tabular_component`, which starts its container command with an install
prologue that installs the step's own package set only when it is missing:

* on a Kubeflow pod (``python:3.11.7-slim-bookworm`` has none of them) the set is
  installed with a pinned uv (itself installed by pip, without byte-compiling),
  and with ``pip install --no-compile`` when uv cannot be had or fails;
* on the KFP local runner inside our pinned ``.venv``, a ~65 ms check finds every
  pin present and nothing is installed (KFP's own ``packages_to_install`` runs
  pip before every task).

Each step installs only what its code imports (a test derives the imports of
every component and the dependency closure of every set and checks both): the
model steps :data:`MODEL_PINS`, the steps that only read and write tables
:data:`TABLE_PINS`, the export step :data:`EXPORT_PINS`, and the steps that
write a note or render manifests nothing but kfp. The pins must equal
``pyproject.toml``, the lock, the serving image and the local environment: a
joblib model only loads under the scikit-learn version that wrote it.
"""

import functools
import inspect
import types
from collections.abc import Callable, Sequence

from kfp import dsl

BASE_IMAGE = "python:3.11.7-slim-bookworm"
KFP_VERSION = "2.17.0"
# The installer of the prologue. Measured in a fresh venv with no cache (benchmarks/cold_start.py):
# uv installs the model set in a few seconds where pip takes tens, most of pip's time being the
# byte-compilation of ~560 MB it does by default; see docs/cold-start.md.
UV_PIN = "uv==0.13.9"
# Every package a model is written or read with, and their whole closure (installed --no-deps).
RUNTIME_PINS = (
    "cloudpickle==3.1.3",
    "joblib==1.6.0",
    "narwhals==2.29.0",
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


def _names(pins: Sequence[str]) -> set[str]:
    return {pin.partition("==")[0] for pin in pins}


def _pins_named(names: Sequence[str]) -> tuple[str, ...]:
    return tuple(pin for pin in (*RUNTIME_PINS, *STORAGE_PINS) if _names([pin]) <= set(names))


# The package sets, each a whole dependency closure (a test checks it against the packages'
# own metadata), so the prologue installs them --no-deps: no resolution, and nothing unpinned.
# Reading and writing tables: pandas, and pyarrow for its Parquet files.
TABLE_PINS = _pins_named(("numpy", "pandas", "pyarrow", "python-dateutil", "six", "tzdata"))
# Fitting, scoring or loading a model: TABLE_PINS and scikit-learn's closure. Identical
# wherever a model is written or read (train, evaluate, bless, batch_predict, the serving image).
MODEL_PINS = RUNTIME_PINS
# Copying a model directory to object storage: fsspec and its stores, nothing of the model's.
EXPORT_PINS = (*STORAGE_PINS, *_pins_named(("python-dateutil", "six")))
# Steps whose code imports nothing outside the standard library (a note, manifests).
NO_PINS = ()

PROLOGUE_MARK = "# kfp-tabular: install the step's packages when missing"

# The prologue's installer, run as `python3 - PIN...` from a quoted here-document (so the shell
# expands nothing in it; and no word "python3" in it, which KFP's local runner would rewrite).
#
# 1. Skip: every pin NAME==VERSION has its NAME-VERSION.dist-info folder on sys.path, names
#    compared as pip writes them (~65 ms with the start of Python; importlib.metadata.version
#    took 190 ms).
# 2. Else uv: pip installs the pinned uv into a scratch folder (--no-compile, not into the
#    step's environment), and uv installs the pins --no-deps into this interpreter, without
#    byte-compiling (Python compiles what a step imports as it imports it). uv reads none of
#    pip's configuration, so the index settings pip has (from PIP_* variables or pip.conf, as
#    `pip config list` reports them) are passed on: index-url, extra-index-url, find-links,
#    no-index, trusted-host (uv's --allow-insecure-host), constraint, and proxy, cert and
#    client-cert as the HTTPS_PROXY, SSL_CERT_FILE and SSL_CLIENT_CERT uv reads; with extra
#    indexes, pip's choice of the best version across all of them (uv's unsafe-best-match;
#    uv's default takes the first index that has the package). uv's own UV_* index settings,
#    when the cluster sets them, win.
# 3. Else pip install --no-deps --no-compile, with pip's own configuration. A step that needs
#    kfp alone (NO_PINS) goes straight to pip: one package is faster than bootstrapping uv.
# The parts below are joined by installer_script(); the kfp-only script is a third of the size.
_CHECK = r"""
import os, sys
def key(name, version):
    return name.replace('-', '_').replace('.', '_').lower() + '==' + version
found = set()
for folder in sys.path:
    try:
        stems = [e[:-10] for e in os.listdir(folder or '.') if e.endswith('.dist-info')]
    except OSError:
        continue
    found.update(key(*stem.rsplit('-', 1)) for stem in stems if '-' in stem)
pins = sys.argv[1:]
if all(key(*pin.split('==', 1)) in found for pin in pins):
    sys.exit(0)
import subprocess as sp, time
started, env = time.monotonic(), dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK='1')
pip = [sys.executable, '-m', 'pip']
def run(command):
    return sp.run(command, env=env).returncode == 0
installer = 'pip'
"""
_WITH_UV = r"""
import ast, shutil, tempfile
def uv_options(listed):
    got = {}
    for section in ('global.', 'install.', ':env:.'):
        for name, _, value in (line.partition('=') for line in listed.splitlines()):
            if name.startswith(section) and value:
                got[name[len(section):]] = ast.literal_eval(value)
    uv_index = {'UV_INDEX_URL', 'UV_DEFAULT_INDEX', 'UV_INDEX'} & set(os.environ)
    options = ['--index-url', got['index-url']] if 'index-url' in got and not uv_index else []
    for name, flag in (('extra-index-url', '--extra-index-url'), ('find-links', '--find-links'),
                       ('trusted-host', '--allow-insecure-host'), ('constraint', '--constraints')):
        options += [word for value in got.get(name, '').split() for word in (flag, value)]
    if got.get('no-index', '').lower() in ('1', 'true', 'yes', 'on'):
        options.append('--no-index')
    if 'extra-index-url' in got and 'UV_INDEX_STRATEGY' not in os.environ:
        options += ['--index-strategy', 'unsafe-best-match']  # pip's: the best of every index
    for name, variable in (('proxy', 'HTTPS_PROXY'), ('proxy', 'HTTP_PROXY'),
                           ('cert', 'SSL_CERT_FILE'), ('client-cert', 'SSL_CLIENT_CERT')):
        if got.get(name) and not os.environ.get(variable):
            env[variable] = got[name]
    return options
def with_uv():
    scratch = tempfile.mkdtemp(prefix='kfp-tabular-uv-')
    try:
        listing = sp.Popen([*pip, 'config', 'list'], env=env, stdout=sp.PIPE, text=True)
        got_uv = run([*pip, 'install', '-q', '--no-compile', '--target', scratch, 'UV_PIN'])
        options = uv_options(listing.communicate()[0])
        uv = os.path.join(scratch, 'bin', 'uv')
        return got_uv and run([uv, 'pip', 'install', '-q', '--no-deps', '--python', sys.executable,
                               *options, *pins])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
if os.environ.get('KFP_TABULAR_INSTALLER', 'uv') == 'uv' and with_uv():
    installer = 'uv'
else:
    print('kfp-tabular: installing with pip instead of uv', file=sys.stderr, flush=True)
"""
_WITH_PIP = r"""
if installer == 'pip' and not run([*pip, 'install', '-q', '--no-deps', '--no-compile', *pins]):
    sys.exit('kfp-tabular: could not install the step packages (see the error above): check '
             'the package index the pod reaches (PIP_INDEX_URL) or use image mode.')
print(f'kfp-tabular: installed {len(pins)} packages with {installer} in '
      f'{time.monotonic() - started:.1f} s', file=sys.stderr, flush=True)
"""


def installer_script(pins: Sequence[str]) -> str:
    """The prologue's Python installer for a step's set: uv for a set, pip for kfp alone.

    Measured in a fresh venv with no cache (benchmarks/cold_start.py): pip installs
    kfp alone in ~1 s where bootstrapping uv first takes ~1.5 s, and uv wins from
    the first package of a set on (the table set: 2.4-4.2 s against 5.9-8.0 s).

    Args:
        pins: The step's package set (kfp's own pin is added by :func:`install_prologue`).
    """
    parts = [_CHECK] + ([_WITH_UV.replace("UV_PIN", UV_PIN)] if pins else []) + [_WITH_PIP]
    return "\n".join(part.strip() for part in parts)


def _quoted(words: Sequence[str]) -> str:
    return " ".join(f"'{word}'" for word in words)


def install_prologue(pins: Sequence[str]) -> str:
    """The shell script that starts a step: install ``pins`` and kfp if missing, then run.

    Run as ``sh -c SCRIPT sh -ec PROGRAM ...``: the script ends by exec-ing the
    KFP program that follows it, as KFP's own install prologue does; a failed
    install stops the step there (set -e) with the installer's own error.
    Set ``KFP_TABULAR_INSTALLER=pip`` on a pod to skip uv.

    Args:
        pins: The step's exact pins; kfp's own pin is added (installed without its
            dependencies: a step only runs kfp's executor).
    """
    words = _quoted([*pins, f"kfp=={KFP_VERSION}"])
    return f"""
{PROLOGUE_MARK}
set -e
python3 - {words} <<'KFP_TABULAR_INSTALLER'
{installer_script(pins)}
KFP_TABULAR_INSTALLER
exec "$0" "$@"
"""


def shared_helpers(func: Callable) -> list[Callable]:
    """The helpers ``func`` calls from the helper modules (shared, tasks, features, …).

    Found directly or through each other, and ordered by module and line, so
    that the compiled YAML is deterministic.
    """
    import importlib

    # Each module after those it calls from: the helpers come out in that order.
    names = ("shared", "memory", "tasks", "families", "features", "ensembles", "selection")
    names += ("training_options", "storage", "versions", "tables", "sampling", "scoring")
    names += ("kserve", "reports")
    modules = [importlib.import_module(f"components.{name}") for name in names]
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


def step_imports(func: Callable) -> set[str]:
    """The top-level modules outside the standard library that a component's code imports.

    Read from the source of the function and of every helper embedded with it.
    An import inside ``try: ... except ImportError`` is optional (the step says
    what to install if it is ever needed) and is not counted. Dynamic imports
    are not seen: pandas' Parquet engine, pyarrow, is why every table step holds
    it, and the venv-mode runs check the rest.

    Args:
        func: The component's Python function.
    """
    import ast
    import sys
    import textwrap

    modules = set()
    for code in [func, *shared_helpers(func)]:
        tree = ast.parse(textwrap.dedent(inspect.getsource(code)))
        optional = {
            id(node)
            for block in ast.walk(tree)
            if isinstance(block, ast.Try)
            and any(
                getattr(handler.type, "id", None) in ("ImportError", "ModuleNotFoundError")
                for handler in block.handlers
            )
            for statement in block.body
            for node in ast.walk(statement)
        }
        for node in ast.walk(tree):
            if id(node) in optional:
                continue
            if isinstance(node, ast.Import):
                modules.update(alias.name.partition(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules.add(node.module.partition(".")[0])
    return {m for m in modules if m not in sys.stdlib_module_names} - {"kfp", "components"}


def without_docstrings(source: str) -> str:
    """``source`` with the docstrings of its functions and its comment lines cut out.

    The code of a step and of every helper embedded with it is copied into each
    executor of a pipeline's spec, and the backend turns the spec into one Argo
    Workflow that must fit etcd's request limit (kubeflow/pipelines#13738,
    #13422). The docstrings were about a tenth of it, and the descriptions in
    the YAML are taken from them at compile time, not from the code. Comments
    (9 KB of the training spec's 400 KB budget once the steps streamed, issue
    32, and 4.6 KB more after code) say why to a reader of the source, not to
    the pod; so do blank lines outside strings.

    Args:
        source: The Python program KFP writes for a lightweight component.
    """
    import ast
    import io
    import tokenize

    lines = source.split("\n")
    cut = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        row, column = token.start[0] - 1, token.start[1]
        if token.type == tokenize.NL and not token.line.strip():  # blank, outside strings
            cut.add(row)
        elif token.type == tokenize.COMMENT and not token.line[:column].strip():
            cut.add(row)
        elif token.type == tokenize.COMMENT:  # after code: the code stays
            lines[row] = lines[row][:column].rstrip()
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and len(body) > 1:
            first = body[0]
            value = getattr(first, "value", None)
            if isinstance(first, ast.Expr) and isinstance(getattr(value, "value", None), str):
                cut.update(range(first.lineno - 1, first.end_lineno))
    return "\n".join(line for number, line in enumerate(lines) if number not in cut)


def tabular_component(func: Callable = None, *, packages: Sequence[str] = MODEL_PINS):
    """Builds a lightweight component on the pinned runtime.

    The helpers the function calls are embedded in the component, so its YAML
    stands alone. Use as ``@tabular_component`` for a step that fits, scores or
    loads a model, or as ``@tabular_component(packages=TABLE_PINS)`` (or
    ``EXPORT_PINS``, ``NO_PINS``) for a step that needs less: a pod installs
    exactly ``packages`` and kfp.

    Args:
        func: The component function.
        packages: The step's package set, one of the sets above.

    Returns:
        The KFP component.
    """
    if func is None:
        return functools.partial(tabular_component, packages=packages)
    component = dsl.component(
        func,
        base_image=BASE_IMAGE,
        install_kfp_package=False,
        additional_funcs=shared_helpers(func) or None,
    )
    container = component.component_spec.implementation.container
    *program, source = container.command
    source = without_docstrings(source)
    container.command = ["sh", "-c", install_prologue(packages), *program, source]
    component.packages = tuple(packages)
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
