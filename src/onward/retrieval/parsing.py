"""Bytes → text. markitdown for office documents, PDF and HTML; text, Markdown, code and
JSON are read directly. Blocking: callers run `parse` in a worker thread."""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger("onward.retrieval")

# converted by markitdown (extension → what it is, for messages)
DOCUMENTS = {
    ".pdf": "PDF",
    ".docx": "Word document",
    ".pptx": "PowerPoint presentation",
    ".xlsx": "Excel workbook",
    ".html": "HTML page",
    ".htm": "HTML page",
}
# read as UTF-8 text (with replacement characters for bad bytes)
TEXT = {
    ".txt", ".md", ".markdown", ".rst", ".json", ".jsonl", ".csv", ".tsv", ".xml", ".yaml", ".yml",
    ".toml", ".ini", ".cfg", ".log", ".tex", ".py", ".pyi", ".js", ".mjs", ".ts", ".tsx", ".jsx",
    ".java", ".kt", ".c", ".h", ".cc", ".cpp", ".hpp", ".cs", ".go", ".rs", ".rb", ".php", ".swift",
    ".scala", ".sh", ".bash", ".sql", ".r", ".lua", ".pl", ".css", ".scss", ".vue", ".svelte",
}
_MAGIC = {b"%PDF": ".pdf", b"PK\x03\x04": ".zip"}


class ParseError(Exception):
    """A file that cannot be turned into text. `code` is `invalid_file` (damaged or empty)
    or `unsupported_file` (a format Onward does not read)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@functools.cache
def _converters() -> dict[str, Any]:
    """markitdown's converter for each document type, called directly: markitdown's own
    dispatch guesses the type from the content and would read a damaged PDF as plain text."""
    from markitdown.converters import (
        DocxConverter,
        HtmlConverter,
        PdfConverter,
        PptxConverter,
        XlsxConverter,
    )

    html = HtmlConverter()
    return {".pdf": PdfConverter(), ".docx": DocxConverter(), ".pptx": PptxConverter(), ".xlsx": XlsxConverter(), ".html": html, ".htm": html}


def _looks_textual(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:  # a cut multi-byte character at the end is fine
        return exc.start >= len(head) - 3
    return True


def parse(path: Path, filename: str) -> str:
    """The text of the file at `path`; `filename` gives its type (its extension), checked
    against the first bytes."""
    ext = Path(filename).suffix.lower()
    with open(path, "rb") as f:
        head = f.read(4096)
    if not head:
        raise ParseError("invalid_file", f"The file {filename!r} is empty.")
    if ext in DOCUMENTS:
        return _convert(path, filename, ext)
    if ext in TEXT or (ext not in _MAGIC.values() and _looks_textual(head)):
        return path.read_bytes().decode("utf-8", errors="replace")
    sniffed = next((kind for magic, kind in _MAGIC.items() if head.startswith(magic)), None)
    if sniffed == ".pdf":
        return _convert(path, filename, ".pdf")
    raise ParseError("unsupported_file", f"The file type of {filename!r} is not supported. Supported: PDF, DOCX, PPTX, XLSX, HTML, plain text, Markdown, JSON and source code.")


def _convert(path: Path, filename: str, ext: str) -> str:
    from markitdown import StreamInfo

    info = StreamInfo(extension=ext, filename=filename, local_path=str(path), charset="utf-8" if ext in (".html", ".htm") else None)
    try:
        with open(path, "rb") as stream:
            result = _converters()[ext].convert(stream, info)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        log.info("could not parse %s: %s", filename, exc)
        raise ParseError("invalid_file", f"The file {filename!r} could not be parsed as a {DOCUMENTS[ext]}: {reason[:300]}") from exc
    text = (result.text_content or "").replace("\x0c", "\n")
    if not text.strip():
        raise ParseError("invalid_file", f"No text could be extracted from {filename!r} (a scanned document without a text layer?).")
    return text
