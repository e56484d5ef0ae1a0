"""Relay mode: sessions answered by an upstream GA Realtime server over a server-held key."""
