# a Python ingestion pipeline of the original; rat ignores it with a warning
