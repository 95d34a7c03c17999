#!/usr/bin/env python3
"""Runs the shell examples of Markdown documents, the way a reader would type them.

    doc_tests.py [--repository DIR] [--bin DIR] [--list] FILE.md ...

The convention (docs/cli.md, "Documentation tests"):

- A fenced block tagged `sh` or `bash` is run with bash (`set -eo pipefail`) from a scratch copy
  of the repository. The blocks of one file run in order in one copy, like one terminal session:
  the working directory and exported variables carry from one block to the next. Any command that
  fails fails the test, which names the file, the line and the command.
- A block tagged `console` is a session: each line starting with `$ ` is a command (a line ending
  in `\\` continues on the next `> ` line), and the lines below it, up to the next `$ `, are its
  expected output (standard output and standard error together). A line `...` matches any number
  of lines and `…` inside a line matches any text; trailing spaces are ignored. A command expected
  to fail shows its exit status as a last line `[N]`; otherwise it must exit 0.
- A block tagged `text` (or any other language) is not run, and neither is a block right after
  the line `<!-- doc-test: skip -->` or `<!-- doc-test: skip (the reason) -->` (placeholders,
  real cloud accounts, servers that run until stopped).
- A block right after `<!-- doc-test: cleanup -->` is a page's teardown (stop what the page
  started): it runs in its place, and also at the end when an earlier block failed. An untagged block that starts with `$ ` or with an `allot` command is an error, so
  that every example is either run or marked as illustrative.

The scratch copy is a git clone of the repository's files as they are on disk (tracked and
untracked, not ignored; `main` and `origin/main` at one commit), so `git rev-list`, `allot diff
main` and relative paths behave as in a contributor's checkout. `--bin` is put first on PATH (the
folder holding the built `allot`); `ALLOT_SIGNING_KEY` is removed from the environment. Each block
may take at most `--timeout` seconds; processes a block leaves running are stopped when the file
is done.

Exit status 0 when every block passes, 1 when one fails (each failure is printed), 2 on bad usage.
"""

import argparse
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile

SKIP_MARKER = re.compile(r"<!-- doc-test: skip( \(.*\))? -->")
CLEANUP_MARKER = re.compile(r"<!-- doc-test: cleanup( \(.*\))? -->")
RUN_TAGS = {"sh", "bash", "shell"}
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")


class Block:
    def __init__(self, path, line, tag, body, skipped, cleanup=False):
        self.path = path
        self.line = line  # the line of the opening fence, 1-based
        self.tag = tag
        self.body = body  # list of lines
        self.skipped = skipped
        self.cleanup = cleanup

    @property
    def where(self):
        return f"{self.path}:{self.line}"


def blocks_of(path, file=None):
    """Every fenced block of a Markdown file (read from `file`, default `path`), with its tag and
    whether it is marked skipped."""
    with open(file or path, encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    blocks = []
    index = 0
    previous = ""
    while index < len(lines):
        match = FENCE.match(lines[index])
        if not match:
            if lines[index].strip():
                previous = lines[index].strip()
            index += 1
            continue
        fence = match.group("fence")
        tag = match.group("info").strip().split(" ")[0].lower() if match.group("info").strip() else ""
        start = index
        body = []
        index += 1
        while index < len(lines) and not (lines[index].strip().startswith(fence[0] * len(fence)) and lines[index].strip().strip(fence[0]) == ""):
            body.append(lines[index][len(match.group("indent")):] if lines[index].startswith(match.group("indent")) else lines[index])
            index += 1
        if index >= len(lines):
            raise DocError(f"{path}:{start + 1}: the code block is never closed")
        blocks.append(Block(path, start + 1, tag, body, SKIP_MARKER.fullmatch(previous) is not None,
                            CLEANUP_MARKER.fullmatch(previous) is not None))
        previous = ""
        index += 1
    return blocks


class DocError(Exception):
    pass


def check_untagged(block):
    first = next((line for line in block.body if line.strip()), "")
    if block.tag == "" and not block.skipped and (first.startswith("$ ") or re.match(r"allot\s", first)):
        return (
            f"{block.where}: an untagged block that looks like commands ({first.strip()[:60]!r}): "
            "tag it `sh` (run it), `console` (run it and check the output shown) or `text` (illustrative only)"
        )
    return None


def make_scratch(repository, folder):
    """A clone of the repository's files as they are on disk, with main and origin/main."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=repository, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    staging = os.path.join(folder, "staging")
    for relative in filter(None, listed):
        source = os.path.join(repository, relative)
        if not os.path.isfile(source):
            continue
        target = os.path.join(staging, relative)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(source, target)
    environment = dict(os.environ, **GIT_ENVIRONMENT)
    for arguments, cwd in (
        (["init", "-q", "-b", "main"], staging),
        (["add", "-A"], staging),
        (["commit", "-q", "-m", "The repository as it is on disk"], staging),
        (["clone", "-q", "--bare", staging, os.path.join(folder, "origin.git")], folder),
        (["clone", "-q", os.path.join(folder, "origin.git"), os.path.join(folder, "repository")], folder),
    ):
        subprocess.run(["git", *arguments], cwd=cwd, env=environment, capture_output=True, check=True)
    shutil.rmtree(staging)
    return os.path.join(folder, "repository")


GIT_ENVIRONMENT = {
    "GIT_AUTHOR_NAME": "Doc Tests", "GIT_AUTHOR_EMAIL": "docs@allot.invalid",
    "GIT_COMMITTER_NAME": "Doc Tests", "GIT_COMMITTER_EMAIL": "docs@allot.invalid",
    "GIT_AUTHOR_DATE": "@1796083200 +0000", "GIT_COMMITTER_DATE": "@1796083200 +0000",
}


class Session:
    """One bash session per file: each block runs in a new bash that restores the working
    directory and exported variables the previous block left."""

    def __init__(self, directory, bin_folder, timeout):
        self.state = tempfile.mkdtemp(prefix="doc-session-")
        self.cwd = directory
        self.timeout = timeout
        self.environment = {key: value for key, value in os.environ.items() if key != "ALLOT_SIGNING_KEY"}
        self.environment.update(GIT_ENVIRONMENT)
        if bin_folder:
            self.environment["PATH"] = bin_folder + os.pathsep + self.environment.get("PATH", "")
        self.groups = []
        with open(os.path.join(self.state, "env"), "w") as handle:
            handle.write("")

    def run(self, script, first_line):
        """Runs `script`; returns (status, output, failing line or None, failing command)."""
        state = self.state
        prologue = (
            f"source {shlex.quote(state)}/env\n"
            f"cd {shlex.quote(self.cwd)}\n"
            f"trap 'export -p > {shlex.quote(state)}/env.next; pwd > {shlex.quote(state)}/cwd' EXIT\n"
            f"trap 'echo \"$((LINENO - 5)) $BASH_COMMAND\" > {shlex.quote(state)}/failed' ERR\n"
            "set -eo pipefail\n"
        )
        path = os.path.join(state, "block.sh")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(prologue + script + "\n")
        for name in ("failed", "env.next", "cwd"):
            if os.path.exists(os.path.join(state, name)):
                os.remove(os.path.join(state, name))
        process = subprocess.Popen(
            ["bash", "--noprofile", "--norc", path], cwd=self.cwd, env=self.environment,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.groups.append(process.pid)
        try:
            output, _ = process.communicate(timeout=self.timeout)
            status = process.returncode
        except subprocess.TimeoutExpired:
            self.stop_group(process.pid)
            output, _ = process.communicate()
            output += f"\n(still running after {self.timeout:.0f} s: stopped)\n".encode()
            status = 124
        text = output.decode("utf-8", errors="replace")
        failed_line, failed_command = None, None
        if os.path.exists(os.path.join(state, "failed")):
            with open(os.path.join(state, "failed"), encoding="utf-8") as handle:
                number, _, command = handle.read().strip().partition(" ")
            if number.isdigit():
                failed_line, failed_command = first_line + int(number) - 1, command
        if os.path.exists(os.path.join(state, "env.next")):
            os.replace(os.path.join(state, "env.next"), os.path.join(state, "env"))
        if os.path.exists(os.path.join(state, "cwd")):
            with open(os.path.join(state, "cwd"), encoding="utf-8") as handle:
                self.cwd = handle.read().strip() or self.cwd
        return status, text, failed_line, failed_command

    @staticmethod
    def stop_group(pid):
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def close(self):
        for pid in self.groups:
            self.stop_group(pid)
        shutil.rmtree(self.state, ignore_errors=True)


def console_commands(block):
    """(line, command, expected lines, expected status) for each `$ ` command of a console block."""
    commands = []
    index = 0
    body = block.body
    while index < len(body):
        line = body[index]
        if not line.startswith("$ "):
            if line.strip():
                raise DocError(f"{block.path}:{block.line + 1 + index}: console output before any `$ ` command: {line!r}")
            index += 1
            continue
        number = block.line + 1 + index
        command = line[2:]
        index += 1
        while command.endswith("\\") and index < len(body) and body[index].startswith("> "):
            # Kept as typed: bash reads the backslash-newline as a continuation.
            command = command + "\n" + body[index][2:]
            index += 1
        expected = []
        while index < len(body) and not body[index].startswith("$ "):
            expected.append(body[index])
            index += 1
        while expected and not expected[-1].strip():
            expected.pop()
        status = 0
        if expected and re.fullmatch(r"\[\d+\]", expected[-1].strip()):
            status = int(expected.pop().strip()[1:-1])
        commands.append((number, command, expected, status))
    return commands


def line_matches(pattern, actual):
    pattern, actual = pattern.rstrip(), actual.rstrip()
    if "…" not in pattern:
        return pattern == actual
    regex = ".*".join(re.escape(part) for part in pattern.split("…"))
    return re.fullmatch(regex, actual) is not None


def output_matches(expected, actual):
    """Expected lines against actual lines; `...` alone on a line matches any number of lines."""
    def match(e, a):
        if e == len(expected):
            return a == len(actual)
        if expected[e].strip() == "...":
            return any(match(e + 1, k) for k in range(a, len(actual) + 1))
        return a < len(actual) and line_matches(expected[e], actual[a]) and match(e + 1, a + 1)
    return match(0, 0)


class Scratch:
    """A pristine clone made once, copied for each file (a copy is much faster than a clone)."""

    def __init__(self, repository):
        self.repository = repository
        self.folder = tempfile.mkdtemp(prefix="doc-test-")
        self.pristine = None

    def copy(self):
        if self.pristine is None:
            self.pristine = make_scratch(self.repository, os.path.join(self.folder, "pristine"))
        target = tempfile.mkdtemp(prefix="page-", dir=self.folder)
        shutil.rmtree(target)
        shutil.copytree(self.pristine, target, symlinks=True)
        return target

    def remove(self):
        shutil.rmtree(self.folder, ignore_errors=True)


def run_file(path, repository, bin_folder, timeout, log, scratch):
    """Runs one Markdown file's blocks; returns a list of failure messages."""
    try:
        blocks = blocks_of(path, os.path.join(repository, path))
    except DocError as error:
        return [str(error)]
    failures = [message for message in map(check_untagged, blocks) if message]
    runnable = [block for block in blocks if not block.skipped and block.tag in RUN_TAGS | {"console"}]
    cleanups = [block for block in runnable if block.cleanup and block.tag in RUN_TAGS]
    if not runnable or failures:
        return failures
    session = None
    directory = None
    try:
        directory = scratch.copy()
        session = Session(directory, bin_folder, timeout)
        for block in runnable:
            if block.tag == "console":
                try:
                    commands = console_commands(block)
                except DocError as error:
                    failures.append(str(error))
                    break
                for number, command, expected, expected_status in commands:
                    # `set +e`: the status is checked against the one shown, not by bash.
                    status, output, _, _ = session.run("set +e\n" + command, number)
                    actual = output.rstrip("\n").split("\n") if output.strip() else []
                    log(f"{path}:{number}: $ {command.splitlines()[0]}  (exit {status})")
                    if status != expected_status or not output_matches(expected, actual):
                        failures.append(
                            f"{path}:{number}: `{command}` "
                            + (f"exited {status}, the document shows {expected_status}" if status != expected_status else "printed something else")
                            + "\n--- the document shows:\n" + "\n".join(expected)
                            + "\n--- it printed:\n" + output.rstrip("\n")
                        )
                        break
                else:
                    continue
                break
            else:
                first = block.line + 1
                status, output, failed_line, failed_command = session.run("\n".join(block.body), first)
                log(f"{block.where}: sh block of {len(block.body)} lines (exit {status})")
                if status != 0:
                    where = f"{path}:{failed_line}" if failed_line else block.where
                    command = f"`{failed_command}` " if failed_command else "the block "
                    failures.append(f"{where}: {command}failed with exit status {status}\n{output.rstrip()}")
                    break
    except subprocess.CalledProcessError as error:
        failures.append(f"{path}: cannot make the scratch copy: {error} {error.stderr!r}")
    finally:
        if session and failures:
            # A page that stopped early still stops what it started.
            for block in cleanups:
                status, output, _, _ = session.run("\n".join(block.body), block.line + 1)
                log(f"{block.where}: cleanup block (exit {status})")
                if status != 0:
                    failures.append(f"{block.where}: the cleanup block failed with exit status {status}\n{output.rstrip()}")
        if session:
            session.close()
        if directory:
            shutil.rmtree(directory, ignore_errors=True)
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+")
    parser.add_argument("--repository", default=os.getcwd(), help="the repository to copy (default: the current folder)")
    parser.add_argument("--bin", help="a folder to put first on PATH (the one with the built allot)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds a block may run (default 120)")
    parser.add_argument("--list", action="store_true", help="list the blocks and what happens to each, run nothing")
    arguments = parser.parse_args()
    if arguments.list:
        for path in arguments.files:
            for block in blocks_of(path):
                action = "skip" if block.skipped else ("check" if block.tag == "console" else "run" if block.tag in RUN_TAGS else "ignore")
                if block.cleanup and action == "run":
                    action = "run (cleanup)"
                if check_untagged(block):
                    action = "ERROR: untagged commands"
                print(f"{block.where}\t{block.tag or '-'}\t{action}\t{(block.body[0] if block.body else '')[:70]}")
        return 0
    failures = []
    repository = os.path.abspath(arguments.repository)
    scratch = Scratch(repository)
    try:
        for path in arguments.files:
            relative = os.path.relpath(os.path.abspath(os.path.join(repository, path)), repository)
            failures += run_file(relative, repository, arguments.bin, arguments.timeout,
                                 lambda text: print(text, file=sys.stderr), scratch)
    finally:
        scratch.remove()
    for failure in failures:
        print(f"doc test failed: {failure}\n", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
