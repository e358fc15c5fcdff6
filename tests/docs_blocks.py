"""What the README and docs show a user: their fenced code blocks and the
commands they give, read from the markdown (for tests/test_docs.py)."""
import re
import shlex
from pathlib import Path
from typing import Iterator, List, NamedTuple

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS = [REPO_ROOT / 'README.md'] + sorted((REPO_ROOT / 'docs').glob('*.md'))
FENCE = re.compile(r'^(\s*)```(\S*)\s*$')
SHELL = {'bash', 'sh', 'shell', 'console'}


class Block(NamedTuple):
    """A fenced code block: its file, first line (1-based), language, text."""
    doc: Path
    line: int
    lang: str
    text: str

    def where(self) -> str:
        return f'{self.doc.relative_to(REPO_ROOT)}:{self.line}'


def blocks(doc: Path) -> Iterator[Block]:
    """The fenced blocks of one markdown file, fences paired in order."""
    lines = doc.read_text().splitlines()
    start = None
    for i, line in enumerate(lines):
        m = FENCE.match(line)
        if not m:
            continue
        if start is None:
            start, lang, indent = i, m.group(2), len(m.group(1))
        else:
            body = [ln[indent:] for ln in lines[start + 1:i]]
            yield Block(doc, start + 1, lang, '\n'.join(body) + '\n')
            start = None


def all_blocks(lang: str) -> List[Block]:
    """Every block of ``lang`` ('python', or 'shell' for bash/sh)."""
    want = SHELL if lang == 'shell' else {lang}
    return [b for doc in DOCS for b in blocks(doc) if b.lang in want]


def _prose(doc: Path) -> str:
    """The file without its fenced blocks (where the inline code is)."""
    text = doc.read_text()
    for b in blocks(doc):
        text = text.replace(b.text, '')
    return text


def shell_commands(block_text: str) -> List[str]:
    """A shell block's commands: continuation lines joined, comments and
    here-documents left out."""
    commands, heredoc = [], None
    for line in block_text.replace('\\\n', ' ').splitlines():
        if heredoc:
            heredoc = None if line.strip() == heredoc else heredoc
            continue
        m = re.search(r"<<-?\s*'?(\w+)'?", line)
        if m:
            heredoc = m.group(1)
            continue
        line = re.sub(r'(^|\s)#.*$', '', line).strip()
        if line:
            commands.append(line)
    return commands


def documented_commands() -> List[tuple]:
    """``(where, command)`` for each command in a shell block and each inline
    code span of prose that starts with a tool (``tools/x.py ...``, also
    after ``python`` or ``bash``)."""
    found = [(b.where(), c) for b in all_blocks('shell')
             for c in shell_commands(b.text)]
    for doc in DOCS:
        for span in re.findall(r'`([^`\n]+)`', _prose(doc).replace('\n', ' ')):
            if re.match(r'(\w+=\S+\s+)*((python|bash) )?tools/\S+\.(py|sh)'
                        r'( |$)', span):
                found.append((str(doc.relative_to(REPO_ROOT)), span))
    return found


def split_command(command: str) -> List[str]:
    """The words of a command: leading ``VAR=value`` words dropped, the
    optional ``[...]`` brackets of a usage line removed."""
    words = shlex.split(command.replace('[', ' ').replace(']', ' '))
    while words and re.match(r'^\w+=', words[0]):
        words.pop(0)
    return words
