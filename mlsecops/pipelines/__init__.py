"""The reference pipelines (`patients`, `digits`) and the registry that lists them."""
