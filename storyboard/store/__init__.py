"""Where clips and state are kept: the storage protocol and its folder backend,
and the content-addressed clip cache on top of it."""
