/* SPDX-License-Identifier: MIT */
/* Unit tests for the jailer's parsers: its own options, the vmon run
 * arguments it rewrites, cgroup keys, /proc/self/mountinfo and the cgroup
 * version choice. (tests/integration/jailer.sh runs the jail itself.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "jail/args.h"
#include "jail/cgroup.h"
#include "jail/run_args.h"

#define ARGV(...) ((char **)(const char *[]){__VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(char *)))

static int parse(struct jail_args *a, struct vmon_error *err, int argc, char **argv)
{
	return jail_args_parse(argc, argv, a, err);
}

#define BASE "jail", "--id", "vm-1", "--uid", "1000", "--gid", "1001", "--chroot-base", "/srv"

static void test_id_valid(void **state)
{
	assert_true(jail_id_valid("a"));
	assert_true(jail_id_valid("551e7604-e35c-42b3-b825-416853441234"));
	char id[80];
	memset(id, 'x', sizeof(id));
	id[64] = '\0';
	assert_true(jail_id_valid(id));
	id[64] = 'x';
	id[65] = '\0';
	assert_false(jail_id_valid(id)); /* 65 characters */
	assert_false(jail_id_valid(""));
	assert_false(jail_id_valid("a_b"));
	assert_false(jail_id_valid("a/b"));
	assert_false(jail_id_valid(".."));
	assert_false(jail_id_valid("a b"));
	assert_false(jail_id_valid("caf\xc3\xa9"));
}

static void test_args_ok(void **state)
{
	struct jail_args a;
	struct vmon_error err;
	char **argv =
		ARGV(BASE, "--cgroup", "memory.max=256M", "--cgroup", "cpuset.cpus=0-1",
		     "--cgroup-version", "2", "--parent-cgroup", "a/b-c.d", "--resource-limit",
		     "fsize=1000,no-file=512", "--netns", "/run/netns/x", "--daemonize",
		     "--new-pid-ns", "--", "run", "--kernel", "k", "--mem", "64M");
	int argc = ARGC(BASE, "--cgroup", "memory.max=256M", "--cgroup", "cpuset.cpus=0-1",
			"--cgroup-version", "2", "--parent-cgroup", "a/b-c.d", "--resource-limit",
			"fsize=1000,no-file=512", "--netns", "/run/netns/x", "--daemonize",
			"--new-pid-ns", "--", "run", "--kernel", "k", "--mem", "64M");
	assert_int_equal(parse(&a, &err, argc, argv), 0);
	assert_string_equal(a.id, "vm-1");
	assert_int_equal(a.uid, 1000);
	assert_int_equal(a.gid, 1001);
	assert_string_equal(a.chroot_base, "/srv");
	assert_int_equal(a.ncgroups, 2);
	assert_string_equal(a.cgroups[0].key, "memory.max");
	assert_string_equal(a.cgroups[0].value, "256M");
	assert_string_equal(a.cgroups[0].controller, "memory");
	assert_string_equal(a.cgroups[1].controller, "cpuset");
	assert_int_equal(a.cgroup_version, JAIL_CGROUP_V2);
	assert_string_equal(a.parent_cgroup, "a/b-c.d");
	assert_true(a.has_fsize && a.fsize == 1000);
	assert_true(a.has_nofile && a.nofile == 512);
	assert_string_equal(a.netns, "/run/netns/x");
	assert_true(a.daemonize && a.new_pid_ns);
	/* "run" after -- is dropped. */
	assert_int_equal(a.run_argc, 4);
	assert_string_equal(a.run_argv[0], "--kernel");
	assert_string_equal(a.run_argv[3], "64M");

	/* Defaults, and no run arguments at all. */
	assert_int_equal(parse(&a, &err, ARGC(BASE), ARGV(BASE)), 0);
	assert_string_equal(a.parent_cgroup, JAIL_DEFAULT_PARENT);
	assert_int_equal(a.cgroup_version, JAIL_CGROUP_AUTO);
	assert_false(a.has_nofile || a.has_fsize || a.daemonize || a.new_pid_ns);
	assert_int_equal(a.run_argc, 0);
}

/* Each must fail with a message containing want. */
static void expect_bad(int argc, char **argv, const char *want)
{
	struct jail_args a;
	struct vmon_error err = {{0}};
	assert_int_equal(parse(&a, &err, argc, argv), -1);
	if (!strstr(err.msg, want))
		fail_msg("'%s' does not say '%s'", err.msg, want);
	assert_null(strchr(err.msg, '\n'));
}

#define BAD(want, ...) expect_bad(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), want)

static void test_args_bad(void **state)
{
	BAD("--id is required", "jail", "--uid", "1", "--gid", "1", "--chroot-base", "/");
	BAD("--uid is required", "jail", "--id", "a", "--gid", "1", "--chroot-base", "/");
	BAD("--gid is required", "jail", "--id", "a", "--uid", "1", "--chroot-base", "/");
	BAD("--chroot-base is required", "jail", "--id", "a", "--uid", "1", "--gid", "1");
	BAD("--id: 'a_b'", "jail", "--id", "a_b", "--uid", "1", "--gid", "1", "--chroot-base", "/");
	BAD("0 is root", "jail", "--id", "a", "--uid", "0", "--gid", "1", "--chroot-base", "/");
	BAD("0 is root", "jail", "--id", "a", "--uid", "1", "--gid", "0", "--chroot-base", "/");
	BAD("--uid: '-5'", "jail", "--id", "a", "--uid", "-5", "--gid", "1", "--chroot-base", "/");
	BAD("--uid: '4294967295'", "jail", "--id", "a", "--uid", "4294967295", "--gid", "1",
	    "--chroot-base", "/");
	BAD("--gid: '1x'", "jail", "--id", "a", "--uid", "1", "--gid", "1x", "--chroot-base", "/");
	BAD("--id given twice", BASE, "--id", "b");
	BAD("--cgroup-version: '3'", BASE, "--cgroup-version", "3");
	BAD("--parent-cgroup: '../x'", BASE, "--parent-cgroup", "../x");
	BAD("--parent-cgroup: '/abs'", BASE, "--parent-cgroup", "/abs");
	BAD("--parent-cgroup: 'a//b'", BASE, "--parent-cgroup", "a//b");
	BAD("--parent-cgroup: 'a/./b'", BASE, "--parent-cgroup", "a/./b");
	BAD("unknown option '--bogus'", BASE, "--bogus");
	BAD("option '--netns' needs a value", BASE, "--netns");
	BAD("unexpected argument 'stray'", BASE, "stray");
	BAD("unknown resource 'cpu'", BASE, "--resource-limit", "cpu=1");
	BAD("no-file 'x'", BASE, "--resource-limit", "no-file=x");
	BAD("no-file '8'", BASE, "--resource-limit", "no-file=8");
	BAD("no-file '99999999'", BASE, "--resource-limit", "no-file=99999999");
	BAD("fsize '-1'", BASE, "--resource-limit", "fsize=-1");
	BAD("fsize '18446744073709551616'", BASE, "--resource-limit", "fsize=18446744073709551616");
	BAD("'fsize' is not RESOURCE=N", BASE, "--resource-limit", "fsize");
	BAD("--cgroup: memory.max given twice", BASE, "--cgroup", "memory.max=1M", "--cgroup",
	    "memory.max=2M");
	BAD("--chroot-base: empty", "jail", "--id", "a", "--uid", "1", "--gid", "1",
	    "--chroot-base", "");
}

static void test_cgroup_kv(void **state)
{
	struct jail_cgroup_kv kv;
	struct vmon_error err;
	assert_int_equal(jail_cgroup_kv_parse("cpu.max=50000 100000", &kv, &err), 0);
	assert_string_equal(kv.key, "cpu.max");
	assert_string_equal(kv.value, "50000 100000");
	assert_string_equal(kv.controller, "cpu");
	assert_int_equal(jail_cgroup_kv_parse("memory.limit_in_bytes=64M", &kv, &err), 0);
	assert_string_equal(kv.controller, "memory");
	assert_int_equal(jail_cgroup_kv_parse("blkio.throttle.read_bps_device=8:0 1000", &kv, &err),
			 0);
	assert_string_equal(kv.controller, "blkio");
	assert_int_equal(jail_cgroup_kv_parse("hugetlb.2MB.max=0", &kv, &err), 0);
	assert_string_equal(kv.controller, "hugetlb");
	/* Value with '=' in it: only the first splits. */
	assert_int_equal(jail_cgroup_kv_parse("x.y=a=b", &kv, &err), 0);
	assert_string_equal(kv.value, "a=b");

	static const char *const bad[] = {
		"memory.max",	  /* no value */
		"memory.max=",	  /* empty value */
		"=1",		  /* no key */
		"memory=1",	  /* no file */
		".max=1",	  /* no controller */
		"memory.=1",	  /* no file name */
		"../tasks=1",	  /* a path */
		"memory/x.max=1", /* a path */
		"Memory.max=1",	  /* not a controller file name */
		"memory..max=1",  /* '..' */
		"cgroup.procs=1", /* the cgroup's own interface */
		"cgroup.subtree_control=+memory",
		"memory.max=1\n2", /* a control character */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (jail_cgroup_kv_parse(bad[i], &kv, &err) != -1)
			fail_msg("'%s' was accepted", bad[i]);
}

/* Run-argument rewriting, on real files in a temporary directory. */
static char tmpdir[64];
static char kernel[128], disk[128], disk2dir[128], disk2[128], vmonfile[128];

static int make_files(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vmon-test-jail.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(kernel, sizeof(kernel), "%s/bzImage", tmpdir);
	snprintf(disk, sizeof(disk), "%s/disk.img", tmpdir);
	snprintf(disk2dir, sizeof(disk2dir), "%s/other", tmpdir);
	snprintf(disk2, sizeof(disk2), "%s/other/disk.img", tmpdir);
	snprintf(vmonfile, sizeof(vmonfile), "%s/vmon", tmpdir);
	if (mkdir(disk2dir, 0755) < 0)
		return -1;
	const char *files[] = {kernel, disk, disk2, vmonfile};
	for (size_t i = 0; i < 4; i++) {
		FILE *f = fopen(files[i], "w");
		if (!f)
			return -1;
		fputs("x", f);
		fclose(f);
	}
	return 0;
}

static int remove_files(void **state)
{
	unlink(kernel);
	unlink(disk);
	unlink(disk2);
	unlink(vmonfile);
	rmdir(disk2dir);
	rmdir(tmpdir);
	return 0;
}

static const char *const reserved[] = {"vmon", "dev", "lib", "lib64"};

/* The rewritten argv, joined with single spaces (after "vmon run "). */
static const char *joined(const struct jail_run *r)
{
	static char buf[4096];
	buf[0] = '\0';
	assert_true(r->argc >= 2);
	assert_string_equal(r->argv[0], "vmon");
	assert_string_equal(r->argv[1], "run");
	for (int i = 2; i < r->argc; i++) {
		strcat(buf, i > 2 ? " " : "");
		strcat(buf, r->argv[i]);
	}
	assert_null(r->argv[r->argc]);
	return buf;
}

static void test_run_rewrite(void **state)
{
	struct jail_run r;
	struct vmon_error err;
	char karg[160], darg[200], d2arg[160];
	snprintf(karg, sizeof(karg), "--kernel=%s", kernel);
	snprintf(darg, sizeof(darg), "%s,ro,id=data,transport=mmio", disk);
	snprintf(d2arg, sizeof(d2arg), "%s", disk2);
	char **argv = ARGV(
		karg, "--mem", "64M", "--disk", darg, "--disk", d2arg, "--serial",
		"unix:/tmp/a/serial.sock", "--console", "file:/var/log/con.txt,transport=mmio",
		"--vsock", "3,unix:/run/v.sock,transport=mmio", "--net", "tap:tap0", "--backend",
		"emu", "--cmdline", "--not-an-option", "--no-reboot", "--future-option", "value");
	int argc = ARGC(
		karg, "--mem", "64M", "--disk", darg, "--disk", d2arg, "--serial",
		"unix:/tmp/a/serial.sock", "--console", "file:/var/log/con.txt,transport=mmio",
		"--vsock", "3,unix:/run/v.sock,transport=mmio", "--net", "tap:tap0", "--backend",
		"emu", "--cmdline", "--not-an-option", "--no-reboot", "--future-option", "value");
	assert_int_equal(jail_run_prepare(argc, argv, reserved, 4, &r, &err), 0);
	assert_string_equal(
		joined(&r),
		"--kernel /bzImage --mem 64M --disk /disk.img,ro,id=data,transport=mmio "
		"--disk /2-disk.img --serial unix:/serial.sock --console "
		"file:/con.txt,transport=mmio --vsock 3,unix:/v.sock,transport=mmio --net "
		"tap:tap0 --backend emu --cmdline --not-an-option --no-reboot "
		"--future-option value --no-api");
	assert_int_equal(r.nfiles, 6);
	assert_int_equal(r.files[0].kind, JAIL_FILE_IMAGE);
	assert_string_equal(r.files[0].host_path, kernel);
	assert_int_equal(r.files[1].kind, JAIL_FILE_DISK);
	assert_false(r.files[1].writable);
	assert_true(r.files[2].writable);
	assert_string_equal(r.files[2].name, "2-disk.img");
	assert_int_equal(r.files[3].kind, JAIL_FILE_SOCKET);
	assert_string_equal(r.files[3].name, "serial.sock");
	assert_int_equal(r.files[4].kind, JAIL_FILE_OUTPUT);
	assert_int_equal(r.files[5].kind, JAIL_FILE_SOCKET);
	assert_true(r.tun);
	assert_false(r.kvm);
	assert_string_equal(r.backend, "emu");
	jail_run_free(&r);

	/* A reserved name gets a prefix; --backend kvm asks for /dev/kvm, and
	 * is said explicitly. */
	char **argv2 = ARGV("--kernel", vmonfile, "--backend=kvm");
	assert_int_equal(jail_run_prepare(3, argv2, reserved, 4, &r, &err), 0);
	assert_string_equal(joined(&r), "--kernel /2-vmon --backend kvm --no-api");
	assert_true(r.kvm);
	jail_run_free(&r);

	/* No --backend: the decision is appended. */
	char **argv3 = ARGV("--kernel", kernel, "--serial", "stdio");
	assert_int_equal(jail_run_prepare(4, argv3, reserved, 4, &r, &err), 0);
	const char *j = joined(&r);
	assert_true(strcmp(j, "--kernel /bzImage --serial stdio --backend emu --no-api") == 0 ||
		    strcmp(j, "--kernel /bzImage --serial stdio --backend kvm --no-api") == 0);
	jail_run_free(&r);

	/* No --kernel: the default guest from $VMON_GUEST_DIR, with its
	 * initrd unless one is given and its command line. */
	setenv("VMON_GUEST_DIR", tmpdir, 1);
	char irdpath[160];
	snprintf(irdpath, sizeof(irdpath), "%s/initramfs.cpio.gz", tmpdir);
	FILE *f = fopen(irdpath, "w");
	assert_non_null(f);
	fclose(f);
	char **argv4 = ARGV("--backend", "emu");
	assert_int_equal(jail_run_prepare(2, argv4, reserved, 4, &r, &err), 0);
	assert_string_equal(joined(&r),
			    "--backend emu --kernel /bzImage --initrd "
			    "/initramfs.cpio.gz --cmdline console=ttyS0 quiet --no-api");
	jail_run_free(&r);
	char **argv5 = ARGV("--backend", "emu", "--initrd", disk, "--cmdline", "x");
	assert_int_equal(jail_run_prepare(6, argv5, reserved, 4, &r, &err), 0);
	assert_string_equal(joined(&r), "--backend emu --initrd /disk.img --cmdline x --kernel "
					"/bzImage --no-api");
	jail_run_free(&r);
	/* An API socket the user places is placed in the jail like a vsock
	 * socket, and then the API is on. */
	char **argv6 = ARGV("--backend", "emu", "--kernel", kernel, "--api-sock", "/run/a.sock",
			    "--id", "j1");
	assert_int_equal(jail_run_prepare(8, argv6, reserved, 4, &r, &err), 0);
	assert_string_equal(joined(&r),
			    "--backend emu --kernel /bzImage --api-sock /a.sock --id j1");
	jail_run_free(&r);
	unlink(irdpath);
	unsetenv("VMON_GUEST_DIR");
}

static void expect_run_bad(int argc, char **argv, const char *want)
{
	struct jail_run r;
	struct vmon_error err = {{0}};
	assert_int_equal(jail_run_prepare(argc, argv, reserved, 4, &r, &err), -1);
	if (!strstr(err.msg, want))
		fail_msg("'%s' does not say '%s'", err.msg, want);
	jail_run_free(&r);
}

#define RUN_BAD(want, ...) expect_run_bad(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), want)

static void test_run_bad(void **state)
{
	RUN_BAD("cannot be used in a jail", "--config-file", "/etc/vm.json");
	RUN_BAD("--kernel: cannot use '/nonexistent/k'", "--kernel", "/nonexistent/k");
	RUN_BAD("is not a regular file", "--kernel", tmpdir);
	RUN_BAD("names a directory", "--kernel", "/tmp/");
	RUN_BAD("--disk: cannot use", "--kernel", kernel, "--disk", "/nonexistent,ro");
	RUN_BAD("is not a regular file or a block device", "--kernel", kernel, "--disk",
		"/dev/null");
	RUN_BAD("abbreviated", "--kern", kernel);
	RUN_BAD("abbreviated", "--kernel", kernel, "--ser=stdio");
	RUN_BAD("'--initrd' needs a value", "--kernel", kernel, "--initrd");
	RUN_BAD("'--no-reboot' takes no value", "--kernel", kernel, "--no-reboot=1");
	RUN_BAD("--backend: 'qemu'", "--kernel", kernel, "--backend", "qemu");
	RUN_BAD("--serial: console: unknown back end", "--kernel", kernel, "--serial", "tcp:1");
	RUN_BAD("--vsock", "--kernel", kernel, "--vsock", "1,unix:/x");
	RUN_BAD("is not CID,unix:PATH", "--kernel", kernel, "--vsock", "3,file:/x");
	setenv("VMON_GUEST_DIR", "/nonexistent", 1);
	RUN_BAD("no --kernel given and no default guest in /nonexistent", "--mem", "64M");
	unsetenv("VMON_GUEST_DIR");
}

static const char hybrid[] =
	"22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
	"26 22 0:24 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
	"27 26 0:25 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 "
	"cgroup2 rw,nsdelegate\n"
	"28 26 0:26 / /sys/fs/cgroup/systemd rw,nosuid shared:11 - cgroup cgroup "
	"rw,xattr,name=systemd\n"
	"31 26 0:29 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup "
	"cgroup rw,memory\n"
	"32 26 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:15 - cgroup cgroup "
	"rw,cpu,cpuacct\n"
	"33 26 0:31 / /sys/fs/cgroup/with\\040space rw shared:16 opt:2 - cgroup cgroup rw,pids\n";

static const char pure_v2[] =
	"22 1 0:21 / /sys rw - sysfs sysfs rw\n"
	"30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
	"rw,nsdelegate,memory_recursiveprot";

static void test_mountinfo(void **state)
{
	struct jail_cg_mount m[8];
	int n = jail_cg_parse_mountinfo(hybrid, m, 8);
	assert_int_equal(n, 5);
	assert_string_equal(m[0].path, "/sys/fs/cgroup/unified");
	assert_true(m[0].v2);
	assert_string_equal(m[2].path, "/sys/fs/cgroup/memory");
	assert_false(m[2].v2);
	assert_true(jail_cg_opts_have(m[3].opts, "cpu"));
	assert_true(jail_cg_opts_have(m[3].opts, "cpuacct"));
	assert_false(jail_cg_opts_have(m[3].opts, "cpuset"));
	assert_false(jail_cg_opts_have(m[2].opts, "mem"));
	assert_string_equal(m[4].path, "/sys/fs/cgroup/with space");
	assert_true(jail_cg_opts_have(m[4].opts, "pids"));
	assert_int_equal(jail_cg_auto_version(m, n), 1);
	/* Only the named hierarchy besides cgroup2: still v2. */
	assert_int_equal(jail_cg_auto_version(m, 2), 2);

	n = jail_cg_parse_mountinfo(pure_v2, m, 8);
	assert_int_equal(n, 1);
	assert_true(m[0].v2);
	assert_int_equal(jail_cg_auto_version(m, n), 2);
	assert_int_equal(jail_cg_auto_version(m, 0), 0);
	/* Truncated lines are ignored. */
	assert_int_equal(jail_cg_parse_mountinfo("1 2 3 4 /x - cgroup2\n", m, 8), 0);
	assert_int_equal(jail_cg_parse_mountinfo("", m, 8), 0);
}

static void test_key_hints(void **state)
{
	assert_non_null(strstr(jail_cg_key_hint(1, "memory.max"), "memory.limit_in_bytes"));
	assert_non_null(strstr(jail_cg_key_hint(1, "cpu.max"), "cpu.cfs_quota_us"));
	assert_non_null(strstr(jail_cg_key_hint(2, "memory.limit_in_bytes"), "memory.max"));
	assert_non_null(strstr(jail_cg_key_hint(2, "cpu.shares"), "cpu.weight"));
	assert_string_equal(jail_cg_key_hint(1, "memory.limit_in_bytes"), "");
	assert_string_equal(jail_cg_key_hint(2, "memory.max"), "");
	assert_string_equal(jail_cg_key_hint(1, "pids.max"), "");
}

static void test_parent_cgroup(void **state)
{
	assert_true(jail_parent_cgroup_valid("vmon"));
	assert_true(jail_parent_cgroup_valid("a/b/c"));
	assert_true(jail_parent_cgroup_valid("my_vms.slice"));
	assert_false(jail_parent_cgroup_valid(""));
	assert_false(jail_parent_cgroup_valid("a/"));
	assert_false(jail_parent_cgroup_valid(".."));
	assert_false(jail_parent_cgroup_valid("a/../b"));
	assert_false(jail_parent_cgroup_valid("a b"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_valid),
		cmocka_unit_test(test_args_ok),
		cmocka_unit_test(test_args_bad),
		cmocka_unit_test(test_cgroup_kv),
		cmocka_unit_test_setup_teardown(test_run_rewrite, make_files, remove_files),
		cmocka_unit_test_setup_teardown(test_run_bad, make_files, remove_files),
		cmocka_unit_test(test_mountinfo),
		cmocka_unit_test(test_key_hints),
		cmocka_unit_test(test_parent_cgroup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
