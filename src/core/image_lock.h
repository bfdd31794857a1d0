/* SPDX-License-Identifier: MIT */
/*
 * Disk image locks that other hypervisors on the host understand.
 *
 * vmon locks its disk images the way QEMU does (block/file-posix.c), with
 * open file description locks (fcntl F_OFD_SETLK, shared, one byte each),
 * so a vmon and a QEMU — or two vmons — refuse to share an image the way
 * two QEMUs would:
 *   - byte 100 + i is locked by every user holding permission i, byte
 *     200 + i by every user that does NOT let others have permission i,
 *     for i = 0 consistent read, 1 write, 2 write-unchanged, 3 resize;
 *   - a user may start only if no one else locks 200 + i for a
 *     permission i it holds, nor 100 + i for a permission i it does not
 *     share (tested with F_OFD_GETLK as a write lock).
 * vmon takes, like a QEMU disk device: read-only (,ro): holds read,
 * shares read and write-unchanged (so read-only users coexist, and no
 * writer can start); writable: holds read, write and write-unchanged,
 * shares read and write-unchanged (so it excludes every other writer and
 * every read-only user: an exclusive lock in effect; `qemu-img info -U`,
 * which asks for nothing, can still look).
 *
 * OFD locks belong to the open file, not the process: they stay while the
 * fd is open (the disk's whole life), go when it closes, and conflict
 * between two opens of the same file inside one process too — which is
 * how image_lock_held() sees this VM's own disks.
 */
#ifndef VMON_CORE_IMAGE_LOCK_H
#define VMON_CORE_IMAGE_LOCK_H

#include <stdbool.h>
#include <sys/stat.h>

/* Takes the locks for a read-only or writable user on fd, then checks for
 * conflicting users (in that order, as QEMU does: of two users starting
 * at once, at least one sees the other). Returns 0; or -1 with errno
 * EAGAIN when another user conflicts (the locks taken are released), or
 * another errno when the file system cannot lock. */
int image_lock(int fd, bool writable);

/* Drops every lock this open file holds (a live migration hands the
 * image to the target process; image_lock takes them again). */
void image_unlock(int fd);

/* Whether anyone — another process, or another open of the file in this
 * one — holds image locks on fd's file: 1 yes, 0 no, -1 with errno. */
int image_lock_held(int fd);

/* Whether a and b are the same file (for block devices: the same device,
 * whatever node names it). */
bool image_same_file(const struct stat *a, const struct stat *b);

#endif
