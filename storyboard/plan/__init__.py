"""The plan: compile (a pure function of the storyboard and its media digests),
the frozen plan types with canonical JSON and job keys, prices, and
``project``, the shell that reads a project and hands compile its facts."""
