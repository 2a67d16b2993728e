"""Everything HTTP: one package per audience, and `core/` for the framework glue they share."""
