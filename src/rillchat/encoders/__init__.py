"""Event log -> bytes: the guide's plain text, or typed SSE."""
