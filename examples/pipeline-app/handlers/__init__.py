"""This app's result handlers (each module with a ``router`` is loaded)."""
