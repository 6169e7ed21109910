"""The cut's errors, in one tree: whoever cuts, readies or takes a frame of a
clip (the render, ``takes``, a shot built on another's frame) catches one class.

    StitchError          the cut cannot be made as planned; cli prints it, exit 1
     └── ProbeError      a file is not a video the cut can read
"""

from __future__ import annotations

from ..errors import StoryboardError


class StitchError(StoryboardError):
    pass


class ProbeError(StitchError):
    pass
