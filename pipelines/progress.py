"""Live progress of a local run: one line per step as it starts and ends.

The KFP local runner prints its log (task starts and ends, each task's own
output) to stdout, which ``pipelines.cli`` sends to a log file. ``Progress`` is
that file's stream: it writes everything to the log and, for the lines that
mark a step starting or finishing (and each candidate ``train_model`` scores),
prints one plain line to the terminal: no colours, no carriage returns, so a CI
log reads as well as a terminal.
"""

import re
import time

ANSI = re.compile(r"\x1b\[[0-9;]*m")
STARTED = re.compile(r"Executing task '([^']+)'")
FINISHED = re.compile(r"Task '([^']+)' finished with status (\w+)")
CANDIDATE = re.compile(r"^\s*candidate (.+)$")

# The steps a run takes when it goes all the way (a blessed model is exported and
# deployed; a rejected one gets its note instead of those two).
EXPECTED_STEPS = {
    "training-pipeline": 9,  # import, load, validate, split, train, evaluate, bless, export, deploy
    "batch-prediction-pipeline": 4,  # import the model and the rows, detect drift, predict
}


class Progress:
    """A write-only stream: copies everything to ``log``, prints progress lines to ``out``.

    Args:
        log: The log file.
        out: Where progress lines go (the terminal's stdout).
        expected: Steps the run is expected to take.
    """

    def __init__(self, log, out, expected: int):
        self.log, self.out, self.expected = log, out, expected
        self.started, self.done, self.pending = time.monotonic(), 0, ""
        self.steps = {}

    def write(self, text: str) -> int:
        """Writes ``text`` to the log; reports each whole line that marks progress."""
        self.log.write(text)
        lines = (self.pending + text).split("\n")
        self.pending = lines.pop()
        for line in lines:
            self.report(ANSI.sub("", line))
        return len(text)

    def flush(self):
        """Flushes the log and the terminal."""
        self.log.flush()
        self.out.flush()

    def report(self, line: str) -> None:
        """Prints one progress line for a step start or end, or a scored candidate."""
        now = time.monotonic()
        if match := STARTED.search(line):
            step = match.group(1)
            self.steps[step] = now
            if step == "record-rejection":  # instead of export and deploy
                self.expected -= 1
            self.expected = max(self.expected, self.done + 1)
            self.say(f"start {step} ({self.done}/{self.expected} done)")
        elif match := FINISHED.search(line):
            step, status = match.groups()
            took = now - self.steps.get(step, now)
            self.done += status == "SUCCESS"
            self.expected = max(self.expected, self.done)
            word = "done " if status == "SUCCESS" else status.lower()
            self.say(f"{word} {step} in {took:.1f} s ({self.done}/{self.expected} done)")
        elif match := CANDIDATE.match(line):
            self.say(f"  candidate {match.group(1).split(' {', 1)[0]}")  # without the JSON

    def say(self, message: str) -> None:
        """Prints ``message`` after the time since the run started."""
        self.out.write(f"[{time.monotonic() - self.started:6.1f} s] {message}\n")
        self.out.flush()
