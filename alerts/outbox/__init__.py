"""The outbox: digests recorded before they are sent, every attempt recorded after."""
