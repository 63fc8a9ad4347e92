"""The documents stage: raw entries to documents, and documents into the log.

Shapes, normalisation (text, URL, date, language, identity: pure), the plan of what a
batch adds to the log (pure), and the recording of that plan in one transaction.
"""
