"""Reference pipelines and the stage framework they are built from."""
