"""Conversations out and back in: the versioned JSON export, Markdown, and imports (ours, ChatGPT's)."""

from rillchat.archive.errors import InvalidImport
from rillchat.archive.exporter import EXPORT_FORMAT, EXPORT_VERSION, export_json, export_markdown
from rillchat.archive.importer import read_import

__all__ = ["EXPORT_FORMAT", "EXPORT_VERSION", "InvalidImport", "export_json", "export_markdown", "read_import"]
