"""Screenshots of the demo's reports, as a browser shows them, for the README.

Usage: python docs/screenshots.py RUN_DIR [CHROMIUM]

RUN_DIR is what ``make run`` wrote (``runs/demo``). Each report's ``.html``
copy is opened in headless Chromium (Debian's ``chromium`` package by default)
and saved as a PNG at 3/4 size under ``docs/``.
"""

import pathlib
import subprocess
import sys
import tempfile

REPORTS = {
    "evaluation": "training-pipeline-*/evaluate-model/report.html",
    "validation": "training-pipeline-*/validate-data/report.html",
    "leaderboard": "training-pipeline-*/train-model/leaderboard.html",
    "drift": "batch-prediction-pipeline-*/detect-drift/report.html",
}


def screenshot(chromium: str, page: pathlib.Path, target: pathlib.Path) -> None:
    """Renders ``page`` headless at 1100 px wide and writes it to ``target``, 3/4 size."""
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", f"--user-data-dir={profile}", "--hide-scrollbars",
                "--window-size=1100,1500", "--force-device-scale-factor=0.75",
                f"--screenshot={target.resolve()}", page.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip


def main(run_dir: str, chromium: str = "/usr/bin/chromium") -> None:
    """Takes one screenshot per report of the newest runs in ``run_dir``."""
    for name, pattern in REPORTS.items():
        page = sorted(pathlib.Path(run_dir).glob(pattern))[-1]
        target = pathlib.Path(__file__).parent / f"{name}.png"
        screenshot(chromium, page, target)
        print(f"{target} ({target.stat().st_size // 1024} KB) from {page}")


if __name__ == "__main__":
    main(*sys.argv[1:])
