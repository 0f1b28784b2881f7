"""This app's result handlers: every module here that defines ``router = Router()`` is loaded."""
