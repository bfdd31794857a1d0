/* SPDX-License-Identifier: MIT */
/*
 * jail_probe: run by `vmon jail --test-exec` in place of vmon, inside the
 * jail, to report what a compromised vmon could reach from there. It
 * prints one "key=value" line per fact (values are errno names where a
 * call failed, "ok" where it succeeded) and "probe=done" last;
 * tests/integration/jailer.sh decides what is right. Built static (the
 * jail holds only vmon's libraries). Options (after vmon run's arguments
 * the jail passes on): --probe-pid=N, a host pid to try to signal and
 * trace; --probe-fsize=N, write N+1 bytes to see the fsize limit.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *res(int rc)
{
	static char buf[32];
	if (rc >= 0)
		return "ok";
	const char *n = strerrorname_np(errno);
	snprintf(buf, sizeof(buf), "%s", n ? n : "E?");
	return buf;
}

static void list_dir(const char *key, const char *path)
{
	char names[64][256];
	int n = 0;
	DIR *d = opendir(path);
	if (!d) {
		printf("%s=%s\n", key, res(-1));
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)) && n < 64)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			snprintf(names[n++], sizeof(names[0]), "%s", e->d_name);
	closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), (int (*)(const void *, const void *))strcmp);
	printf("%s=", key);
	for (int i = 0; i < n; i++)
		printf("%s%s", i ? "," : "", names[i]);
	printf("\n");
}

int main(int argc, char **argv)
{
	long host_pid = 0, fsize = -1;
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--probe-pid=", 12) == 0)
			host_pid = atol(argv[i] + 12);
		if (strncmp(argv[i], "--probe-fsize=", 14) == 0)
			fsize = atol(argv[i] + 14);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("probe=start argv1=%s\n", argc > 1 ? argv[1] : "");

	uid_t r, e, s;
	gid_t rg, eg, sg;
	getresuid(&r, &e, &s);
	getresgid(&rg, &eg, &sg);
	printf("uid=%u,%u,%u\ngid=%u,%u,%u\n", r, e, s, rg, eg, sg);
	gid_t groups[64];
	int ng = getgroups(64, groups);
	printf("groups=%d\n", ng);

	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {{0}};
	syscall(SYS_capget, &hdr, data);
	printf("cap_eff=%08x%08x\ncap_prm=%08x%08x\ncap_inh=%08x%08x\n", data[1].effective,
	       data[0].effective, data[1].permitted, data[0].permitted, data[1].inheritable,
	       data[0].inheritable);
	int bnd = 0, amb = 0;
	for (int c = 0; c < 64; c++) {
		int b = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
		if (b < 0)
			break;
		bnd += b;
		amb += prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0) > 0;
	}
	printf("cap_bnd_count=%d\ncap_amb_count=%d\n", bnd, amb);
	printf("no_new_privs=%d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	printf("pid=%d\n", (int)getpid());

	list_dir("root", "/");
	list_dir("dev", "/dev");

	/* Open descriptors. */
	printf("fds=");
	for (int fd = 0, first = 1; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0) {
			printf("%s%d", first ? "" : ",", fd);
			first = 0;
		}
	printf("\n");

	/* The host's files. */
	printf("open_etc_passwd=%s\n", res(open("/etc/passwd", O_RDONLY)));
	printf("open_proc=%s\n", res(open("/proc/self/status", O_RDONLY)));
	printf("open_sys=%s\n", res(open("/sys/kernel", O_RDONLY)));
	struct stat root_st, up_st;
	stat("/", &root_st);
	int cd = chdir("/../../..");
	stat(".", &up_st);
	printf("dotdot_is_root=%d\n",
	       cd == 0 && root_st.st_ino == up_st.st_ino && root_st.st_dev == up_st.st_dev);

	/* Escapes that need privileges. */
	int mk = mkdir("/probe-dir", 0700);
	printf("mkdir_root=%s\n", res(mk));
	printf("chroot=%s\n", res(chroot("/probe-dir")));
	rmdir("/probe-dir");
	printf("mount=%s\n", res(mount("none", "/dev", "tmpfs", 0, NULL)));
	printf("mknod=%s\n", res(mknod("/probe-null", S_IFCHR | 0666, makedev(1, 3))));
	unlink("/probe-null");
	printf("setuid0=%s\n", res(setuid(0)));
	printf("setgid0=%s\n", res(setgid(0)));
	printf("write_vmon=%s\n", res(open("/vmon", O_WRONLY)));
	printf("write_dev_null_dir=%s\n", res(open("/dev/probe", O_WRONLY | O_CREAT, 0600)));
	struct {
		struct file_handle fh;
		unsigned char buf[128];
	} h = {.fh.handle_bytes = 128};
	int mnt_id;
	int nh = name_to_handle_at(AT_FDCWD, "/", &h.fh, &mnt_id, 0);
	int root_fd = open("/", O_RDONLY | O_DIRECTORY);
	printf("open_by_handle=%s\n",
	       nh < 0 ? "nohandle" : res(open_by_handle_at(root_fd, &h.fh, O_RDONLY)));
	printf("dev_kvm=%s\n", res(open("/dev/kvm", O_RDWR)));
	printf("dev_urandom=%s\n", res(open("/dev/urandom", O_RDONLY)));

	/* Other processes. */
	if (host_pid > 0) {
		printf("kill_host=%s\n", res(kill((pid_t)host_pid, 0)));
		printf("ptrace_host=%s\n",
		       res((int)ptrace(PTRACE_ATTACH, (pid_t)host_pid, NULL, NULL)));
	}
	printf("kill_all=%s\n", res(kill(-1, 0)));

	/* Limits. */
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	printf("rlimit_nofile=%llu/%llu\n", (unsigned long long)rl.rlim_cur,
	       (unsigned long long)rl.rlim_max);
	getrlimit(RLIMIT_FSIZE, &rl);
	printf("rlimit_fsize=%lld\n",
	       rl.rlim_cur == RLIM_INFINITY ? -1LL : (long long)rl.rlim_cur);
	if (fsize >= 0) {
		signal(SIGXFSZ, SIG_IGN);
		int fd = open("/probe-big", O_WRONLY | O_CREAT | O_TRUNC, 0600);
		static char block[4096];
		long done = 0;
		ssize_t w = 0;
		while (fd >= 0 && done <= fsize &&
		       (w = write(fd, block, sizeof(block))) > 0)
			done += w;
		printf("fsize_write=%s written=%ld\n", res(fd < 0 ? -1 : (int)w), done);
		unlink("/probe-big");
	}
	printf("probe=done\n");
	return 0;
}
