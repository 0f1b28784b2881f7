"""User result-handler plugins. Every module of this package that defines ``router = Router()`` is
loaded (``HANDLER_MODULES``, default ``handlers``); add a module here to add handlers — no
framework file needs editing. See README.md "Writing a result handler".
"""
