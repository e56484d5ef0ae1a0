"""The offline voice pipeline: a Backend answering a session with the local engines."""
