/* SPDX-License-Identifier: MIT */
#include "jail/layout.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

int jail_layout_check(struct jail_layout *l, const char *chroot_base, const char *id,
		      struct vmon_error *err)
{
	memset(l, 0, sizeof(*l));
	l->chroot_fd = l->base_fd = l->dir_fd = l->root_fd = -1;
	char real[PATH_MAX];
	if (!realpath(chroot_base, real))
		return err_setf(err, "--chroot-base: cannot use '%.200s': %s", chroot_base,
				strerror(errno));
	struct stat st;
	if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode))
		return err_setf(err, "--chroot-base: '%.200s' is not a directory", chroot_base);
	if ((size_t)snprintf(l->base, sizeof(l->base), "%s/%s", strcmp(real, "/") ? real : "",
			     JAIL_DIR_NAME) >= sizeof(l->base) ||
	    (size_t)snprintf(l->dir, sizeof(l->dir), "%s/%s", l->base, id) >= sizeof(l->dir) ||
	    (size_t)snprintf(l->root, sizeof(l->root), "%s/root", l->dir) >= sizeof(l->root))
		return err_setf(err, "--chroot-base: '%.200s' is too long", chroot_base);
	snprintf(l->id, sizeof(l->id), "%s", id);
	if (lstat(l->base, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return err_setf(err, "%s is not a directory", l->base);
		if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)))
			return err_setf(err,
					"%s must belong to uid %u and not be writable by others",
					l->base, (unsigned)geteuid());
	}
	if (lstat(l->dir, &st) == 0 || errno != ENOENT)
		return err_setf(err,
				"%s already exists (a jail with id %s ran or runs there): remove "
				"it or choose another --id",
				l->dir, id);
	return 0;
}

/* mkdirat + open without following a symlink; *made tells whether this
 * call made it. exclusive: an existing directory is an error. */
static int make_dir_at(int parent, const char *name, mode_t mode, bool exclusive, bool *made)
{
	if (made)
		*made = false;
	if (mkdirat(parent, name, mode) == 0) {
		if (made)
			*made = true;
	} else if (errno != EEXIST || exclusive) {
		return -1;
	}
	return openat(parent, name, DIR_FLAGS);
}

int jail_layout_create(struct jail_layout *l, uid_t uid, gid_t gid, struct vmon_error *err)
{
	l->uid = uid;
	l->gid = gid;
	char chroot_dir[PATH_MAX];
	snprintf(chroot_dir, sizeof(chroot_dir), "%s", l->base);
	char *slash = strrchr(chroot_dir, '/');
	if (slash == chroot_dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	l->chroot_fd = open(chroot_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->chroot_fd < 0)
		return err_setf(err, "cannot open %s: %s", chroot_dir, strerror(errno));
	/* Another jailer may remove DIR/vmon when it finds it empty between
	 * our mkdir and our own mkdir inside it: try again then. */
	for (int attempt = 0;; attempt++) {
		l->base_fd = make_dir_at(l->chroot_fd, JAIL_DIR_NAME, 0755, false, &l->made_base);
		if (l->base_fd < 0)
			return err_setf(err, "cannot make %s: %s", l->base, strerror(errno));
		struct stat st;
		if (fstat(l->base_fd, &st) < 0 || st.st_uid != geteuid() ||
		    (st.st_mode & (S_IWGRP | S_IWOTH)))
			return err_setf(err,
					"%s must belong to uid %u and not be writable by others",
					l->base, (unsigned)geteuid());
		l->dir_fd = make_dir_at(l->base_fd, l->id, 0755, true, &l->made_dir);
		if (l->dir_fd >= 0)
			break;
		if (errno == EEXIST)
			return err_setf(err, "%s already exists: remove it or choose another --id",
					l->dir);
		if (errno != ENOENT || attempt == 10)
			return err_setf(err, "cannot make %s: %s", l->dir, strerror(errno));
		close(l->base_fd);
		l->base_fd = -1;
	}
	l->root_fd = make_dir_at(l->dir_fd, "root", 0755, true, NULL);
	if (l->root_fd < 0)
		return err_setf(err, "cannot make %s: %s", l->root, strerror(errno));
	if (mkdirat(l->root_fd, "dev", 0755) < 0)
		return err_setf(err, "cannot make %s/dev: %s", l->root, strerror(errno));
	return 0;
}

/* Copies src_fd into a new file name in dir_fd; returns the new file's fd. */
static int copy_into(int src_fd, int dir_fd, const char *name, mode_t mode)
{
	int out = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (out < 0)
		return -1;
	loff_t off_in = 0;
	bool plain = false;
	char buf[1 << 16];
	for (;;) {
		ssize_t n;
		if (!plain) {
			n = copy_file_range(src_fd, &off_in, out, NULL, 1 << 30, 0);
			if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
				      errno == EOPNOTSUPP)) {
				plain = true;
				continue;
			}
		} else {
			n = pread(src_fd, buf, sizeof(buf), off_in);
			if (n > 0) {
				for (ssize_t done = 0; done < n;) {
					ssize_t w = write(out, buf + done, (size_t)(n - done));
					if (w < 0 && errno == EINTR)
						continue;
					if (w <= 0)
						goto fail;
					done += w;
				}
				off_in += n;
			}
		}
		if (n == 0)
			break;
		if (n < 0 && errno != EINTR)
			goto fail;
	}
	return out;
fail : {
	int e = errno;
	close(out);
	unlinkat(dir_fd, name, 0);
	errno = e;
	return -1;
}
}

/* Places src_fd's file as name in dir_fd: a hard link, else a copy.
 * Returns an fd of the placed file (for checks), *copied saying which. */
static int place(int src_fd, int dir_fd, const char *name, bool *copied)
{
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", src_fd);
	*copied = false;
	if (linkat(AT_FDCWD, proc, dir_fd, name, AT_SYMLINK_FOLLOW) == 0)
		return openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (errno != EXDEV && errno != EPERM && errno != EMLINK && errno != ENOENT &&
	    errno != EACCES)
		return -1;
	struct stat st;
	if (fstat(src_fd, &st) < 0)
		return -1;
	*copied = true;
	return copy_into(src_fd, dir_fd, name, st.st_mode & 0777 & ~(mode_t)(S_ISUID | S_ISGID));
}

/* Opens (making them) the directories of rel under root; returns the fd of
 * rel's directory and points *leaf at its last component. */
static int open_parents(int root_fd, const char *rel, const char **leaf)
{
	int fd = dup(root_fd);
	const char *p = rel;
	for (;;) {
		const char *slash = strchr(p, '/');
		if (!slash)
			break;
		char comp[NAME_MAX + 1];
		size_t len = (size_t)(slash - p);
		if (fd < 0 || len == 0 || len > NAME_MAX) {
			if (fd >= 0)
				close(fd);
			errno = EINVAL;
			return -1;
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		int next = make_dir_at(fd, comp, 0755, false, NULL);
		close(fd);
		fd = next;
		p = slash + 1;
	}
	*leaf = p;
	return fd;
}

int jail_layout_add_program(struct jail_layout *l, int exe_fd, const struct jail_libs *libs,
			    struct vmon_error *err)
{
	bool copied;
	int fd = place(exe_fd, l->root_fd, JAIL_EXEC_NAME, &copied);
	if (fd < 0)
		return err_setf(err, "cannot place vmon in %s: %s", l->root, strerror(errno));
	close(fd);
	for (int i = 0; i < libs->n; i++) {
		const char *leaf;
		int src = open(libs->path[i], O_RDONLY | O_CLOEXEC);
		if (src < 0)
			return err_setf(err, "cannot open the library %s: %s", libs->path[i],
					strerror(errno));
		int dir = open_parents(l->root_fd, libs->path[i] + 1, &leaf);
		if (dir < 0) {
			close(src);
			return err_setf(err, "cannot place %s in %s: %s", libs->path[i], l->root,
					strerror(errno));
		}
		fd = place(src, dir, leaf, &copied);
		int e = errno;
		close(dir);
		close(src);
		if (fd < 0)
			return err_setf(err, "cannot place %s in %s: %s", libs->path[i], l->root,
					strerror(e));
		close(fd);
	}
	return 0;
}

/* May uid/gid (no supplementary groups: the jail drops them) read, and
 * write if asked, a file with this owner and mode? */
static bool may_access(const struct stat *st, uid_t uid, gid_t gid, bool write)
{
	unsigned bits = st->st_uid == uid   ? (st->st_mode >> 6) & 7
			: st->st_gid == gid ? (st->st_mode >> 3) & 7
					    : st->st_mode & 7;
	unsigned want = 4 | (write ? 2 : 0);
	return (bits & want) == want;
}

int jail_layout_add_images(struct jail_layout *l, const struct jail_run *run,
			   struct vmon_error *err)
{
	for (int i = 0; i < run->nfiles; i++) {
		const struct jail_file *f = &run->files[i];
		if (f->kind != JAIL_FILE_IMAGE && f->kind != JAIL_FILE_DISK)
			continue;
		/* Non-blocking, and checked again after the open: the path was
		 * a regular file when the arguments were read (run_args.c), but
		 * a FIFO put in its place since must not hang the jailer. */
		int src = open(f->host_path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (src < 0)
			return err_setf(err, "%s: cannot open '%s': %s", f->option, f->host_path,
					strerror(errno));
		struct stat sst;
		if (fstat(src, &sst) < 0 || !S_ISREG(sst.st_mode)) {
			close(src);
			return err_setf(err, "%s: '%s' is not a regular file", f->option,
					f->host_path);
		}
		bool copied;
		int fd = place(src, l->root_fd, f->name, &copied);
		int e = errno;
		close(src);
		if (fd < 0)
			return err_setf(err, "%s: cannot place '%s' in %s: %s", f->option,
					f->host_path, l->root, strerror(e));
		struct stat st;
		int rc = 0;
		if (copied && fchown(fd, l->uid, l->gid) < 0)
			rc = err_setf(err, "%s: cannot give the copy of '%s' to uid %u: %s",
				      f->option, f->host_path, (unsigned)l->uid, strerror(errno));
		else if (fstat(fd, &st) < 0)
			rc = err_setf(err, "%s: cannot stat %s/%s: %s", f->option, l->root, f->name,
				      strerror(errno));
		else if (!may_access(&st, l->uid, l->gid, f->writable))
			rc = err_setf(err,
				      "%s: uid %u gid %u may not %s '%s' (owner %u:%u, mode %04o): "
				      "give it to them%s",
				      f->option, (unsigned)l->uid, (unsigned)l->gid,
				      f->writable ? "read and write" : "read", f->host_path,
				      (unsigned)st.st_uid, (unsigned)st.st_gid,
				      (unsigned)(st.st_mode & 07777),
				      f->kind == JAIL_FILE_DISK && f->writable ? " or add ,ro"
									       : "");
		close(fd);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int jail_layout_finish(struct jail_layout *l, struct vmon_error *err)
{
	if (fchown(l->root_fd, l->uid, l->gid) < 0)
		return err_setf(err, "cannot give %s to uid %u gid %u: %s", l->root,
				(unsigned)l->uid, (unsigned)l->gid, strerror(errno));
	return 0;
}

int jail_layout_write_pid(const struct jail_layout *l, pid_t pid, struct vmon_error *err)
{
	int fd = openat(l->dir_fd, "vmon.pid",
			O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return err_setf(err, "cannot write %s/vmon.pid: %s", l->dir, strerror(errno));
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)pid);
	ssize_t w = write(fd, buf, (size_t)n);
	int e = errno;
	close(fd);
	if (w != n)
		return err_setf(err, "cannot write %s/vmon.pid: %s", l->dir,
				w < 0 ? strerror(e) : "short write");
	return 0;
}

void jail_layout_remove_pid(struct jail_layout *l)
{
	if (l->dir_fd >= 0)
		unlinkat(l->dir_fd, "vmon.pid", 0);
}

/* Removes name (a directory) in parent and everything below it. */
static void remove_tree(int parent, const char *name, int depth)
{
	int fd = openat(parent, name, DIR_FLAGS);
	if (fd >= 0 && depth < 32) {
		DIR *d = fdopendir(fd);
		if (d) {
			struct dirent *e;
			while ((e = readdir(d))) {
				if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
					continue;
				bool is_dir = e->d_type == DT_DIR;
				if (e->d_type == DT_UNKNOWN) {
					struct stat st;
					is_dir = fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
							 0 &&
						 S_ISDIR(st.st_mode);
				}
				if (is_dir)
					remove_tree(fd, e->d_name, depth + 1);
				else
					unlinkat(fd, e->d_name, 0);
			}
			closedir(d); /* closes fd */
		} else {
			close(fd);
		}
	} else if (fd >= 0) {
		close(fd);
	}
	unlinkat(parent, name, AT_REMOVEDIR);
}

void jail_layout_remove(struct jail_layout *l)
{
	if (l->root_fd >= 0) {
		close(l->root_fd);
		l->root_fd = -1;
	}
	if (l->dir_fd >= 0) {
		close(l->dir_fd);
		l->dir_fd = -1;
	}
	if (l->made_dir && l->base_fd >= 0)
		remove_tree(l->base_fd, l->id, 0);
	l->made_dir = false;
	/* Fails while other jails are in it: fine. */
	if (l->made_base && l->chroot_fd >= 0)
		unlinkat(l->chroot_fd, JAIL_DIR_NAME, AT_REMOVEDIR);
	l->made_base = false;
}

void jail_layout_close(struct jail_layout *l)
{
	int *fds[] = {&l->chroot_fd, &l->base_fd, &l->dir_fd, &l->root_fd};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}
