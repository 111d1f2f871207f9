"""Developer tools that are not part of the library: the Lambda zip builder (``python -m tools.package``)."""
