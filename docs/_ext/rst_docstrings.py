"""A griffe extension: cascade's reST-flavoured docstrings as the Markdown mkdocstrings renders.

The docstrings are written for ``help()`` and doctest: ``>>>`` examples, Sphinx roles
(:class:`Pipeline`) and ``::`` before literal blocks. Markdown would read an example's ``>>>`` as
nested quotes and its ``['a', 'b']`` output as a link, and print the roles as typed; so examples
become ``pycon`` code blocks, roles inline code, and ``text::`` plain ``text:``. Code blocks are
left as they are.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const):`(~?)([^`]+)`")
"""A Sphinx cross-reference role: ``:class:`~a.B``` reads ``B``, ``:func:`a.b``` reads ``a.b``."""


def _role(match: re.Match[str]) -> str:
    short, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if short else target}`"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _block_end(lines: list[str], start: int, indent: int) -> int:
    """Index after the lines from ``start`` indented deeper than ``indent`` (blank lines inside)."""
    end = start
    for index in range(start, len(lines)):
        if lines[index].strip():
            if _indent(lines[index]) <= indent:
                break
            end = index + 1
    return end


def _fence(block: list[str], pad: str, language: str = "") -> list[str]:
    width = min(_indent(line) for line in block if line.strip())
    return [
        f"{pad}```{language}",
        *(pad + line[width:] if line.strip() else "" for line in block),
        f"{pad}```",
    ]


def to_markdown(text: str) -> str:
    """One docstring: examples and literal blocks fenced, roles as code, ``text::`` as ``text:``."""
    lines, out, index = text.splitlines(), [], 0
    while index < len(lines):
        line, pad = lines[index], " " * _indent(lines[index])
        if line.lstrip().startswith("```"):  # a fenced block already: copied unchanged
            end = next(
                (i for i in range(index + 1, len(lines)) if lines[i].lstrip().startswith("```")), len(lines)
            )
            out.extend(lines[index : end + 1])
            index = end + 1
        elif line.lstrip().startswith(">>>"):  # an example runs up to the next blank line
            end = next((i for i in range(index, len(lines)) if not lines[i].strip()), len(lines))
            if out and out[-1].strip():
                out.append("")
            out.extend(_fence(lines[index:end], pad, "pycon"))
            index = end
        elif line.rstrip().endswith("::"):  # reST: a literal block follows, indented deeper
            before = ROLE.sub(_role, line.rstrip()[:-1])
            out.append("" if before.strip() == ":" else before)
            start = next((i for i in range(index + 1, len(lines)) if lines[i].strip()), len(lines))
            end = _block_end(lines, start, _indent(line))
            if end > start:
                out.extend(["", *_fence(lines[start:end], pad)])
                index = end
            else:
                index += 1
        else:
            out.append(ROLE.sub(_role, line))
            index += 1
    return "\n".join(out)


class RstDocstrings(griffe.Extension):
    """Rewrites every docstring of a package once it is loaded."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Walk the package's objects (not aliases: their targets are rewritten where they live)."""
        stack: list[griffe.Object] = [pkg]
        while stack:
            obj = stack.pop()
            if obj.docstring is not None:
                obj.docstring.value = to_markdown(obj.docstring.value)
            stack.extend(member for member in obj.members.values() if isinstance(member, griffe.Object))
