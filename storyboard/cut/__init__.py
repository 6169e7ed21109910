"""The cut: the timeline model, the engine choice, the ffmpeg and moviepy
engines below it, clip probes, and the OpenTimelineIO export. The only stage
that imports moviepy, and only when an engine runs."""
