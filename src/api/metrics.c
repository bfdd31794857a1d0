/* SPDX-License-Identifier: MIT */
/*
 * PUT /metrics: one JSON object per line into a file or FIFO, written on
 * FlushMetrics and every vmon_flush_interval_ms (60 s by default, as
 * Firecracker), and a last time when the API stops:
 *
 *   {"utc_timestamp_ms": ..., "id": ... (emit_id), "properties": {...},
 *    "vmm": {"state": "Running", "backend": "emu", "uptime_ms": ...,
 *            "flushes": ..., "missed_flushes": ...},
 *    "api_server": {"requests": ..., "bad_requests": ...},
 *    "devices": {"com1": {"kind": "uart16550", "tx_bytes": ...}, ...},
 *    "vcpus": [{"index": 0, "state": "running", "exit_io": ...}, ...]}
 *
 * Counters are totals since the VM started (Firecracker's are mostly
 * deltas since the last flush): see docs/api.md.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/api_priv.h"
#include "core/event_loop.h"
#include "core/log.h"

struct collect {
	json_t *devices, *vcpus;
	const char *vcpu_state;
};

static void on_device(void *opaque, const char *id, const char *kind, const char *name,
		      uint64_t value)
{
	struct collect *c = opaque;
	json_t *d = json_object_get(c->devices, id);
	if (!d) {
		d = json_pack("{s:s}", "kind", kind);
		json_object_set_new(c->devices, id, d);
	}
	json_object_set_new(d, name, json_integer((json_int_t)value));
}

static json_t *vcpu_obj(struct collect *c, int index)
{
	while ((int)json_array_size(c->vcpus) <= index) {
		json_int_t i = (json_int_t)json_array_size(c->vcpus);
		json_array_append_new(c->vcpus,
				      json_pack("{s:I, s:s}", "index", i, "state", c->vcpu_state));
	}
	return json_array_get(c->vcpus, (size_t)index);
}

static void on_vcpu(void *opaque, int index, const char *name, uint64_t value)
{
	struct collect *c = opaque;
	if (index < 0 || index >= 1024)
		return;
	json_object_set_new(vcpu_obj(c, index), name, json_integer((json_int_t)value));
}

static json_t *snapshot(struct api *a)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	enum api_vm_state st = api_ctl_state(a->ctl);
	struct collect c = {.devices = json_object(),
			    .vcpus = json_array(),
			    .vcpu_state = st == API_PAUSED    ? "paused"
					  : st == API_RUNNING ? "running"
							      : "stopped"};
	const struct vm_stats_visitor v = {.device = on_device, .vcpu = on_vcpu, .opaque = &c};
	(void)api_ctl_stats(a->ctl, &v); /* nothing before the start */
	const char *backend = api_ctl_backend(a->ctl);
	json_t *o =
		json_pack("{s:I, s:{s:s, s:s, s:I, s:I, s:I}, s:{s:I, s:I}, s:o, s:o}",
			  "utc_timestamp_ms", (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
			  "vmm", "state", api_state_name(st), "backend", backend ? backend : "",
			  "uptime_ms", (json_int_t)api_ctl_uptime_ms(a->ctl), "flushes",
			  (json_int_t)a->flushes, "missed_flushes", (json_int_t)a->missed_flushes,
			  "api_server", "requests", (json_int_t)a->requests, "bad_requests",
			  (json_int_t)a->bad_requests, "devices", c.devices, "vcpus", c.vcpus);
	if (!o)
		return NULL;
	if (a->metrics.emit_id)
		json_object_set_new(o, "id", json_string(api_ctl_id(a->ctl)));
	if (a->metrics.properties[0])
		json_object_set_new(o, "properties", json_loads(a->metrics.properties, 0, NULL));
	return o;
}

/* Writes all of buf; a FIFO that is full gets up to 100 ms to drain. */
static int write_line(int fd, const char *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = write(fd, buf + done, len - done);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			if (poll(&p, 1, 100) > 0)
				continue;
		}
		return -1;
	}
	return 0;
}

int api_metrics_flush(struct api *a, struct vmon_error *err)
{
	if (!a->has_metrics || a->metrics_fd < 0)
		return err_setf(err, "metrics: not configured (PUT /metrics first)");
	a->flushes++;
	json_t *o = snapshot(a);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!s) {
		a->missed_flushes++;
		return err_setf(err, "metrics: out of memory");
	}
	size_t len = strlen(s);
	s[len] = '\n';
	int r = write_line(a->metrics_fd, s, len + 1);
	free(s);
	if (r < 0) {
		a->missed_flushes++;
		return err_setf(err, "metrics: cannot write to %s: %s", a->metrics.path,
				strerror(errno));
	}
	return 0;
}

static void on_timer(void *opaque)
{
	struct vmon_error err;
	if (api_metrics_flush(opaque, &err) < 0)
		vlog(VLOG_WARNING, "%s", err.msg);
}

int api_metrics_set(struct api *a, const struct api_metrics_cfg *m, struct vmon_error *err)
{
	if (a->has_metrics)
		return err_setf(err, "metrics: the metrics system is initialized already");
	int fd = api_open_output(m->path, "metrics", err);
	if (fd < 0)
		return -1;
	a->metrics = *m;
	a->metrics_fd = fd;
	a->has_metrics = true;
	if (a->loop) {
		a->metrics_timer = ev_add_timer(a->loop, m->interval_ms, on_timer, a, err);
		if (a->metrics_timer < 0) {
			api_metrics_close(a);
			return -1;
		}
	}
	return 0;
}

void api_metrics_close(struct api *a)
{
	if (a->loop)
		ev_remove_timer(a->loop, a->metrics_timer);
	a->metrics_timer = -1;
	if (a->metrics_fd >= 0)
		close(a->metrics_fd);
	a->metrics_fd = -1;
	a->has_metrics = false;
}
