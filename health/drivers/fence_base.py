"""What every fence agent answers: the power state it read back after its "off", and a
step-by-step transcript. Only a read-back of "off" is a fence; anything else (an agent
that could not run, a BMC that does not answer, a host still on) is a failed fence."""

import time
from dataclasses import dataclass, field

OFF, ON, UNKNOWN = "off", "on", "unknown"


@dataclass
class FenceResult:
    power_state: str = UNKNOWN
    steps: list = field(default_factory=list)
    detail: dict = field(default_factory=dict)  # what the read-back saw (JSON-able)

    @property
    def fenced(self):
        return self.power_state == OFF

    def step(self, line):
        self.steps.append(f"{time.strftime('%H:%M:%S')} {line}")

    @property
    def transcript(self):
        return "\n".join(self.steps)


def poll_until_off(read_state, deadline, result, interval=0.5):
    """Ask `read_state()` -> (state, detail, line) until it says off or the deadline passes;
    record each answer that differs from the previous one. Returns the last state."""
    last_line = None
    while True:
        state, detail, line = read_state()
        result.power_state, result.detail = state, detail
        if line != last_line:
            result.step(f"read back: {line}")
            last_line = line
        if state == OFF or time.monotonic() >= deadline:
            return state
        time.sleep(interval)
