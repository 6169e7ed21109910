"""Review: status against the lock, plan diffs (across git revisions too),
saved plans, ``init``, the git diff driver and the JSON Schemas."""
