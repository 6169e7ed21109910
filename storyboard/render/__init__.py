"""Render: the async executor (cache, journal, concurrency, rate limits,
retries, progress events), uploads, the injected clock, and the lock; ``run``
puts them together for ``storyboard render``."""
