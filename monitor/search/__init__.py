"""Searching stored documents: the index of their analysed words and the preview."""
