"""A local HTTP server that speaks WaveSpeed's protocol, and misbehaves on request.

Bearer auth (401 without it); both upload flows; submit for every catalog
model, checked against the model's own limits (400 with a message, "Model
not found." for an unknown path); results that go created → processing →
completed after a set time; real MP4 clips (H.264, plus AAC when the job has
sound) of the requested aspect ratio, a little longer than asked, as the real
service returns them. It counts submits per request body, so tests can prove
nothing was paid for twice.

Faults are rules: ``{"on": "submit"|"poll"|"download"|"upload", "kind": ...,
"times": N, "match": "text in the prompt"}`` with kinds 429, 500, 503,
``drop`` (close the connection without answering; on submit, after the task
was created), ``truncate`` (downloads), ``fail``, ``slow``, ``stall`` and
``short`` (submit: the task fails, takes ``seconds`` longer, exists while
its answer comes ``seconds`` late, or makes a clip ``seconds`` short). Give them at start
(``storyboard emulate --fault submit:429``) or at run time
(``POST /_emulator/faults``). ``GET /_emulator/stats`` tells what happened.
"""

from .faults import Fault
from .server import Emulator

__all__ = ["Emulator", "Fault"]
