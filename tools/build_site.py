"""The lesson as a static website, built offline with Sphinx and myst-nb: ``make site``.

    python tools/build_site.py                  both builds: build/site/student/ and build/site/teacher/
    python tools/build_site.py student          one of them

Each build gets a source tree of its own in build/site-src/<build>/: the README as the home page
(index.md), the pages that docs/site/toctree.md lists, and that toctree appended to the home page.
The teacher's build takes the notebooks from notebooks/, with their solutions. The student's build
takes them from ``python -m cifar_helpers.classroom student-copies``: solutions replaced by
"# YOUR CODE HERE", exercise outputs cleared, the lesson's own outputs kept; the teacher-only
block of the toctree (the teacher's guide) is left out of it. Nothing is executed: myst-nb shows
the outputs the notebooks carry (docs/site/conf.py).

A link in a page to a file of the lesson that is no page (a source file, say) is copied along, and
Sphinx makes it a download. A link to a teacher-only page becomes plain code text in the student's
build. sphinx-build runs with -W --keep-going, so a broken cross-reference fails the build.
Exit status: 0 built, 1 a build failed, 2 bad arguments or a page missing.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "docs" / "site"
BUILD = ROOT / "build"
BUILDS = ("student", "teacher")
SOLUTION_MARK = "BEGIN SOLUTION"  # nbgrader's marker, as in "### BEGIN SOLUTION"
TEACHER_BLOCK = re.compile(r"<!-- teacher only -->\n(.*?)<!-- end teacher only -->\n", re.S)
TOCTREE = re.compile(r"```\{toctree\}\n(.*?)```", re.S)
LINK = re.compile(r"(?<!!)\[([^\]\n]+)\]\(([^)\s]+)\)")  # [text](target), not ![image](...)


class Stop(Exception):
    """A one-line reason to stop, and the exit status."""

    def __init__(self, message, status=2):
        super().__init__(message)
        self.status = status


def toctree_entries(text):
    """The document names listed in the toctree blocks of ``text`` (options and blank lines skipped)."""
    return [line.strip() for block in TOCTREE.findall(text) for line in block.splitlines()
            if line.strip() and not line.strip().startswith(":")]


def source_of(name):
    """The lesson's file for the document ``name`` (``docs/running`` -> docs/running.md)."""
    for suffix in (".md", ".ipynb"):
        if (ROOT / (name + suffix)).is_file():
            return ROOT / (name + suffix)
    raise Stop(f"docs/site/toctree.md lists {name}, but there is no {name}.md or {name}.ipynb in the lesson")


def fix_links(text, page, src, withheld):
    """``text`` of the page at ``page`` (relative to the lesson's top folder) with its local links made
    to work in the source tree ``src``: a link to a withheld page becomes code text, and a linked file
    that is no page is copied into ``src`` (Sphinx makes it a download)."""

    def fix(match):
        label, target = match.groups()
        path = target.split("#")[0]
        if not path or re.match(r"^[a-z][a-z0-9+.-]*:", path):  # an anchor on the page, or https:, mailto:
            return match[0]
        linked = (ROOT / page).parent.joinpath(path).resolve()
        try:
            relative = linked.relative_to(ROOT)
        except ValueError:
            raise Stop(f"{page} links to {target}, outside the lesson") from None
        if relative.with_suffix("").as_posix() in withheld:
            return f"`{label.strip('`')}`"
        if not (src / relative).exists() and linked.is_file() and linked.suffix not in (".md", ".ipynb"):
            (src / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(linked, src / relative)
        return match[0]  # a page of this build, or a missing one (then Sphinx fails on it)

    return LINK.sub(fix, text)


def assemble(build, src):
    """Lay out the source tree of ``build`` ("student" or "teacher") in ``src``."""
    toctree = (CONF / "toctree.md").read_text(encoding="utf-8")
    teacher_only = set(toctree_entries("".join(TEACHER_BLOCK.findall(toctree))))
    if not teacher_only:
        raise Stop("docs/site/toctree.md has no <!-- teacher only --> block (the teacher's guide)")
    if build == "student":
        toctree, withheld = TEACHER_BLOCK.sub("", toctree), teacher_only
    else:
        toctree, withheld = TEACHER_BLOCK.sub(r"\1", toctree), set()
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="student-copies-") as copies:
        if build == "student":  # the classroom's own copies: no solutions, exercise outputs cleared
            subprocess.run([sys.executable, "-m", "cifar_helpers.classroom", "student-copies", copies],
                           cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        notebooks = Path(copies) if build == "student" else ROOT / "notebooks"
        pages = [(Path("README.md"), src / "index.md")]
        for name in toctree_entries(toctree):
            source = source_of(name).relative_to(ROOT)
            target = src / source
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.suffix == ".ipynb":
                shutil.copy2(notebooks / source.name, target)
            else:
                pages.append((source, target))
    home = (ROOT / "README.md").read_text(encoding="utf-8").rstrip("\n") + "\n" + toctree
    for page, target in pages:
        text = home if page == Path("README.md") else (ROOT / page).read_text(encoding="utf-8")
        target.write_text(fix_links(text, page, src, withheld), encoding="utf-8")
    if build == "student":
        leaks = [p for p in src.rglob("*") if p.is_file() and SOLUTION_MARK in p.read_text(errors="replace")]
        if leaks:
            raise Stop(f"the student's site would show solutions ({SOLUTION_MARK} in {leaks[0]})", 1)


def build_site(build, jobs="1"):
    """Assemble and build ``build``'s site into build/site/<build>/; return its index page.

    sphinx-build writes into build/site-work/<build>/html, then that folder replaces the old site:
    myst-nb puts the notebooks' outputs beside its output folder (jupyter_execute/), and those of
    the teacher's notebooks must never sit in build/site/, which is served."""
    src, work, out = BUILD / "site-src" / build, BUILD / "site-work" / build, BUILD / "site" / build
    assemble(build, src)
    shutil.rmtree(work, ignore_errors=True)
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q", "-j", jobs,
               "-c", str(CONF), "-t", build, "-d", str(work / "doctrees"), str(src), str(work / "html")]
    if subprocess.run(command, cwd=ROOT).returncode != 0:
        raise Stop(f"sphinx-build failed for the {build}'s site (its warnings are above)", 1)
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    (work / "html").rename(out)
    return out / "index.html"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/build_site.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("builds", nargs="*", metavar="student|teacher", help="which sites (default: both)")
    parser.add_argument("-j", "--jobs", default="1", help="sphinx-build's parallel jobs (default 1)")
    args = parser.parse_args(argv)
    if unknown := set(args.builds) - set(BUILDS):
        parser.error(f"no such build: {', '.join(sorted(unknown))} (choose student or teacher)")
    try:
        for build in args.builds or BUILDS:
            start = time.monotonic()
            index = build_site(build, args.jobs)
            print(f"{build}'s site: {index.relative_to(ROOT)} ({time.monotonic() - start:.0f} s)")
    except Stop as error:
        print(f"{parser.prog}: {error}", file=sys.stderr)
        return error.status
    except subprocess.CalledProcessError as error:
        print(f"{parser.prog}: {' '.join(error.cmd[1:4])} failed (exit status {error.returncode})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
