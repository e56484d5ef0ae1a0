"""Stores shared by the sessions of a server (client secrets today)."""
