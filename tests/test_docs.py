"""The command examples in README.md and docs/*.md run, and print what the docs say.

The convention (docs/testing.md, "Examples that run"):

- A ```console block is a shell session: each line starting with `$ ` is a command (a
  trailing backslash continues it), and the lines after it, up to the next `$ `, are what
  it prints, stdout and stderr together. `…` in a line stands for any text in that line; a
  line that is only `…` stands for any number of lines. A command shown without output is
  run, and its output not compared. Every command must exit 0, unless the next command is
  `echo $?`, which then shows its status.
- A ```sh (or ```bash, ```shell) block is a script: run with `bash -e`, it must exit 0.
- `<!-- not run here: REASON -->` just before a block leaves it out (it needs Twilio, a
  tunnel, Google's voice, a server that runs until stopped, root...).

A block's commands run in one bash, one after another, in a new empty temporary folder
that holds `.venv`, a link to this virtualenv (so `.venv/bin/ivr` works as in a checkout),
with a clean environment: PATH (this virtualenv's bin/ first), HOME, and nothing of the
line's settings. Nothing runs in the checkout.
"""

import os
import re
import subprocess
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

from ivr import ROOT

#: The docs: README.md and docs/*.md (docs/_*.md are working notes, not docs).
DOCS = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").glob("*.md") if not p.name.startswith("_"))]
SESSION = {"console"}
SCRIPT = {"sh", "bash", "shell"}
#: A block longer than this is stuck (a server, a prompt): it fails instead of hanging.
TIMEOUT = 120

#: Examples known to be stale, by (file, first command), and why: not run, reported as
#: expected failures. Each entry goes when its example is mended (a test holds that).
KNOWN_STALE: dict[tuple[str, str], str] = {}


@dataclass
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    lang: str
    body: list  # its lines, without the fence's indentation
    note: str  # the HTML comment just before it ('' when none)

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def skipped(self) -> str | None:
        """Why the block is not run here, or None."""
        found = re.fullmatch(r"<!--\s*not run here:?\s*(.*?)\s*-->", self.note, re.S)
        return found[1] if found else None

    def commands(self) -> list[tuple[str, list[str]]]:
        """A session's (command, lines it prints) pairs; a script's one (script, [])."""
        if self.lang in SCRIPT:
            return [("\n".join(self.body), [])]
        found = []
        lines = iter(self.body)
        for line in lines:
            if line.startswith("$ "):
                command = line[2:]
                while command.endswith("\\"):  # bash joins the lines itself
                    command += "\n" + next(lines, "")
                found.append((command, []))
            elif found:
                found[-1][1].append(line)
            elif line.strip():
                raise AssertionError(f"{self.where}: output before the first `$ ` command")
        return found

    @property
    def first(self) -> str:
        """The block's first command line, as KNOWN_STALE names it."""
        for line in self.body:
            if line.strip() and not line.startswith("#"):
                return line[2:] if line.startswith("$ ") else line
        return ""


FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)\s*(?P<lang>[\w-]*)")


def blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a markdown file."""
    found = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        # The note is the last line before the fence that is not blank.
        before = next((ln.strip() for ln in reversed(lines[:i]) if ln.strip()), "")
        note = before if before.startswith("<!--") else ""
        body = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        found.append(Block(path, i - len(body), opening["lang"].lower(), body, note))
        i += 1
    return found


def runnable() -> list[Block]:
    return [b for path in DOCS for b in blocks(path)
            if b.lang in SESSION | SCRIPT and b.skipped is None]


def expected_pattern(lines: list[str]) -> re.Pattern:
    """The output the docs show, as a pattern: `…` is any text in a line, and a line of
    only `…` any number of lines."""
    parts = []
    for line in lines:
        line = line.rstrip()
        if line.strip() == "…":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append("[^\n]*?".join(re.escape(p) for p in line.split("…")) + "\n")
    return re.compile("".join(parts))


def shown(text: str) -> str:
    """Output as compared: trailing spaces and blank lines at the end dropped."""
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return "".join(line + "\n" for line in lines)


def environment(home: Path) -> dict:
    """What the examples run with: this virtualenv first on PATH, and none of the line's
    settings (no token, no .env, no DATABASE_URL)."""
    scripts = sysconfig.get_path("scripts")
    return {
        "PATH": os.pathsep.join([scripts, os.environ.get("PATH", os.defpath)]),
        "HOME": os.environ.get("HOME", str(home)),
        "LANG": "C.UTF-8",
        "COLUMNS": "80",
        "TMPDIR": str(home),
    }


#: printed after each command of a session: its number and exit status.
MARK = "@@docs-example %s %s@@"


def run_block(block: Block, folder: Path) -> list[tuple[str, list[str], str, int]]:
    """Run the block's commands in `folder`: (command, expected lines, output, status) each."""
    venv = Path(sysconfig.get_path("scripts")).parent
    (folder / ".venv").symlink_to(venv, target_is_directory=True)
    commands = block.commands()
    if block.lang in SCRIPT:
        script = "set -e -o pipefail\n" + commands[0][0] + "\n"
        done = subprocess.run(["bash", "-c", script], cwd=folder, env=environment(folder),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT)
        return [(commands[0][0], [], done.stdout, done.returncode)]
    script = []
    for n, (command, _) in enumerate(commands):
        # Each command's status is kept for the next (`echo $?`) and printed after a mark.
        script.append(f"{command}\n__status=$?; printf '\\n{MARK}\\n' {n} $__status; "
                      f"(exit $__status)")
    done = subprocess.run(["bash", "-c", "\n".join(script)], cwd=folder,
                          env=environment(folder), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=TIMEOUT)
    pieces = re.split(r"\n" + re.escape(MARK).replace("%s", r"(\d+)") + r"\n", done.stdout)
    results = []
    for n, (command, expected) in enumerate(commands):
        if 3 * n + 2 >= len(pieces):
            results.append((command, expected, "".join(pieces[3 * n:]), -1))  # never reached
            break
        output, number, status = pieces[3 * n: 3 * n + 3]
        assert int(number) == n
        results.append((command, expected, output, int(status)))
    return results


def check(block: Block, results) -> list[str]:
    """What is wrong with the block's results ([] when it ran as the docs say)."""
    problems = []
    commands = [c for c, *_ in results]
    for n, (command, expected, output, status) in enumerate(results):
        followed_by_status = n + 1 < len(commands) and commands[n + 1].strip() == "echo $?"
        if status != 0 and not followed_by_status:
            problems.append(f"`{command}` exited {status}:\n{output}")
            break
        if expected and not expected_pattern(expected).fullmatch(shown(output)):
            problems.append(f"`{command}` printed:\n{shown(output)}\nthe docs show:\n"
                            + "".join(line + "\n" for line in expected))
    return problems


@pytest.mark.parametrize("block", [
    pytest.param(b, id=b.where, marks=[pytest.mark.xfail(
        reason=KNOWN_STALE[(b.path.name, b.first)], run=False)]
        if (b.path.name, b.first) in KNOWN_STALE else [])
    for b in runnable()
])
def test_example_runs_as_documented(block, tmp_path):
    instance = ROOT / "instance"
    before = sorted(instance.iterdir()) if instance.is_dir() else None
    results = run_block(block, tmp_path)
    problems = check(block, results)
    assert not problems, f"{block.where}:\n" + "\n".join(problems)
    # The default call store of an editable install is the checkout's instance/ folder.
    assert (sorted(instance.iterdir()) if instance.is_dir() else None) == before


def test_examples_leave_the_checkout_alone():
    """An example that opens the default call store would write instance/ in the checkout
    (an editable install's instance folder): the examples give DATABASE_URL instead."""
    for block in runnable():
        if (block.path.name, block.first) in KNOWN_STALE:
            continue
        text = "\n".join(block.body)
        if re.search(r"\bivr (db|report)\b", text):
            assert "DATABASE_URL=" in text, f"{block.where}: give the call store a DATABASE_URL"


def test_sh_blocks_are_scripts_not_sessions():
    """A `$ ` prompt belongs in a ```console block, whose output is then checked."""
    wrong = [b.where for path in DOCS for b in blocks(path)
             if b.lang in SCRIPT and any(line.startswith("$ ") for line in b.body)
             and (b.path.name, b.first) not in KNOWN_STALE]
    assert wrong == []


def test_known_stale_examples_are_still_there():
    """An entry whose example was rewritten or removed goes from KNOWN_STALE too."""
    present = {(b.path.name, b.first) for path in DOCS for b in blocks(path)}
    assert set(KNOWN_STALE) - present == set()


def test_the_convention_is_checked():
    # The matcher itself: a wildcard in a line, a line of wildcard, and a mismatch.
    pattern = expected_pattern(["LINE  [welcome] Hola, …", "…", "END   the caller hung up"])
    assert pattern.fullmatch("LINE  [welcome] Hola, esta es\nKEYS  2\nKEYS  3\nEND   the caller hung up\n")
    assert pattern.fullmatch("LINE  [welcome] Hola, x\nEND   the caller hung up\n")
    assert not pattern.fullmatch("LINE  [welcome] Hola, x\nEND   the line hung up\n")
    assert not expected_pattern(["a…b"]).fullmatch("a\nb\n")  # … stays within its line
    session = Block(ROOT / "docs" / "x.md", 1, "console",
                    ["$ echo one; false", "$ echo $?", "1", "$ echo \\", "  two", "two"], "")
    assert session.commands() == [("echo one; false", []), ("echo $?", ["1"]),
                                  ("echo \\\n  two", ["two"])]


def test_a_session_keeps_its_shell_and_checks_statuses(tmp_path):
    session = Block(ROOT / "docs" / "x.md", 1, "console",
                    ["$ cd .venv/bin && export X=1; false", "$ echo $?", "1",
                     "$ test -x ivr && echo $X", "1", "$ false", "$ echo never"], "")
    results = run_block(session, tmp_path)
    assert [(o.strip(), s) for _, _, o, s in results] == [("", 1), ("1", 0), ("1", 0), ("", 1),
                                                           ("never", 0)]
    problems = check(session, results)
    assert len(problems) == 1 and problems[0].startswith("`false` exited 1")


def test_a_session_shows_what_was_printed_against_the_docs(tmp_path):
    session = Block(ROOT / "docs" / "x.md", 1, "console",
                    ["$ echo \\", "  one two", "one two", "$ printf 'a\\nb\\n'", "a", "c"], "")
    results = run_block(session, tmp_path)
    assert [output for _, _, output, _ in results] == ["one two\n", "a\nb\n"]
    assert check(session, results) == ["`printf 'a\\nb\\n'` printed:\na\nb\n\nthe docs show:\na\nc\n"]


def test_a_script_must_exit_0(tmp_path):
    script = Block(ROOT / "docs" / "x.md", 1, "sh", ["true", "false", "echo never"], "")
    (result,) = run_block(script, tmp_path)
    assert result[2] == "" and result[3] == 1
    assert check(script, [result])


def test_a_note_leaves_a_block_out(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("Text.\n\n<!-- not run here: needs Twilio -->\n```sh\nivr twilio connect +1\n"
                   "```\n\n```console\n  $ indented\n```\n\n- a list:\n\n  ```sh\n  true\n  ```\n",
                   encoding="utf-8")
    found = blocks(doc)
    assert [(b.lang, b.skipped, b.body) for b in found] == [
        ("sh", "needs Twilio", ["ivr twilio connect +1"]),
        ("console", None, ["  $ indented"]),
        ("sh", None, ["true"]),
    ]


def test_the_readme_settings_table_is_every_setting():
    """README's one table of settings names every setting ivr/settings.py documents, and
    only those, besides the commands' own environment variables."""
    from ivr.settings import documented

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    named = {name for row in table.splitlines() if row.startswith("| `")
             for name in re.findall(r"`([A-Z_]+)`", row.split("|")[1])}
    commands = {"IVR_CALL_PLAYER", "PORT", "WEB_CONCURRENCY"}  # click's envvars of ivr call / serve
    assert named == {name for name, _, _ in documented()} | commands
