"""Compiles the pipelines and every component to KFP YAML.

Usage: python compile.py [--output-dir DIR] [--image IMAGE]

Writes training_pipeline.yaml and batch_prediction_pipeline.yaml to DIR and one
YAML per component to DIR/components/, and DIR/sources.sha256: the digests of
the files they were built from (the command line runs the committed YAML while
they match; pipelines/compiled.py). The default DIR is the committed
``compiled/`` folder; the output is byte-for-byte deterministic, and a test
fails when the committed files differ from a fresh compile.

With ``--image`` (image mode, for clusters without a package index) every step
runs on IMAGE, built from the ``Dockerfile``, and installs nothing at start-up;
the default DIR is then ``build/image-yaml/``.
"""

import argparse
import pathlib

from kfp import compiler
from kfp.compiler import pipeline_spec_builder

import components
import pipelines
from components.runtime import use_image
from pipelines.compiled import MANIFEST, source_digests

DEFAULT_OUTPUT_DIR = pathlib.Path(__file__).resolve().parent / "compiled"
IMAGE_OUTPUT_DIR = pathlib.Path(__file__).resolve().parent / "build" / "image-yaml"


def compile_all(output_dir: pathlib.Path, image: str = "") -> list[pathlib.Path]:
    """Compiles every pipeline and component into ``output_dir``.

    Args:
        output_dir: Folder to write to; created if missing.
        image: Runtime image for image mode; empty for the default pinned pip install.

    Returns:
        The paths written: pipelines, components, then the sources' digests.
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
        if not image:
            compiler.Compiler().compile(function, str(path))
            continue
        pipeline_spec_builder.write_pipeline_spec_to_file(
            pipeline_spec=use_image(function.pipeline_spec, image),
            pipeline_description=function.description,
            platform_spec=function.platform_spec,
            package_path=str(path),
        )
    manifest = output_dir / MANIFEST
    manifest.write_text(source_digests(), encoding="utf-8")
    return [path for path, _ in targets] + [manifest]


def main() -> None:
    """Parses the command line and compiles."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output-dir",
        type=pathlib.Path,
        help=f"default: {DEFAULT_OUTPUT_DIR}, or {IMAGE_OUTPUT_DIR} with --image",
    )
    parser.add_argument("--image", default="", help="image mode: run every step on this image")
    args = parser.parse_args()
    output_dir = args.output_dir or (IMAGE_OUTPUT_DIR if args.image else DEFAULT_OUTPUT_DIR)
    for path in compile_all(output_dir, args.image):
        print(path)


if __name__ == "__main__":
    main()
