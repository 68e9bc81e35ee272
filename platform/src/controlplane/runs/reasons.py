"""What each reason code of a run that did not succeed means, in a sentence a workflow author can act on."""

from __future__ import annotations

from flowyard_spec.states import RunReason

REASON_SENTENCES: dict[str, str] = {
    RunReason.USER_ERROR: "The workflow's own code failed: a task raised an exception or the program exited with an "
                          "error. The log shows the traceback.",
    RunReason.OOM_KILLED: "The runtime killed it for using more memory than its limit; raise `memory` in the config "
                          "or use less.",
    RunReason.TIMEOUT: "It ran longer than the config's `timeout` and was stopped.",
    RunReason.START_TIMEOUT: "It did not start within the start deadline: no runtime capacity, or the image could not "
                             "be pulled in time.",
    RunReason.HEARTBEAT_LOST: "The runner stopped reporting (no heartbeat), or its container was killed by a signal.",
    RunReason.WORKER_LOST: "Its container disappeared from the runtime or was stopped outside Flowyard.",
    RunReason.IMAGE_ERROR: "The image could not run: it could not be pulled, or its entrypoint is missing.",
    RunReason.CANCELLED: "Someone cancelled it.",
}


def reason_sentence(reason: str) -> str:
    """The sentence for a reason code ("" for none; the code itself for one this table does not know)."""
    return REASON_SENTENCES.get(reason, reason) if reason else ""
