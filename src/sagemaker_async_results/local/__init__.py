"""Local run on an embedded AWS: moto's server, a local deploy of the synthesized stack, an async
endpoint simulator, and a local Lambda runtime that runs the real handler code.

Everything here stands in for something AWS does; nothing here is deployed.
"""
