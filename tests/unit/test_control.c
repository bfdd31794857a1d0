/* SPDX-License-Identifier: MIT */
/* Unit tests for the machine-as-data and control-plane pieces: the event
 * loop (watches, timers, sources, its thread's name and kind), the thread
 * primitive, saved-state blobs, the layout's allocator, vm_config checks,
 * the strict JSON parsing of API bodies, the API's request handling on a
 * VM that is not started, and the pause parking in vm_control. */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/api.h"
#include "api/config_json.h"
#include "core/event_loop.h"
#include "core/layout.h"
#include "core/state.h"
#include "core/thread.h"
#include "core/vm_control.h"
#include "vm/vm_config.h"

/* ---- event loop ---- */

struct counter {
	int hits;
	int fd;
	struct event_loop *ev;
	int stop_after;
};

static void on_readable(void *opaque, int fd, uint32_t events)
{
	struct counter *c = opaque;
	uint64_t v;
	assert_int_equal(read(fd, &v, sizeof(v)), sizeof(v));
	c->hits++;
}

static void on_tick(void *opaque)
{
	struct counter *c = opaque;
	if (++c->hits == c->stop_after)
		ev_stop(c->ev);
}

static void test_event_loop_watch_and_timer(void **state)
{
	struct vmon_error err;
	struct event_loop *ev = ev_create(&err);
	assert_non_null(ev);
	struct counter w = {0}, t = {.ev = ev, .stop_after = 3};
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_int_equal(ev_add(ev, efd, EPOLLIN, on_readable, &w), 0);
	uint64_t one = 1;
	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	ev_run_once(ev, 0);
	assert_int_equal(w.hits, 1);
	ev_run_once(ev, 0); /* drained: nothing more */
	assert_int_equal(w.hits, 1);
	int id = ev_add_timer(ev, 10, on_tick, &t, &err);
	assert_true(id >= 0);
	ev_run(ev); /* returns after the third tick */
	assert_int_equal(t.hits, 3);
	ev_rearm(ev);
	ev_remove_timer(ev, id);
	ev_remove(ev, efd);
	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	ev_run_once(ev, 0);
	assert_int_equal(w.hits, 1); /* removed: not called */
	close(efd);
	ev_destroy(ev);
}

struct src {
	int fd;
	int prepared, dispatched, readable;
};

static void src_prepare(void *opaque, struct pollvec *pv, int *timeout_ms)
{
	struct src *s = opaque;
	s->prepared++;
	assert_true(pollvec_add(pv, s->fd, POLLIN) >= 0);
	*timeout_ms = 0;
}

static void src_dispatch(void *opaque, const struct pollvec *pv, int first)
{
	struct src *s = opaque;
	s->dispatched++;
	if (pv->fds[first].revents & POLLIN)
		s->readable++;
}

static const struct ev_source_ops src_ops = {.prepare = src_prepare, .dispatch = src_dispatch};

static void test_event_loop_source(void **state)
{
	struct vmon_error err;
	struct event_loop *ev = ev_create(&err);
	struct src s = {.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
	assert_int_equal(ev_add_source(ev, &src_ops, &s, &err), 0);
	ev_run_once(ev, -1); /* the source's timeout 0 bounds the wait */
	assert_int_equal(s.prepared, 1);
	assert_int_equal(s.dispatched, 1);
	assert_int_equal(s.readable, 0);
	uint64_t one = 1;
	assert_int_equal(write(s.fd, &one, sizeof(one)), sizeof(one));
	ev_run_once(ev, -1);
	assert_int_equal(s.readable, 1);
	close(s.fd);
	ev_destroy(ev);
}

struct seen {
	char name[16];
	enum vmon_thread_kind kind;
	struct event_loop *ev;
};

static void record_self(void *opaque)
{
	struct seen *s = opaque;
	pthread_getname_np(pthread_self(), s->name, sizeof(s->name));
	s->kind = vmon_thread_kind_self();
	ev_stop(s->ev);
}

static void test_loop_thread_name_and_kind(void **state)
{
	struct vmon_error err;
	struct event_loop *ev = ev_create(&err);
	struct seen s = {.ev = ev, .kind = VMON_THREAD_MAIN};
	assert_true(ev_add_timer(ev, 1, record_self, &s, &err) >= 0);
	assert_int_equal(ev_thread_start(ev, VMON_THREAD_NET, "net7", &err), 0);
	/* record_self stops the loop; its thread then waits to be joined. */
	for (int i = 0; i < 5000 && !s.name[0]; i++)
		usleep(1000);
	ev_thread_stop(ev);
	assert_string_equal(s.name, "vmon-net7");
	assert_int_equal(s.kind, VMON_THREAD_NET);
	assert_int_equal(vmon_thread_kind_self(), VMON_THREAD_MAIN);
	assert_string_equal(vmon_thread_kind_name(VMON_THREAD_API), "api");
	ev_destroy(ev);
}

/* ---- saved state ---- */

static void test_state_blob(void **state)
{
	struct state_writer w = {0};
	state_put_u8(&w, 0xab);
	state_put_u16(&w, 0x1234);
	state_put_u32(&w, 0xdeadbeef);
	state_put_u64(&w, 0x0102030405060708ULL);
	state_put_bytes(&w, "xyz", 3);
	assert_false(w.failed);
	assert_int_equal(w.len, 1 + 2 + 4 + 8 + 3);
	assert_int_equal(w.buf[1], 0x34); /* little-endian */
	struct state_reader r = state_reader_init(w.buf, w.len);
	assert_int_equal(state_get_u8(&r), 0xab);
	assert_int_equal(state_get_u16(&r), 0x1234);
	assert_int_equal(state_get_u32(&r), 0xdeadbeef);
	assert_int_equal(state_get_u64(&r), 0x0102030405060708ULL);
	char s[3];
	state_get_bytes(&r, s, 3);
	assert_memory_equal(s, "xyz", 3);
	assert_true(state_reader_done(&r));
	/* A short blob fails the reader and reads zeros, never past the end. */
	struct state_reader shortr = state_reader_init(w.buf, 5);
	(void)state_get_u8(&shortr);
	(void)state_get_u16(&shortr);
	assert_int_equal(state_get_u32(&shortr), 0);
	assert_false(state_reader_done(&shortr));
	/* A blob with bytes left over is not done either. */
	struct state_reader longr = state_reader_init(w.buf, w.len);
	(void)state_get_u8(&longr);
	assert_false(state_reader_done(&longr));
	state_writer_free(&w);
}

/* ---- layout ---- */

static void test_layout_allocator(void **state)
{
	struct machine_layout l = {0};
	struct layout_window w;
	struct vmon_error err;
	for (unsigned i = 0; i < LAYOUT_VIRTIO_MMIO_MAX; i++) {
		assert_int_equal(layout_take_virtio_mmio(&l, "dev", &w, &err), 0);
		assert_int_equal(w.base, LAYOUT_VIRTIO_MMIO + i * LAYOUT_VIRTIO_MMIO_SIZE);
		assert_int_equal(w.gsi, LAYOUT_GSI_VIRTIO_MMIO + i);
	}
	assert_int_equal(layout_take_virtio_mmio(&l, "disk9", &w, &err), -1);
	assert_non_null(strstr(err.msg, "disk9"));
	assert_int_equal(l.nvirtio_mmio, LAYOUT_VIRTIO_MMIO_MAX);
}

/* ---- vm_config ---- */

static void test_vm_config(void **state)
{
	static struct vm_config c;
	struct vmon_error err;
	vm_config_init(&c);
	assert_int_equal(vm_config_validate(&c, &err), -1); /* no kernel */
	snprintf(c.boot.kernel, sizeof(c.boot.kernel), "/k");
	assert_int_equal(vm_config_validate(&c, &err), 0);
	assert_true(vm_id_valid("rootfs_1-a"));
	assert_false(vm_id_valid(""));
	assert_false(vm_id_valid("a/b"));
	assert_false(vm_id_valid("a b"));
	c.ndrives = 2;
	snprintf(c.drives[0].id, sizeof(c.drives[0].id), "d");
	snprintf(c.drives[1].id, sizeof(c.drives[1].id), "d");
	assert_int_equal(vm_config_validate(&c, &err), -1);
	assert_non_null(strstr(err.msg, "two drives"));
	snprintf(c.drives[1].id, sizeof(c.drives[1].id), "e");
	c.drives[0].transport = c.drives[1].transport = VM_TRANSPORT_MMIO;
	assert_int_equal(vm_config_mmio_count(&c), 2);
	assert_int_equal(vm_config_find_drive(&c, "e"), 1);
	assert_int_equal(vm_config_find_drive(&c, "x"), -1);
	c.has_console = true; /* both on stdio */
	assert_int_equal(vm_config_validate(&c, &err), -1);
}

/* ---- JSON bodies ---- */

static json_t *js(const char *s)
{
	json_t *o = json_loads(s, 0, NULL);
	assert_non_null(o);
	return o;
}

static void test_json_machine(void **state)
{
	struct vm_machine_config m = {.vcpus = 1, .mem_size = 128ULL << 20};
	struct vmon_error err;
	json_t *o = js("{\"vcpu_count\": 2, \"mem_size_mib\": 64, \"vmon_backend\": \"emu\"}");
	assert_int_equal(api_json_machine(o, false, true, &m, &err), 0);
	assert_int_equal(m.vcpus, 2);
	assert_int_equal(m.mem_size, 64ULL << 20);
	assert_int_equal(m.backend, VM_BACKEND_EMU);
	json_decref(o);
	/* Nothing changes on any error. */
	const char *bad[] = {
		"{\"vcpu_count\": 2}",				       /* PUT: mem required */
		"{\"vcpu_count\": 0, \"mem_size_mib\": 64}",	       /* range */
		"{\"vcpu_count\": 1.5, \"mem_size_mib\": 64}",	       /* type */
		"{\"vcpu_count\": 1, \"mem_size_mib\": 64, \"x\": 1}", /* unknown */
		"{\"vcpu_count\": 1, \"mem_size_mib\": -1}",
		"{\"vcpu_count\": 1, \"mem_size_mib\": 64, \"cpu_template\": \"T2\"}",
		"[]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = js(bad[i]);
		assert_int_equal(api_json_machine(o, false, true, &m, &err), -1);
		assert_int_equal(m.vcpus, 2);
		json_decref(o);
	}
	o = js("{\"mem_size_mib\": 32}"); /* PATCH: a subset */
	assert_int_equal(api_json_machine(o, true, true, &m, &err), 0);
	assert_int_equal(m.vcpus, 2);
	assert_int_equal(m.mem_size, 32ULL << 20);
	json_decref(o);
}

static void test_json_net_and_vsock(void **state)
{
	struct vm_net_config n;
	struct vmon_error err;
	json_t *o = js(
		"{\"iface_id\": \"n1\", \"guest_mac\": \"06:00:AC:10:00:02\", "
		"\"vmon_user_net\": {\"hostfwd\": [{\"host_port\": 2222, \"guest_port\": 22}]}}");
	assert_int_equal(api_json_net(o, "n1", &n, &err), 0);
	assert_int_equal(n.spec.kind, NET_USER);
	assert_int_equal(n.spec.nfwd, 1);
	assert_int_equal(n.spec.fwd[0].guest_port, 22);
	assert_true(n.spec.has_mac);
	assert_int_equal(n.spec.mac[0], 0x06);
	assert_int_equal(n.transport, VM_TRANSPORT_MMIO); /* the API's default */
	json_decref(o);
	o = js("{\"iface_id\": \"n1\", \"guest_mac\": \"01:00:00:00:00:01\", \"host_dev_name\": "
	       "\"t\"}");
	assert_int_equal(api_json_net(o, "n1", &n, &err), -1); /* multicast */
	json_decref(o);
	o = js("{\"iface_id\": \"n1\"}");
	assert_int_equal(api_json_net(o, "n1", &n, &err), -1); /* no back end */
	json_decref(o);
	struct vm_vsock_config v;
	o = js("{\"guest_cid\": 3, \"uds_path\": \"/tmp/v.sock\", \"vmon_transport\": \"pci\"}");
	assert_int_equal(api_json_vsock(o, &v, &err), 0);
	assert_int_equal(v.spec.cid, 3);
	assert_int_equal(v.transport, VM_TRANSPORT_PCI);
	json_decref(o);
	o = js("{\"guest_cid\": 3, \"uds_path\": \"\"}");
	assert_int_equal(api_json_vsock(o, &v, &err), -1); /* empty path */
	json_decref(o);
}

static void test_cfg_put_limits(void **state)
{
	static struct vm_config c;
	struct vmon_error err;
	vm_config_init(&c);
	struct vm_drive_config d = {.transport = VM_TRANSPORT_MMIO};
	for (unsigned i = 0; i < VM_MAX_VIRTIO_MMIO; i++) {
		snprintf(d.id, sizeof(d.id), "d%u", i);
		assert_int_equal(api_cfg_put_drive(&c, &d, &err), 0);
	}
	snprintf(d.id, sizeof(d.id), "d9");
	assert_int_equal(api_cfg_put_drive(&c, &d, &err), -1); /* out of windows */
	assert_int_equal(c.ndrives, VM_MAX_VIRTIO_MMIO);
	d.transport = VM_TRANSPORT_PCI;
	assert_int_equal(api_cfg_put_drive(&c, &d, &err), 0);
	snprintf(d.id, sizeof(d.id), "d0"); /* the same id replaces */
	d.root = true;
	assert_int_equal(api_cfg_put_drive(&c, &d, &err), 0);
	assert_int_equal(c.ndrives, VM_MAX_VIRTIO_MMIO + 1);
	snprintf(d.id, sizeof(d.id), "d1");
	assert_int_equal(api_cfg_put_drive(&c, &d, &err), -1); /* a second root */
}

/* ---- request handling, no VM ---- */

static void test_api_handle(void **state)
{
	static struct vm_config c;
	vm_config_init(&c);
	struct vmon_error err;
	struct api_ctl *ctl;
	const struct api_ctl_params p = {.id = "t1", .cfg = &c};
	assert_int_equal(api_ctl_create(&ctl, &p, &err), 0);
	struct api *a;
	assert_int_equal(api_create(&a, ctl, &err), 0);
	struct api_response r;
	api_handle(a, "GET", "/", NULL, 0, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"state\":\"Not started\""));
	free(r.body);
	static const struct {
		const char *method, *path, *body, *fault;
	} cases[] = {
		{"PUT", "/machine-config", "{\"vcpu_count\": 2}", "'mem_size_mib' is required"},
		{"PUT", "/machine-config", "{", "not valid JSON"},
		{"PATCH", "/vm", "{\"state\": \"Paused\"}", "not started yet"},
		{"PUT", "/actions", "{\"action_type\": \"InstanceStart\"}",
		 "boot source is not set"},
		{"GET", "/balloon", NULL, "no balloon device is configured"},
		{"GET", "/balloons", NULL, "invalid request method and/or path"},
		{"PUT", "/balloon", "{\"amount_mib\": 1}", "'deflate_on_oom' is required"},
		{"PATCH", "/balloon", "{\"amount_mib\": 1}", "not started yet"},
		{"PATCH", "/balloon/statistics", "{\"stats_polling_interval_s\": 1}",
		 "no balloon device"},
		{"PATCH", "/network-interfaces/n", "{\"iface_id\": \"n\"}", "nothing to update"},
		{"PATCH", "/drives/d", "{\"drive_id\": \"d\", \"rate_limiter\": {\"ops\": 5}}",
		 "must be an object"},
		{"PUT", "/drives/", "{}", "invalid request method and/or path"},
		{"PUT", "/drives/a/b", "{}", "invalid request method and/or path"},
		{"PUT", "/vsock", NULL, "needs a JSON body"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *b = cases[i].body;
		api_handle(a, cases[i].method, cases[i].path, b, b ? strlen(b) : 0, &r);
		assert_int_equal(r.status, 400);
		assert_non_null(r.body);
		if (!strstr(r.body, cases[i].fault))
			fail_msg("%s %s: %s", cases[i].method, cases[i].path, r.body);
		free(r.body);
	}
	const char *mc = "{\"vcpu_count\": 2, \"mem_size_mib\": 64}";
	api_handle(a, "PUT", "/machine-config", mc, strlen(mc), &r);
	assert_int_equal(r.status, 204);
	assert_null(r.body);
	api_handle(a, "GET", "/machine-config", NULL, 0, &r);
	assert_non_null(strstr(r.body, "\"vcpu_count\":2"));
	free(r.body);
	api_destroy(a);
	api_ctl_destroy(ctl);
}

/* ---- pause parking ---- */

static void *parker(void *p)
{
	vmctl_park(p);
	return NULL;
}

static void test_vmctl_park(void **state)
{
	struct vm_control ctl = {0};
	vmctl_init(&ctl);
	vmctl_set_pause(&ctl, true);
	assert_true(vmctl_pause_requested(&ctl));
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, parker, &ctl);
	assert_true(vmctl_wait_parked(&ctl, 2, 10000));
	vmctl_set_pause(&ctl, false); /* resume: both return */
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(ctl.parked, 0);
	/* A stop releases parked threads and pausers too. */
	vmctl_set_pause(&ctl, true);
	pthread_create(&t[0], NULL, parker, &ctl);
	assert_true(vmctl_wait_parked(&ctl, 1, 10000));
	vmctl_request_stop(&ctl, VM_STOP_USER_QUIT, 0);
	pthread_join(t[0], NULL);
	assert_false(vmctl_wait_parked(&ctl, 1, 10000));
	vmctl_fini(&ctl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_loop_watch_and_timer),
		cmocka_unit_test(test_event_loop_source),
		cmocka_unit_test(test_loop_thread_name_and_kind),
		cmocka_unit_test(test_state_blob),
		cmocka_unit_test(test_layout_allocator),
		cmocka_unit_test(test_vm_config),
		cmocka_unit_test(test_json_machine),
		cmocka_unit_test(test_json_net_and_vsock),
		cmocka_unit_test(test_cfg_put_limits),
		cmocka_unit_test(test_api_handle),
		cmocka_unit_test(test_vmctl_park),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
