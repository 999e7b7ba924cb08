"""Compiles the pipelines and every component to KFP YAML.

Usage: python compile.py [--output-dir DIR]

Writes training_pipeline.yaml and batch_prediction_pipeline.yaml to DIR and one
YAML per component to DIR/components/. The default DIR is the committed
``compiled/`` folder; the output is byte-for-byte deterministic, and a test
fails when the committed files differ from a fresh compile.
"""

import argparse
import pathlib

from kfp import compiler

import components
import pipelines

DEFAULT_OUTPUT_DIR = pathlib.Path(__file__).resolve().parent / "compiled"


def compile_all(output_dir: pathlib.Path) -> list[pathlib.Path]:
    """Compiles every pipeline and component into ``output_dir``.

    Args:
        output_dir: Folder to write to; created if missing.

    Returns:
        The paths written, pipelines first.
    """
    targets = [
        (output_dir / f"{name}.yaml", getattr(pipelines, name)) for name in pipelines.__all__
    ]
    targets += [
        (output_dir / "components" / f"{name}.yaml", getattr(components, name))
        for name in components.__all__
    ]
    for path, function in targets:
        path.parent.mkdir(parents=True, exist_ok=True)
        compiler.Compiler().compile(function, str(path))
    return [path for path, _ in targets]


def main() -> None:
    """Parses the command line and compiles."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output-dir", type=pathlib.Path, default=DEFAULT_OUTPUT_DIR, help="default: %(default)s"
    )
    args = parser.parse_args()
    for path in compile_all(args.output_dir):
        print(path)


if __name__ == "__main__":
    main()
