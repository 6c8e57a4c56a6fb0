"""The folders crosscheck writes (``--results DIR``): owned, locked, and replaced whole.

* **Owned.** A folder crosscheck wrote holds ``.crosscheck-manifest.json``,
  the names of the files each command wrote (``report``, ``run``). A non-empty
  folder without one is somebody else's: refused unless ``force`` (then the
  folder is *adopted* and written in place from then on, see below).
* **No stale files.** A command's files from an earlier run that it does not
  write this time are gone after the run; files of other commands and files
  that are not crosscheck's (``benchmarks.md``, a user's notes) are kept.
* **One writer.** A lock file beside the folder (``.NAME.crosscheck-lock``,
  ``flock``) refuses a second concurrent writer, naming its pid; the kernel
  drops the lock when its holder dies, however it dies.
* **Never a mixed set.** The new folder is built in full beside the old one
  (``.NAME.crosscheck-new``: crosscheck's new files, hard links to the files
  that are not crosscheck's, the manifest last) and swapped in by one
  ``renameat2(RENAME_EXCHANGE)``; where the kernel or filesystem lacks it, by
  two renames (then, killed between them, the folder is briefly absent, never
  mixed). A reader sees the old set or the new one whatever moment the process
  is killed at. The next claim of the folder applies one recovery rule to any
  leftover ``.NAME.crosscheck-new``/``-old`` folder: if it is complete (its
  manifest written), an entry in it that is not crosscheck's and is missing from
  the live folder goes back into it (a sub-folder that is not crosscheck's is
  moved across after the swap); then the leftover is deleted. If the live folder
  is missing, the complete leftover becomes it.

An adopted folder (``--force`` on a folder that was not crosscheck's, or the
working directory itself, which cannot be swapped from under the user) is
written file by file: each file atomically, the set not (see
:func:`crosscheck.tables.write_files`).
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import signal
from contextlib import contextmanager
from pathlib import Path

MANIFEST = ".crosscheck-manifest.json"
_MARK = "crosscheck results folder"
_RENAME_EXCHANGE = 2


class FolderError(Exception):
    """A results folder crosscheck must not or cannot write (exit 2); the message names it."""


def _sibling(folder: Path, what: str) -> Path:
    return folder.parent / f".{folder.name}.crosscheck-{what}"


def read_manifest(folder) -> dict | None:
    """The manifest of a folder crosscheck owns ({"files": {command: [names]}, "adopted": bool}); None if none."""
    path = Path(folder) / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("crosscheck") != _MARK or not isinstance(data.get("files"), dict):
        return None
    return data


def _manifest_text(files: dict, adopted: bool) -> str:
    data = {"crosscheck": _MARK, "adopted": adopted,
            "files": {writer: sorted(names) for writer, names in sorted(files.items())}}
    return json.dumps(data, indent=1) + "\n"


def _owned_names(manifest) -> set:
    return {n for names in (manifest or {}).get("files", {}).values() for n in names} | {MANIFEST}


def check_target(folder, force=False) -> Path:
    """Refuse, with a message naming it, a folder that cannot or must not be written; nothing is created here."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise FolderError(f"--results {folder}: exists and is not a folder")
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe != folder and not probe.is_dir():
        raise FolderError(f"--results {folder}: cannot be created, {probe} is a file")
    if not os.access(probe, os.W_OK):
        raise FolderError(f"--results {folder}: {probe} is not writable")
    if folder.is_dir() and read_manifest(folder) is None and any(folder.iterdir()) and not force:
        shown = sorted(p.name for p in folder.iterdir())
        more = f" and {len(shown) - 5} more" if len(shown) > 5 else ""
        raise FolderError(
            f"--results {folder}: the folder holds files crosscheck did not write ({', '.join(shown[:5])}{more}) "
            f"and no {MANIFEST}; choose an empty or new folder, or pass --force to write into it anyway "
            f"(files of the same names are then replaced)")
    return folder


class _Lock:
    """An exclusive ``flock`` on ``.NAME.crosscheck-lock`` beside the folder; the file holds the holder's pid."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.path = _sibling(folder, "lock")
        self.fd = None

    def acquire(self):
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = os.read(fd, 64).decode(errors="replace").strip() or "?"
                os.close(fd)
                if exc.errno in (errno.EAGAIN, errno.EACCES):
                    raise FolderError(f"--results {self.folder}: another crosscheck (pid {holder}) is writing it now; "
                                      f"wait for it to end (lock file {self.path})") from None
                raise
            try:  # the file may have been unlinked by its previous holder between our open and flock: retry
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd

    def release(self):
        if self.fd is not None:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            os.close(self.fd)
            self.fd = None


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where that is not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV, errno.EPERM):
        return False
    raise OSError(err, os.strerror(err), str(a))


def _restore_foreign(leftover: Path, live: Path):
    """Move what is not crosscheck's in a leftover staging folder back into the live one (if missing there)."""
    manifest = read_manifest(leftover)
    if manifest is None:  # a new folder killed while being built: crosscheck's files and links of live ones only
        return
    owned = _owned_names(manifest)
    for entry in sorted(leftover.iterdir()):
        if entry.name not in owned and not (live / entry.name).exists() and not (live / entry.name).is_symlink():
            os.replace(entry, live / entry.name)


def recover(folder) -> list[str]:
    """Apply the recovery rule to what a killed writer left beside ``folder``; returns what was done."""
    folder = Path(folder)
    done = []
    leftovers = [p for p in (_sibling(folder, "new"), _sibling(folder, "old")) if p.is_dir()]
    if not folder.exists():
        complete = [p for p in leftovers if read_manifest(p) is not None]
        if complete:
            os.replace(complete[0], folder)
            leftovers.remove(complete[0])
            done.append(f"restored {folder} from {complete[0].name}")
    for leftover in leftovers:
        if folder.is_dir():
            _restore_foreign(leftover, folder)
        shutil.rmtree(leftover)
        done.append(f"removed {leftover.name}")
    return done


def _fsync_dir(path: Path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_file(path: Path, content):
    binary = isinstance(content, bytes)
    with open(path, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": ""})) as fh:
        fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())


class Target:
    """A claimed results folder: checked, locked, recovered; :meth:`write` replaces one command's files."""

    def __init__(self, folder, force=False):
        self.folder = Path(folder)
        self.force = force
        self.lock = _Lock(self.folder)

    def __enter__(self):
        check_target(self.folder, self.force)
        self.lock.acquire()
        try:
            recover(self.folder)
            check_target(self.folder, self.force)  # again, under the lock
        except BaseException:
            self.lock.release()
            raise
        return self

    def __exit__(self, *exc):
        self.lock.release()

    def _in_place(self, manifest) -> bool:
        if manifest is not None:
            return bool(manifest.get("adopted"))
        if self.folder.is_dir() and any(self.folder.iterdir()):
            return True  # --force on a folder that is not crosscheck's: adopted, written in place
        here = Path.cwd().resolve()
        target = self.folder.resolve()
        return target == here or target in here.parents

    def write(self, files: dict, writer: str) -> list[Path]:
        """Make ``files`` ({name: str or bytes}) the whole of ``writer``'s files in the folder."""
        bad = [n for n in files if not n or "/" in n or n.startswith(".") or n == MANIFEST]
        if bad:
            raise ValueError(f"not a plain file name for a results folder: {bad}")
        manifest = read_manifest(self.folder) if self.folder.is_dir() else None
        listed = dict((manifest or {}).get("files", {}))
        stale = set(listed.get(writer, ())) - set(files)
        listed[writer] = sorted(files)
        if self._in_place(manifest):
            return self._write_in_place(files, stale, listed)
        return self._write_swapped(files, stale, listed, manifest)

    def _write_in_place(self, files, stale, listed):
        from .tables import write_files

        written = write_files(self.folder, {**files, MANIFEST: _manifest_text(listed, adopted=True)})
        for name in stale:
            try:
                (self.folder / name).unlink()
            except FileNotFoundError:
                pass
        return written[:-1]

    def _write_swapped(self, files, stale, listed, manifest):
        live, new = self.folder, _sibling(self.folder, "new")
        if new.exists():
            shutil.rmtree(new)
        new.mkdir(parents=True)
        ours = set(files)
        carried_dirs = []
        if live.is_dir():
            for entry in sorted(live.iterdir()):
                if entry.name in ours or entry.name in stale or entry.name == MANIFEST:
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    carried_dirs.append(entry.name)  # moved across after the swap
                    continue
                try:  # a file of another command, or not crosscheck's: kept, as a hard link
                    os.link(entry, new / entry.name, follow_symlinks=False)
                except OSError:
                    shutil.copy2(entry, new / entry.name, follow_symlinks=False)
        for name, content in files.items():
            _write_file(new / name, content)
        listed = {w: [n for n in names if n in files or (new / n).exists()] for w, names in listed.items()}
        _write_file(new / MANIFEST, _manifest_text(listed, adopted=False))  # last: the folder is complete
        _fsync_dir(new)
        held = {signal.SIGINT, signal.SIGTERM}
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
        try:
            if not live.exists():
                os.replace(new, live)
            elif _exchange(new, live):
                _fsync_dir(live.parent)
                old = new  # after the exchange the old folder sits at the staging name
                for name in carried_dirs:
                    os.replace(old / name, live / name)
                shutil.rmtree(old)
            else:
                old = _sibling(live, "old")
                os.replace(live, old)
                os.replace(new, live)
                _fsync_dir(live.parent)
                for name in carried_dirs:
                    os.replace(old / name, live / name)
                shutil.rmtree(old)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        return [live / name for name in files]


@contextmanager
def claim(folder, force=False):
    """``with claim(DIR, force) as target: ... target.write(files, "report")`` (see :class:`Target`)."""
    with Target(folder, force) as target:
        yield target


def write(folder, files, writer, force=False) -> list[Path]:
    """Claim ``folder``, write ``writer``'s files into it, release it."""
    with claim(folder, force) as target:
        return target.write(files, writer)
