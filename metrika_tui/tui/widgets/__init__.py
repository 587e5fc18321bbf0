"""The console's widgets: each shows state it is given and does no I/O."""
