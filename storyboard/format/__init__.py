"""The storyboard format: YAML with a source map, the pydantic models (version 1),
prompt templates (a Jinja sandbox), referenced files and their digests.
Reads files; imports only ``errors`` and the ``catalog`` below it."""
