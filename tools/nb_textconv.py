"""Print a notebook as plain text, for readable ``git diff`` of ``.ipynb`` files.

One-time set-up in a clone (``make setup`` does it; ``.gitattributes`` maps ``*.ipynb`` to it):

    git config diff.ipynb.textconv "python3 tools/nb_textconv.py"

Shows each cell's type and source, and the text of its outputs; an image becomes one line with
its type, size in pixels (PNG) and bytes; metadata is left out. Standard library only, so that
any ``python3`` runs it, with or without the project's virtual environment.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
import sys
from typing import Any


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _image(mime: str, data: Any) -> str:
    raw = _text(data)
    if mime == "image/svg+xml":
        return f"[{mime}: {len(raw.encode())} bytes]"
    try:
        blob = base64.b64decode(raw)
    except (binascii.Error, ValueError):
        return f"[{mime}: {len(raw)} characters]"
    size = ""
    if mime == "image/png" and blob[:8] == b"\x89PNG\r\n\x1a\n" and len(blob) >= 24:
        width, height = struct.unpack(">II", blob[16:24])
        size = f" {width}x{height},"
    return f"[{mime}:{size} {len(blob)} bytes]"


def _output(out: dict[str, Any]) -> list[str]:
    kind = out.get("output_type")
    if kind == "stream":
        return [f"--- {out.get('name', 'stdout')} ---", _text(out.get("text", "")).rstrip("\n")]
    if kind == "error":
        return ["--- error ---", f"{out.get('ename', '')}: {out.get('evalue', '')}"]
    data = out.get("data", {})
    lines = [f"--- {kind} ---"]
    images = [m for m in data if m.startswith("image/")]
    for mime in images:
        lines.append(_image(mime, data[mime]))
    if "text/plain" in data and not images:
        lines.append(_text(data["text/plain"]).rstrip("\n"))
    for mime in sorted(set(data) - set(images) - {"text/plain"}):
        lines.append(f"[{mime}: {len(_text(data[mime]))} characters]")
    return lines


def convert(nb: dict[str, Any]) -> str:
    lines: list[str] = []
    for i, cell in enumerate(nb.get("cells", [])):
        kind = cell.get("cell_type", "?")
        head = f"=== cell {i}: {kind}"
        if kind == "code":
            head += f" [{cell.get('execution_count') or ' '}]"
        tags = cell.get("metadata", {}).get("tags", [])
        if tags:
            head += f" tags: {', '.join(tags)}"
        lines += [head + " ===", _text(cell.get("source", "")).rstrip("\n")]
        for out in cell.get("outputs", []):
            lines += _output(out)
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: nb_textconv.py NOTEBOOK.ipynb", file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as fh:
        text = fh.read()
    try:
        nb = json.loads(text)
    except json.JSONDecodeError:  # e.g. a conflicted file: show it as it is
        sys.stdout.write(text)
        return 0
    sys.stdout.write(convert(nb))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
