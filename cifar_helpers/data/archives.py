"""Unpacking archives safely: nothing lands outside the folder they are unpacked into."""

from __future__ import annotations

import os
import posixpath
import tarfile
from pathlib import PureWindowsPath

from .cifar10_spec import DataFormatError


def check_member(member: tarfile.TarInfo, archive: str | os.PathLike) -> None:
    """Raise DataFormatError (one line naming ``archive`` and the member) when the tar ``member``
    could land outside the folder the archive is unpacked into: an absolute path, a ".." step,
    a link to an absolute path or out of the archive, or a device file. Checked by name only,
    so it also guards archives that are read without being unpacked."""
    name, link = member.name, member.linkname
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or PureWindowsPath(name).drive:
        problem = "which has an absolute path"
    elif ".." in parts:
        problem = "which climbs out with '..'"
    elif member.isdev():
        problem = "which is a device file or a pipe"
    elif (member.issym() or member.islnk()) and (link.startswith(("/", "\\")) or PureWindowsPath(link).drive):
        problem = f"which links to the absolute path {link!r}"
    elif member.issym() or member.islnk():  # a symlink is relative to its folder, a hard link to the archive's top
        target = posixpath.normpath(posixpath.join(posixpath.dirname(name) if member.issym() else "", link))
        if target != ".." and not target.startswith("../"):
            return
        problem = f"which links to {link!r}, outside the archive"
    else:
        return
    raise _refused(archive, name, problem)


def extract_tar(archive: str | os.PathLike, target: str | os.PathLike) -> None:
    """Unpack the tar archive ``archive`` (.tar, .tar.gz, ...) into the existing folder ``target``.

    Every member passes `check_member` before anything is written. Python's "data" extraction
    filter then checks each path again on disk (a link may lead out through a link unpacked before
    it) and drops owners and special permission bits. Where Python has no filters (before 3.10.12
    and 3.11.4), links are refused altogether, as the name check cannot follow them.
    """
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        for member in members:
            check_member(member, archive)
        if not hasattr(tarfile, "data_filter"):
            for member in members:
                if member.issym() or member.islnk():
                    raise _refused(archive, member.name, "which is a link, and this Python has no tarfile "
                                   "extraction filters to check where it leads (use Python 3.10.12, 3.11.4 or later)")
            tar.extractall(target, members)
            return
        try:
            tar.extractall(target, members, filter="data")
        except tarfile.FilterError as error:
            raise _refused(archive, error.tarinfo.name, "which would be written outside the folder it is "
                           "unpacked into") from None


def _refused(archive: str | os.PathLike, name: str, problem: str) -> DataFormatError:
    return DataFormatError(f"{archive} holds {name!r}, {problem}: refused; get a fresh copy of the archive "
                           "from a trusted source.")
