"""The web service: ``colouriser serve``.

One uvicorn process runs an asyncio front end (upload, validation, admission, metrics, the page) and hands
the work to N inference worker processes that each load the model once. Photos and results only ever live
in memory. Importing this package is cheap: the heavy modules are imported by whoever needs them.
"""
