/* SPDX-License-Identifier: MIT */
/* Console back ends: parsing, file output, unix socket, escapes, regular
 * file input (not pollable) with flow control. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli/specs.h"
#include "core/chardev.h"
#include "core/event_loop.h"

/* A sink with a small buffer, drained by the test thread. */
struct sink {
	pthread_mutex_t lock;
	struct chardev *c;
	uint8_t buf[1 << 16];
	size_t len;
	size_t cap_free; /* how much it accepts before a drain */
	size_t window;
	bool refused;
};

static size_t sink_receive(void *opaque, const uint8_t *buf, size_t n)
{
	struct sink *s = opaque;
	pthread_mutex_lock(&s->lock);
	size_t take = n < s->cap_free ? n : s->cap_free;
	if (take > sizeof(s->buf) - s->len)
		take = sizeof(s->buf) - s->len;
	memcpy(s->buf + s->len, buf, take);
	s->len += take;
	s->cap_free -= take;
	if (take < n)
		s->refused = true;
	pthread_mutex_unlock(&s->lock);
	return take;
}

static size_t sink_space(void *opaque)
{
	struct sink *s = opaque;
	pthread_mutex_lock(&s->lock);
	size_t v = s->cap_free;
	if (v == 0)
		s->refused = true;
	pthread_mutex_unlock(&s->lock);
	return v;
}

static const struct chardev_sink_ops sink_ops = {.receive = sink_receive, .space = sink_space};

static void sink_init(struct sink *s, struct chardev *c, size_t window)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->c = c;
	s->window = s->cap_free = window;
	chardev_set_sink(c, &sink_ops, s);
}

/* Gives the chardev room again; returns bytes received so far. */
static size_t sink_drain(struct sink *s)
{
	pthread_mutex_lock(&s->lock);
	s->cap_free = s->window;
	bool notify = s->refused;
	s->refused = false;
	size_t len = s->len;
	pthread_mutex_unlock(&s->lock);
	if (notify)
		chardev_notify_space(s->c);
	return len;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = ms * 1000000L};
	nanosleep(&ts, NULL);
}

static size_t wait_for(struct sink *s, size_t want)
{
	size_t got = 0;
	for (int i = 0; i < 5000 && got < want; i++) {
		got = sink_drain(s);
		if (got < want)
			sleep_ms(1);
	}
	return got;
}

static void *loop_main(void *p)
{
	ev_run(p);
	return NULL;
}

static void test_parse(void **state)
{
	struct chardev_spec sp;
	struct vmon_error err = {{0}};
	assert_int_equal(chardev_parse("stdio", &sp, &err), 0);
	assert_int_equal(sp.kind, CHARDEV_STDIO);
	assert_int_equal(chardev_parse("file:/tmp/x.log", &sp, &err), 0);
	assert_int_equal(sp.kind, CHARDEV_FILE);
	assert_string_equal(sp.path, "/tmp/x.log");
	assert_int_equal(chardev_parse("unix:/tmp/s.sock", &sp, &err), 0);
	assert_int_equal(sp.kind, CHARDEV_UNIX);
	assert_int_equal(chardev_parse("file:", &sp, &err), -1);
	assert_int_equal(chardev_parse("unix:", &sp, &err), -1);
	assert_int_equal(chardev_parse("tcp:1234", &sp, &err), -1);
	assert_non_null(strstr(err.msg, "unknown"));
	assert_null(strchr(err.msg, '\n'));
	assert_int_equal(chardev_parse("stdio2", &sp, &err), -1);
	assert_int_equal(chardev_parse("", &sp, &err), -1);
	assert_int_equal(chardev_parse(NULL, &sp, &err), -1);
	char longp[300];
	memset(longp, 'a', sizeof(longp));
	memcpy(longp, "unix:/", 6);
	longp[sizeof(longp) - 1] = 0;
	assert_int_equal(chardev_parse(longp, &sp, &err), -1);
}

static void test_file(void **state)
{
	char path[] = "/tmp/vmon-test-chardev-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "old contents", 12), 12);
	close(fd);
	struct chardev_spec sp;
	struct vmon_error err = {{0}};
	char spec[64];
	snprintf(spec, sizeof(spec), "file:%s", path);
	assert_int_equal(chardev_parse(spec, &sp, &err), 0);
	struct chardev *c = NULL;
	assert_int_equal(chardev_create(&sp, NULL, &c, &err), 0);
	assert_int_equal(chardev_write(c, "hi\n", 3), 0);
	chardev_destroy(c);
	char buf[32] = {0};
	fd = open(path, O_RDONLY);
	assert_int_equal(read(fd, buf, sizeof(buf)), 3); /* truncated */
	assert_string_equal(buf, "hi\n");
	close(fd);
	unlink(path);
	assert_int_equal(chardev_file_create("/nonexistent-dir/x", NULL, &c, &err), -1);
}

static void test_escapes(void **state)
{
	int p[2], o[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(pipe(o), 0);
	struct vm_control ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct vmon_error err = {{0}};
	struct chardev *c = NULL;
	assert_int_equal(chardev_fd_create(p[0], o[1], true, &ctl, &c, &err), 0);
	struct sink s;
	sink_init(&s, c, 1000);
	struct event_loop *ev = ev_create(&err);
	assert_int_equal(chardev_start(c, ev, &err), 0);
	pthread_t t;
	pthread_create(&t, NULL, loop_main, ev);
	const char in[] = "a\x01\x01"
			  "b\x01h"
			  "c\x01z"
			  "d";
	assert_int_equal(write(p[1], in, sizeof(in) - 1), (ssize_t)sizeof(in) - 1);
	assert_int_equal(wait_for(&s, 5), 5);
	assert_memory_equal(s.buf,
			    "a\x01"
			    "bcd",
			    5);
	char help[256] = {0};
	assert_true(read(o[0], help, sizeof(help) - 1) > 0);
	assert_non_null(strstr(help, "Ctrl-A x"));
	assert_int_equal(ctl.reason, VM_STOP_NONE);
	assert_int_equal(write(p[1], "e\x01xf", 4), 4);
	for (int i = 0; i < 5000 && !vmctl_stopping(&ctl); i++)
		sleep_ms(1);
	assert_int_equal(ctl.reason, VM_STOP_USER_QUIT);
	assert_int_equal(wait_for(&s, 6), 6);
	sleep_ms(20);
	assert_int_equal(sink_drain(&s), 6); /* nothing after the quit */
	ev_stop(ev);
	pthread_join(t, NULL);
	chardev_destroy(c);
	ev_destroy(ev);
	close(p[0]);
	close(p[1]);
	close(o[0]);
	close(o[1]);
}

static void test_regular_file_input(void **state)
{
	/* epoll cannot watch regular files: read as room appears. */
	char path[] = "/tmp/vmon-test-chardev-in-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	static uint8_t data[50000];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + (i >> 9));
	assert_int_equal(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
	lseek(fd, 0, SEEK_SET);
	struct vmon_error err = {{0}};
	struct chardev *c = NULL;
	assert_int_equal(chardev_fd_create(fd, -1, false, NULL, &c, &err), 0);
	struct sink *s = malloc(sizeof(*s));
	sink_init(s, c, 13);
	struct event_loop *ev = ev_create(&err);
	assert_int_equal(chardev_start(c, ev, &err), 0);
	pthread_t t;
	pthread_create(&t, NULL, loop_main, ev);
	assert_int_equal(wait_for(s, sizeof(data)), sizeof(data));
	assert_memory_equal(s->buf, data, sizeof(data));
	ev_stop(ev);
	pthread_join(t, NULL);
	chardev_destroy(c);
	ev_destroy(ev);
	free(s);
	close(fd);
	unlink(path);
}

static int connect_to(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void test_unix(void **state)
{
	char path[64];
	snprintf(path, sizeof(path), "/tmp/vmon-test-%d.sock", (int)getpid());
	struct vmon_error err = {{0}};
	struct chardev *c = NULL;
	/* A regular file in the way is an error. */
	int fd = open(path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	assert_int_equal(chardev_unix_create(path, NULL, &c, &err), -1);
	assert_non_null(strstr(err.msg, "not a socket"));
	unlink(path);
	/* A stale socket is replaced. */
	int st = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
	assert_int_equal(bind(st, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(st);
	assert_int_equal(chardev_unix_create(path, NULL, &c, &err), 0);
	/* A second server on a live socket is refused. */
	struct chardev *c2 = NULL;
	assert_int_equal(chardev_unix_create(path, NULL, &c2, &err), -1);

	struct sink s;
	sink_init(&s, c, 4);
	struct event_loop *ev = ev_create(&err);
	assert_int_equal(chardev_start(c, ev, &err), 0);
	pthread_t t;
	pthread_create(&t, NULL, loop_main, ev);

	/* No client: output is dropped, not blocking. */
	for (int i = 0; i < 100000; i++)
		assert_int_equal(chardev_write(c, "x", 1), 0);

	int cl = connect_to(path);
	assert_true(cl >= 0);
	const char msg[] = "hello from the client";
	assert_int_equal(write(cl, msg, sizeof(msg) - 1), (ssize_t)sizeof(msg) - 1);
	assert_int_equal(wait_for(&s, sizeof(msg) - 1), sizeof(msg) - 1);
	assert_memory_equal(s.buf, msg, sizeof(msg) - 1);
	/* Output reaches the client (give the accept a moment: it was
	 * accepted before the input arrived, so it is already there). */
	assert_int_equal(chardev_write(c, "out", 3), 0);
	char buf[8] = {0};
	assert_int_equal(read(cl, buf, 3), 3);
	assert_string_equal(buf, "out");
	close(cl);
	/* A new client is served after the first leaves. */
	int cl2 = -1;
	for (int i = 0; i < 100 && cl2 < 0; i++)
		cl2 = connect_to(path);
	assert_true(cl2 >= 0);
	assert_int_equal(write(cl2, "2", 1), 1);
	assert_int_equal(wait_for(&s, sizeof(msg)), sizeof(msg));
	assert_int_equal(s.buf[sizeof(msg) - 1], '2');
	close(cl2);
	ev_stop(ev);
	pthread_join(t, NULL);
	chardev_destroy(c);
	ev_destroy(ev);
	struct stat stt;
	assert_int_equal(stat(path, &stt), -1); /* unlinked on destroy */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),	cmocka_unit_test(test_file),
		cmocka_unit_test(test_escapes), cmocka_unit_test(test_regular_file_input),
		cmocka_unit_test(test_unix),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
