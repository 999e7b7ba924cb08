"""Component: keep a record of why a model was not exported."""

from kfp.dsl import Markdown, Output

from components.runtime import NO_PINS, tabular_component


@tabular_component(packages=NO_PINS)
def record_rejection(note: Output[Markdown], reasons: list):
    """Writes down that the model was not blessed, and why; nothing is exported.

    Args:
        reasons: The checks from ``bless_model``.

    Returns:
        note: Markdown: the reasons the model of this run was not exported.
    """
    lines = ["# Not exported\n"]
    lines += [f"- {reason}" for reason in reasons]
    with open(note.path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    print("Model not exported: " + "; ".join(reasons))
