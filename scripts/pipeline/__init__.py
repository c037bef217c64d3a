"""The offline pipeline behind the commands: CSV -> series -> windows -> fit -> report."""
