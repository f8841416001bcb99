"""The labs' task functions and the helpers they share (``pipelines/`` is on ``sys.path``)."""
