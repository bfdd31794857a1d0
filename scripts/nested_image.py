#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Helpers of scripts/make-nested.sh: the file trees of the L1 machine that
`make test-kvm` boots under QEMU (see tests/nested/README.md).

  nested_image.py root DIR [--pydir] --cmd NAME... [--elf FILE...]
      Stages the system part of L1's root file system in DIR (which must
      not exist): each command as PATH resolves it (with every symlink on
      the way, e.g. /usr/bin/awk -> /etc/alternatives/awk -> /usr/bin/mawk),
      the standard library of the python3 on PATH if --pydir, and every
      shared library `ldd` lists for those and for each FILE (e.g. vmon,
      which the caller copies itself), with the loader. The host's
      merged-/usr layout (/bin -> usr/bin...) is reproduced, so paths
      resolve in L1 as on the host. Fails, naming them, if commands are not
      installed.

  nested_image.py cpio DIR OUT.gz
      Writes DIR as a gzip'd newc cpio archive for -initrd, every entry
      owned by root with time 0, plus /dev/console (the kernel opens it for
      /init before devtmpfs is mounted), without needing root.
"""
import gzip
import os
import shutil
import stat
import subprocess
import sys

# Parts of the standard library no test uses; the rest is copied whole
# (a missing module would only show as an ImportError inside L1).
PY_SKIP = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3",
           "pydoc_data", "site-packages", "dist-packages", "__pycache__"}


def die(msg):
    sys.exit("nested_image: " + msg)


class Stager:
    def __init__(self, root):
        self.root = root
        self.done = set()
        self.elves = []

    def dst(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def mirror_usrmerge(self):
        # /bin, /sbin, /lib* as the host has them (symlinks into /usr on a
        # merged-/usr Debian 12), before anything is copied through them.
        for d in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            p = "/" + d
            if os.path.islink(p):
                target = os.readlink(p)
                os.makedirs(os.path.normpath(os.path.join(self.root, target)), exist_ok=True)
                os.symlink(target, self.dst(p))

    def add(self, path):
        """Copies path (file or symlink chain) to the same place in root."""
        path = os.path.normpath(path)
        if path in self.done:
            return
        self.done.add(path)
        # Resolve symlinked parent directories first (e.g. /lib64 -> usr/lib64):
        # copy the path through its real parent, keep its own name.
        parent = os.path.dirname(path)
        real_parent = os.path.realpath(parent)
        if real_parent != parent:
            self.add(os.path.join(real_parent, os.path.basename(path)))
            return
        st = os.lstat(path)
        d = self.dst(path)
        os.makedirs(os.path.dirname(d), exist_ok=True)
        if stat.S_ISLNK(st.st_mode):
            target = os.readlink(path)
            if not os.path.lexists(d):
                os.symlink(target, d)
            self.add(os.path.join(parent, target) if not target.startswith("/") else target)
        elif stat.S_ISDIR(st.st_mode):
            os.makedirs(d, exist_ok=True)
        else:
            shutil.copy2(path, d)
            with open(path, "rb") as f:
                if f.read(4) == b"\x7fELF":
                    self.elves.append(path)

    def tree(self, src, dst, skip=()):
        """Copies the directory tree src to dst (an absolute path in root)."""
        for dirpath, dirs, files in os.walk(src, followlinks=True):
            # config-3.X-...: the files for building extension modules.
            dirs[:] = sorted(d for d in dirs if d not in skip and not d.startswith("config-"))
            rel = os.path.relpath(dirpath, src)
            out = os.path.normpath(os.path.join(self.dst(dst), rel))
            os.makedirs(out, exist_ok=True)
            for f in sorted(files):
                p = os.path.join(dirpath, f)
                shutil.copy2(p, os.path.join(out, f))
                with open(p, "rb") as fh:
                    if fh.read(4) == b"\x7fELF":
                        self.elves.append(p)

    def libraries(self):
        """Adds what ldd lists for every staged ELF file, until closed."""
        seen = set()
        while True:
            todo = [e for e in self.elves if e not in seen]
            if not todo:
                return
            for e in todo:
                seen.add(e)
                r = subprocess.run(["ldd", e], capture_output=True, text=True)
                if r.returncode != 0:
                    continue  # static, or not a program ("not a dynamic executable")
                for line in r.stdout.splitlines():
                    line = line.strip()
                    if "=>" in line:
                        lib = line.split("=>", 1)[1].strip().split(" ")[0]
                        if lib == "not":
                            die(f"{e}: ldd cannot find {line.split()[0]}")
                    else:
                        lib = line.split(" ")[0]
                    if lib.startswith("/"):
                        self.add(lib)


def stage_root(args):
    root, cmds, elves, pydir = args[0], [], [], False
    mode = None
    for a in args[1:]:
        if a in ("--cmd", "--elf"):
            mode = a
        elif a == "--pydir":
            pydir = True
        elif mode == "--cmd":
            cmds.append(a)
        elif mode == "--elf":
            elves.append(a)
        else:
            die(f"unexpected argument {a}")
    if os.path.exists(root):
        die(f"{root} exists")
    os.makedirs(root)
    s = Stager(root)
    s.mirror_usrmerge()
    missing = [c for c in cmds if not shutil.which(c)]
    if missing:
        die("not installed on this host: " + " ".join(missing) + " (run scripts/setup.sh)")
    for c in cmds:
        s.add(shutil.which(c))
    if pydir:
        py = shutil.which("python3")
        if not py:
            die("no python3 on PATH")
        std = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
        s.tree(std, std, skip=PY_SKIP)
    s.elves.extend(elves)
    s.libraries()


def write_cpio(args):
    root, out = args
    ino = [1]

    def entry(name, mode, data=b"", rdev=(0, 0), nlink=1):
        hdr = "070701" + "".join("%08x" % v for v in (
            ino[0], mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1],
            len(name) + 1, 0))
        ino[0] += 1
        b = hdr.encode() + name.encode() + b"\0"
        b += b"\0" * (-len(b) % 4) + data
        return b + b"\0" * (-len(b) % 4)

    parts = []
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        rel = os.path.relpath(dirpath, root)
        if rel != ".":
            parts.append(entry(rel, stat.S_IFDIR | 0o755, nlink=2))
        for f in sorted(files) + sorted(d for d in dirs if os.path.islink(os.path.join(dirpath, d))):
            p = os.path.join(dirpath, f)
            name = os.path.normpath(os.path.join(rel, f))
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                parts.append(entry(name, stat.S_IFLNK | 0o777, os.readlink(p).encode()))
            else:
                with open(p, "rb") as fh:
                    parts.append(entry(name, stat.S_IFREG | (st.st_mode & 0o777), fh.read()))
    parts.append(entry("dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1)))
    parts.append(entry("TRAILER!!!", 0))
    with gzip.GzipFile(out, "wb", compresslevel=6, mtime=0) as g:
        g.write(b"".join(parts))


def main():
    if len(sys.argv) < 3:
        die("usage: nested_image.py root DIR ... | cpio DIR OUT.gz")
    if sys.argv[1] == "root":
        stage_root(sys.argv[2:])
    elif sys.argv[1] == "cpio" and len(sys.argv) == 4:
        write_cpio(sys.argv[2:])
    else:
        die(f"unknown command {sys.argv[1:]}")


if __name__ == "__main__":
    main()
