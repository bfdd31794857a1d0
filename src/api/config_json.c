/* SPDX-License-Identifier: MIT */
#include "api/config_json.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "api/balloon_json.h"
#include "api/rate_limiter_json.h"
#include "core/machine.h"
#include "devices/virtio/virtio_net.h"

#define API_MAX_VCPUS	 VMON_MAX_CPUS
#define DEFAULT_FLUSH_MS 60000

/* ---- Strict field access ---- */

int api_json_fields(const json_t *o, const char *what, const char *const *allowed,
		    struct vmon_error *err)
{
	if (!json_is_object(o))
		return err_setf(err, "%s: the body must be a JSON object", what);
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)o, key, v)
	{
		bool ok = false;
		for (size_t i = 0; allowed[i] && !ok; i++)
			ok = strcmp(key, allowed[i]) == 0;
		if (!ok)
			return err_setf(err, "%s: unknown field '%.64s'", what, key);
	}
	return 0;
}

/* The field, or NULL when absent or null (then an error if required). */
static json_t *field(const json_t *o, const char *key, bool required, const char *what,
		     struct vmon_error *err, bool *failed)
{
	json_t *v = json_object_get(o, key);
	if (v && !json_is_null(v))
		return v;
	if (required) {
		err_setf(err, "%s: the field '%s' is required", what, key);
		*failed = true;
	}
	return NULL;
}

/* 1: copied, 0: absent, -1: error. Empty strings are refused. */
static int str_field(const json_t *o, const char *key, bool required, char *out, size_t cap,
		     const char *what, struct vmon_error *err)
{
	bool failed = false;
	json_t *v = field(o, key, required, what, err, &failed);
	if (!v)
		return failed ? -1 : 0;
	if (!json_is_string(v))
		return err_setf(err, "%s: '%s' must be a string", what, key);
	size_t n = json_string_length(v);
	const char *s = json_string_value(v);
	if (n == 0)
		return err_setf(err, "%s: '%s' must not be empty", what, key);
	if (n >= cap)
		return err_setf(err, "%s: '%s' is too long (at most %zu bytes)", what, key,
				cap - 1);
	if (memchr(s, 0, n))
		return err_setf(err, "%s: '%s' contains a NUL byte", what, key);
	memcpy(out, s, n + 1);
	return 1;
}

static int bool_field(const json_t *o, const char *key, bool required, bool *out, const char *what,
		      struct vmon_error *err)
{
	bool failed = false;
	json_t *v = field(o, key, required, what, err, &failed);
	if (!v)
		return failed ? -1 : 0;
	if (!json_is_boolean(v))
		return err_setf(err, "%s: '%s' must be true or false", what, key);
	*out = json_is_true(v);
	return 1;
}

static int uint_field(const json_t *o, const char *key, bool required, uint64_t min, uint64_t max,
		      uint64_t *out, const char *what, struct vmon_error *err)
{
	bool failed = false;
	json_t *v = field(o, key, required, what, err, &failed);
	if (!v)
		return failed ? -1 : 0;
	if (!json_is_integer(v))
		return err_setf(err, "%s: '%s' must be an integer", what, key);
	json_int_t n = json_integer_value(v);
	if (n < 0 || (uint64_t)n < min || (uint64_t)n > max)
		return err_setf(err, "%s: '%s' is %lld, out of range (%llu to %llu)", what, key,
				(long long)n, (unsigned long long)min, (unsigned long long)max);
	*out = (uint64_t)n;
	return 1;
}

/* A field vmon does not implement yet: present and not null is an error. */
static int unsupported(const json_t *o, const char *key, const char *what, const char *why,
		       struct vmon_error *err)
{
	json_t *v = json_object_get(o, key);
	if (v && !json_is_null(v))
		return err_setf(err, "%s: '%s' is not supported by vmon%s", what, key, why);
	return 0;
}

static int transport_field(const json_t *o, enum vm_transport *t, const char *what,
			   struct vmon_error *err)
{
	char s[8];
	int r = str_field(o, "vmon_transport", false, s, sizeof(s), what, err);
	if (r <= 0)
		return r;
	if (strcmp(s, "pci") == 0)
		*t = VM_TRANSPORT_PCI;
	else if (strcmp(s, "mmio") == 0)
		*t = VM_TRANSPORT_MMIO;
	else
		return err_setf(err, "%s: 'vmon_transport' must be \"pci\" or \"mmio\"", what);
	return 1;
}

static int id_field(const json_t *o, const char *key, const char *path_id, char *out,
		    const char *what, struct vmon_error *err)
{
	if (str_field(o, key, true, out, VM_ID_MAX, what, err) < 0)
		return -1;
	if (!vm_id_valid(out))
		return err_setf(err, "%s: '%s' may only contain letters, digits, '-' and '_'", what,
				key);
	if (path_id && strcmp(path_id, out) != 0)
		return err_setf(err,
				"%s: the id in the path ('%.64s') does not match '%s' in the "
				"body ('%s')",
				what, path_id, key, out);
	return 0;
}

/* The file exists and can be opened for reading. */
static int readable(const char *path, const char *what, const char *key, struct vmon_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return err_setf(err, "%s: cannot open %s %s: %s", what, key, path, strerror(errno));
	struct stat st;
	int r = fstat(fd, &st);
	close(fd);
	if (r == 0 && S_ISDIR(st.st_mode))
		return err_setf(err, "%s: %s %s is a directory", what, key, path);
	return 0;
}

int api_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned b[6];
	char tail;
	if (strlen(s) != 17 || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
				      &b[4], &b[5], &tail) != 6)
		return -1;
	for (int i = 0; i < 6; i++) {
		if (b[i] > 0xff)
			return -1;
		mac[i] = (uint8_t)b[i];
	}
	if (mac[0] & 1)
		return -1; /* multicast */
	return 0;
}

/* ---- Request bodies ---- */

int api_json_boot_source(json_t *o, struct vm_boot_config *out, struct vmon_error *err)
{
	static const char *const allowed[] = {"kernel_image_path", "initrd_path", "boot_args",
					      NULL};
	const char *what = "boot-source";
	struct vm_boot_config b = {0};
	if (api_json_fields(o, what, allowed, err) < 0 ||
	    str_field(o, "kernel_image_path", true, b.kernel, sizeof(b.kernel), what, err) < 0 ||
	    str_field(o, "initrd_path", false, b.initrd, sizeof(b.initrd), what, err) < 0)
		return -1;
	json_t *args = json_object_get(o, "boot_args");
	if (args && !json_is_null(args)) {
		if (!json_is_string(args))
			return err_setf(err, "%s: 'boot_args' must be a string", what);
		size_t n = json_string_length(args);
		if (n >= sizeof(b.cmdline) || memchr(json_string_value(args), 0, n))
			return err_setf(err,
					"%s: 'boot_args' is longer than %zu bytes or holds a "
					"NUL byte",
					what, sizeof(b.cmdline) - 1);
		memcpy(b.cmdline, json_string_value(args), n + 1);
	}
	if (readable(b.kernel, what, "kernel_image_path", err) < 0 ||
	    (b.initrd[0] && readable(b.initrd, what, "initrd_path", err) < 0))
		return -1;
	*out = b;
	return 0;
}

/* "--disk PATH: why" (the devices' wording) as "what: PATH: why". */
static int reword(struct vmon_error *err, const char *what)
{
	char msg[VMON_ERROR_MAX];
	const char *m = err->msg;
	if (strncmp(m, "--disk ", 7) == 0)
		m += 7;
	snprintf(msg, sizeof(msg), "%s", m);
	return err_setf(err, "%s: %s", what, msg);
}

int api_json_drive(json_t *o, const char *path_id, struct vm_drive_config *out,
		   struct vmon_error *err)
{
	static const char *const allowed[] = {
		"drive_id",   "path_on_host", "is_root_device", "is_read_only", "partuuid",
		"cache_type", "rate_limiter", "io_engine",	"socket",	"vmon_transport",
		NULL};
	const char *what = "drive";
	struct vm_drive_config d = {.transport = VM_TRANSPORT_MMIO, .aio = BLK_AIO_AUTO};
	char s[16];
	if (api_json_fields(o, what, allowed, err) < 0 ||
	    id_field(o, "drive_id", path_id, d.id, what, err) < 0 ||
	    unsupported(o, "socket", what, " (no vhost-user)", err) < 0 ||
	    str_field(o, "path_on_host", true, d.path, sizeof(d.path), what, err) < 0 ||
	    bool_field(o, "is_root_device", true, &d.root, what, err) < 0 ||
	    bool_field(o, "is_read_only", false, &d.ro, what, err) < 0 ||
	    str_field(o, "partuuid", false, d.partuuid, sizeof(d.partuuid), what, err) < 0 ||
	    transport_field(o, &d.transport, what, err) < 0)
		return -1;
	int r = str_field(o, "cache_type", false, s, sizeof(s), what, err);
	if (r < 0)
		return -1;
	if (r > 0) {
		if (strcmp(s, "Writeback") != 0 && strcmp(s, "Unsafe") != 0)
			return err_setf(err, "%s: 'cache_type' must be \"Unsafe\" or \"Writeback\"",
					what);
		d.writeback = strcmp(s, "Writeback") == 0;
	}
	r = str_field(o, "io_engine", false, s, sizeof(s), what, err);
	if (r < 0)
		return -1;
	if (r > 0) {
		if (strcmp(s, "Sync") == 0)
			d.aio = BLK_AIO_SYNC;
		else if (strcmp(s, "Async") == 0)
			d.aio = BLK_AIO_URING;
		else
			return err_setf(err, "%s: 'io_engine' must be \"Sync\" or \"Async\"", what);
	}
	struct virtio_blk_spec spec = {.path = d.path, .ro = d.ro};
	char w[VM_ID_MAX + 16];
	snprintf(w, sizeof(w), "drive %s", d.id);
	struct rl_update rl;
	if (api_json_rate_limiter(o, "rate_limiter", w, &rl, err) < 0)
		return -1;
	d.rl = rl.cfg;
	if (virtio_blk_check(&spec, err) < 0)
		return reword(err, w);
	*out = d;
	return 0;
}

int api_json_drive_patch(json_t *o, const char *path_id, char *path, size_t cap,
			 struct rl_update *rl, struct vmon_error *err)
{
	static const char *const allowed[] = {"drive_id", "path_on_host", "rate_limiter", NULL};
	const char *what = "drive";
	char id[VM_ID_MAX];
	char p[VM_PATH_MAX];
	if (api_json_fields(o, what, allowed, err) < 0 ||
	    id_field(o, "drive_id", path_id, id, what, err) < 0 ||
	    api_json_rate_limiter(o, "rate_limiter", what, rl, err) < 0)
		return -1;
	int r = str_field(o, "path_on_host", false, p, sizeof(p), what, err);
	if (r < 0)
		return -1;
	path[0] = 0;
	if (r == 0) {
		if (!rl->has_bw && !rl->has_ops)
			return err_setf(err,
					"%s: nothing to update (give path_on_host or "
					"rate_limiter)",
					what);
		return 0;
	}
	if (strlen(p) >= cap)
		return err_setf(err, "%s: 'path_on_host' is too long", what);
	memcpy(path, p, strlen(p) + 1);
	return 0;
}

int api_json_net_patch(json_t *o, const char *path_id, struct rl_update *rx, struct rl_update *tx,
		       struct vmon_error *err)
{
	static const char *const allowed[] = {"iface_id", "rx_rate_limiter", "tx_rate_limiter",
					      NULL};
	const char *what = "network-interface";
	char id[VM_ID_MAX];
	if (api_json_fields(o, what, allowed, err) < 0 ||
	    id_field(o, "iface_id", path_id, id, what, err) < 0 ||
	    api_json_rate_limiter(o, "rx_rate_limiter", what, rx, err) < 0 ||
	    api_json_rate_limiter(o, "tx_rate_limiter", what, tx, err) < 0)
		return -1;
	if (!rx->has_bw && !rx->has_ops && !tx->has_bw && !tx->has_ops)
		return err_setf(err,
				"%s: nothing to update (give rx_rate_limiter or "
				"tx_rate_limiter)",
				what);
	return 0;
}

int api_json_machine(json_t *o, bool patch, bool overcommit, struct vm_machine_config *io,
		     struct vmon_error *err)
{
	static const char *const allowed[] = {"vcpu_count",
					      "mem_size_mib",
					      "smt",
					      "track_dirty_pages",
					      "cpu_template",
					      "huge_pages",
					      "vmon_backend",
					      "vmon_cpu_features",
					      "vmon_cpu_affinity",
					      "vmon_nested",
					      NULL};
	const char *what = "machine-config";
	struct vm_machine_config m = *io;
	if (!patch) {
		/* PUT: Firecracker's optional fields not given take their
		 * defaults (vmon_backend keeps what the command line chose). */
		m.smt = m.track_dirty_pages = false;
	}
	uint64_t vcpus = m.vcpus, mib = m.mem_size >> 20;
	char s[16];
	if (api_json_fields(o, what, allowed, err) < 0 ||
	    uint_field(o, "vcpu_count", !patch, 1, API_MAX_VCPUS, &vcpus, what, err) < 0 ||
	    uint_field(o, "mem_size_mib", !patch, 1, (1ULL << 30), &mib, what, err) < 0 ||
	    bool_field(o, "smt", false, &m.smt, what, err) < 0 ||
	    bool_field(o, "track_dirty_pages", false, &m.track_dirty_pages, what, err) < 0 ||
	    bool_field(o, "vmon_nested", false, &m.nested, what, err) < 0)
		return -1;
	if (m.smt)
		return err_setf(err,
				"%s: 'smt' true is not supported: vmon does not model SMT "
				"siblings",
				what);
	int r = str_field(o, "cpu_template", false, s, sizeof(s), what, err);
	if (r < 0 || (r > 0 && strcmp(s, "None") != 0))
		return r < 0 ? -1
			     : err_setf(err, "%s: CPU templates are not supported (only \"None\")",
					what);
	r = str_field(o, "huge_pages", false, s, sizeof(s), what, err);
	if (r < 0 || (r > 0 && strcmp(s, "None") != 0))
		return r < 0 ? -1
			     : err_setf(err, "%s: huge pages are not supported (only \"None\")",
					what);
	r = str_field(o, "vmon_backend", false, s, sizeof(s), what, err);
	if (r < 0)
		return -1;
	if (r > 0) {
		if (strcmp(s, "auto") == 0)
			m.backend = VM_BACKEND_AUTO;
		else if (strcmp(s, "kvm") == 0)
			m.backend = VM_BACKEND_KVM;
		else if (strcmp(s, "emu") == 0)
			m.backend = VM_BACKEND_EMU;
		else
			return err_setf(err,
					"%s: 'vmon_backend' must be \"auto\", \"kvm\" or "
					"\"emu\"",
					what);
	}
	char feat[sizeof(m.cpu_features)];
	r = str_field(o, "vmon_cpu_features", false, feat, sizeof(feat), what, err);
	if (r < 0)
		return -1;
	if (r > 0) {
		struct vmon_error perr;
		if (cpu_model_parse(feat, &m.cpu_model, &perr) < 0)
			return err_setf(err, "%s: 'vmon_cpu_features': %s", what, perr.msg);
		memcpy(m.cpu_features, feat, sizeof(feat));
	}
	char aff[CPU_AFFINITY_TEXT_MAX];
	r = str_field(o, "vmon_cpu_affinity", false, aff, sizeof(aff), what, err);
	if (r < 0)
		return -1;
	if (r > 0) {
		struct vmon_error perr;
		if (cpu_affinity_parse(aff, &m.affinity, &perr) < 0 ||
		    cpu_affinity_check(&m.affinity, (unsigned)vcpus, &perr) < 0)
			return err_setf(err, "%s: 'vmon_cpu_affinity': %s", what, perr.msg);
	}
	struct sysinfo si;
	if (!overcommit && sysinfo(&si) == 0 && mib > ((uint64_t)si.totalram * si.mem_unit) >> 20)
		return err_setf(err, "%s: 'mem_size_mib' %llu is more than this host's %llu MiB",
				what, (unsigned long long)mib,
				(unsigned long long)(((uint64_t)si.totalram * si.mem_unit) >> 20));
	m.vcpus = (unsigned)vcpus;
	m.mem_size = mib << 20;
	*io = m;
	return 0;
}

static int hostfwd_from_json(json_t *o, struct net_hostfwd *f, struct vmon_error *err)
{
	static const char *const allowed[] = {"protocol",   "host_addr",  "host_port",
					      "guest_addr", "guest_port", NULL};
	const char *what = "vmon_user_net.hostfwd";
	char proto[8] = "tcp", haddr[32] = "", gaddr[32] = "";
	uint64_t hport = 0, gport = 0;
	if (api_json_fields(o, what, allowed, err) < 0 ||
	    str_field(o, "protocol", false, proto, sizeof(proto), what, err) < 0 ||
	    str_field(o, "host_addr", false, haddr, sizeof(haddr), what, err) < 0 ||
	    str_field(o, "guest_addr", false, gaddr, sizeof(gaddr), what, err) < 0 ||
	    uint_field(o, "host_port", true, 1, 65535, &hport, what, err) < 0 ||
	    uint_field(o, "guest_port", true, 1, 65535, &gport, what, err) < 0)
		return -1;
	*f = (struct net_hostfwd){
		.udp = strcmp(proto, "udp") == 0,
		.host_addr = {.s_addr = htonl(INADDR_ANY)},
		.host_port = (uint16_t)hport,
		.guest_addr = {.s_addr = htonl(0x0a00020f)}, /* 10.0.2.15 */
		.guest_port = (uint16_t)gport,
	};
	if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0)
		return err_setf(err, "%s: 'protocol' must be \"tcp\" or \"udp\"", what);
	if ((haddr[0] && inet_pton(AF_INET, haddr, &f->host_addr) != 1) ||
	    (gaddr[0] && inet_pton(AF_INET, gaddr, &f->guest_addr) != 1))
		return err_setf(err, "%s: an address is not an IPv4 address", what);
	return 0;
}

static int user_net_from_json(json_t *o, struct net_spec *spec, struct vmon_error *err)
{
	static const char *const allowed[] = {"hostfwd", NULL};
	const char *what = "network-interface: vmon_user_net";
	if (api_json_fields(o, what, allowed, err) < 0)
		return -1;
	spec->kind = NET_USER;
	json_t *fw = json_object_get(o, "hostfwd");
	if (!fw || json_is_null(fw))
		return 0;
	if (!json_is_array(fw))
		return err_setf(err, "%s: 'hostfwd' must be an array", what);
	if (json_array_size(fw) > NET_MAX_HOSTFWD)
		return err_setf(err, "%s: at most %d forwards", what, NET_MAX_HOSTFWD);
	size_t i;
	json_t *e;
	json_array_foreach(fw, i, e)
	{
		if (hostfwd_from_json(e, &spec->fwd[i], err) < 0)
			return -1;
		spec->nfwd = (int)i + 1;
	}
	return 0;
}

int api_json_net(json_t *o, const char *path_id, struct vm_net_config *out, struct vmon_error *err)
{
	static const char *const allowed[] = {
		"iface_id",	   "host_dev_name",  "guest_mac",     "mtu", "rx_rate_limiter",
		"tx_rate_limiter", "vmon_transport", "vmon_user_net", NULL};
	const char *what = "network-interface";
	struct vm_net_config n = {.transport = VM_TRANSPORT_MMIO};
	char mac[24];
	if (api_json_fields(o, what, allowed, err) < 0 ||
	    id_field(o, "iface_id", path_id, n.id, what, err) < 0 ||
	    unsupported(o, "mtu", what, " yet", err) < 0 ||
	    transport_field(o, &n.transport, what, err) < 0)
		return -1;
	struct rl_update rx, tx;
	if (api_json_rate_limiter(o, "rx_rate_limiter", what, &rx, err) < 0 ||
	    api_json_rate_limiter(o, "tx_rate_limiter", what, &tx, err) < 0)
		return -1;
	n.rx_rl = rx.cfg;
	n.tx_rl = tx.cfg;
	json_t *user = json_object_get(o, "vmon_user_net");
	bool has_user = user && !json_is_null(user);
	int r = str_field(o, "host_dev_name", !has_user, n.spec.ifname, sizeof(n.spec.ifname), what,
			  err);
	if (r < 0)
		return -1;
	if (has_user && r > 0)
		return err_setf(err,
				"%s: give either 'host_dev_name' (a tap device) or "
				"'vmon_user_net', not both",
				what);
	if (has_user) {
		if (user_net_from_json(user, &n.spec, err) < 0)
			return -1;
	} else {
		n.spec.kind = NET_TAP;
	}
	r = str_field(o, "guest_mac", false, mac, sizeof(mac), what, err);
	if (r < 0)
		return -1;
	if (r > 0) {
		if (api_parse_mac(mac, n.spec.mac) < 0)
			return err_setf(err,
					"%s: 'guest_mac' %s is not a unicast MAC address "
					"(XX:XX:XX:XX:XX:XX)",
					what, mac);
		n.spec.has_mac = true;
	}
	if (virtio_net_check(&n.spec, err) < 0) {
		char msg[VMON_ERROR_MAX];
		snprintf(msg, sizeof(msg), "%s", err->msg);
		return err_setf(err, "%s %s: %s", what, n.id, msg);
	}
	*out = n;
	return 0;
}

int api_json_vsock(json_t *o, struct vm_vsock_config *out, struct vmon_error *err)
{
	static const char *const allowed[] = {"guest_cid", "uds_path", "vsock_id", "vmon_transport",
					      NULL};
	const char *what = "vsock";
	struct vm_vsock_config v = {.transport = VM_TRANSPORT_MMIO};
	uint64_t cid;
	char id[VM_ID_MAX] = "vsock";
	if (api_json_fields(o, what, allowed, err) < 0 ||
	    uint_field(o, "guest_cid", true, 3, 0xfffffffeULL, &cid, what, err) < 0 ||
	    str_field(o, "uds_path", true, v.spec.path, sizeof(v.spec.path), what, err) < 0 ||
	    str_field(o, "vsock_id", false, id, sizeof(id), what, err) < 0 ||
	    transport_field(o, &v.transport, what, err) < 0)
		return -1;
	if (!vm_id_valid(id))
		return err_setf(err,
				"%s: 'vsock_id' may only contain letters, digits, '-' and "
				"'_'",
				what);
	v.spec.cid = (uint32_t)cid;
	memcpy(v.id, id, sizeof(v.id));
	*out = v;
	return 0;
}

int api_json_entropy(json_t *o, struct rl_config *out, struct vmon_error *err)
{
	static const char *const allowed[] = {"rate_limiter", NULL};
	struct rl_update rl;
	if (api_json_fields(o, "entropy", allowed, err) < 0 ||
	    api_json_rate_limiter(o, "rate_limiter", "entropy", &rl, err) < 0)
		return -1;
	*out = rl.cfg;
	return 0;
}

int api_json_serial(json_t *o, struct chardev_spec *out, struct vmon_error *err)
{
	static const char *const allowed[] = {"serial_out_path", "rate_limiter", NULL};
	const char *what = "serial";
	struct chardev_spec c = {.kind = CHARDEV_FILE};
	if (api_json_fields(o, what, allowed, err) < 0 ||
	    unsupported(o, "rate_limiter", what, " yet", err) < 0 ||
	    str_field(o, "serial_out_path", true, c.path, sizeof(c.path), what, err) < 0)
		return -1;
	*out = c;
	return 0;
}

int api_json_logger(json_t *o, struct api_logger_cfg *out, struct vmon_error *err)
{
	static const char *const allowed[] = {"log_path",	 "level",  "show_level",
					      "show_log_origin", "module", NULL};
	const char *what = "logger";
	struct api_logger_cfg l = {.level = VLOG_INFO};
	char level[16];
	if (api_json_fields(o, what, allowed, err) < 0 ||
	    str_field(o, "log_path", false, l.path, sizeof(l.path), what, err) < 0 ||
	    bool_field(o, "show_level", false, &l.show_level, what, err) < 0 ||
	    bool_field(o, "show_log_origin", false, &l.show_origin, what, err) < 0 ||
	    str_field(o, "module", false, l.module, sizeof(l.module), what, err) < 0)
		return -1;
	int r = str_field(o, "level", false, level, sizeof(level), what, err);
	if (r < 0)
		return -1;
	if (r > 0) {
		static const char *const names[] = {"Error", "Warning", "Info", "Debug", "Trace"};
		bool found = strcasecmp(level, "Off") == 0;
		l.off = found;
		for (unsigned i = 0; i < 5 && !found; i++)
			if (strcasecmp(level, names[i]) == 0) {
				l.level = (enum vlog_level)i;
				found = true;
			}
		if (!found)
			return err_setf(err,
					"%s: 'level' must be Error, Warning, Info, Debug, Trace "
					"or Off",
					what);
	}
	*out = l;
	return 0;
}

int api_json_metrics(json_t *o, struct api_metrics_cfg *out, struct vmon_error *err)
{
	static const char *const allowed[] = {"metrics_path", "emit_id", "properties",
					      "vmon_flush_interval_ms", NULL};
	const char *what = "metrics";
	struct api_metrics_cfg m = {.interval_ms = DEFAULT_FLUSH_MS};
	if (api_json_fields(o, what, allowed, err) < 0 ||
	    str_field(o, "metrics_path", true, m.path, sizeof(m.path), what, err) < 0 ||
	    bool_field(o, "emit_id", false, &m.emit_id, what, err) < 0 ||
	    uint_field(o, "vmon_flush_interval_ms", false, 10, 3600000, &m.interval_ms, what, err) <
		    0)
		return -1;
	json_t *p = json_object_get(o, "properties");
	if (p && !json_is_null(p)) {
		if (!json_is_object(p))
			return err_setf(err, "%s: 'properties' must be an object of strings", what);
		const char *key;
		json_t *v;
		json_object_foreach(p, key, v)
		{
			if (!json_is_string(v))
				return err_setf(err, "%s: property '%.64s' must be a string", what,
						key);
		}
		char *s = json_dumps(p, JSON_COMPACT);
		if (!s || strlen(s) >= sizeof(m.properties)) {
			free(s);
			return err_setf(err, "%s: 'properties' is too large", what);
		}
		memcpy(m.properties, s, strlen(s) + 1);
		free(s);
	}
	*out = m;
	return 0;
}

int api_json_vm_state(json_t *o, bool *pause, struct vmon_error *err)
{
	static const char *const allowed[] = {"state", NULL};
	char s[16];
	if (api_json_fields(o, "vm", allowed, err) < 0 ||
	    str_field(o, "state", true, s, sizeof(s), "vm", err) < 0)
		return -1;
	if (strcmp(s, "Paused") == 0)
		*pause = true;
	else if (strcmp(s, "Resumed") == 0)
		*pause = false;
	else
		return err_setf(err, "vm: 'state' must be \"Paused\" or \"Resumed\"");
	return 0;
}

int api_json_snapshot_create(json_t *o, char *state, char *mem, size_t cap, bool *diff,
			     struct vmon_error *err)
{
	static const char *const allowed[] = {"snapshot_type", "snapshot_path", "mem_file_path",
					      "version", NULL};
	char type[16] = "Full", version[32];
	if (api_json_fields(o, "snapshot-create", allowed, err) < 0 ||
	    str_field(o, "snapshot_path", true, state, cap, "snapshot-create", err) < 0 ||
	    str_field(o, "mem_file_path", true, mem, cap, "snapshot-create", err) < 0 ||
	    str_field(o, "snapshot_type", false, type, sizeof(type), "snapshot-create", err) < 0 ||
	    str_field(o, "version", false, version, sizeof(version), "snapshot-create", err) < 0)
		return -1;
	*diff = strcmp(type, "Diff") == 0;
	if (!*diff && strcmp(type, "Full") != 0)
		return err_setf(err,
				"snapshot-create: 'snapshot_type' must be \"Full\" or \"Diff\"");
	return 0;
}

int api_json_snapshot_load(json_t *o, char *state, char *mem, size_t cap, bool *resume, bool *track,
			   struct vmon_error *err)
{
	static const char *const allowed[] = {
		"snapshot_path",	 "mem_file_path",     "mem_backend", "resume_vm",
		"enable_diff_snapshots", "track_dirty_pages", NULL};
	static const char *const backend_allowed[] = {"backend_type", "backend_path", NULL};
	const char *w = "snapshot-load";
	bool diff = false, dirty = false;
	*resume = false;
	int have_file;
	if (api_json_fields(o, w, allowed, err) < 0 ||
	    str_field(o, "snapshot_path", true, state, cap, w, err) < 0 ||
	    (have_file = str_field(o, "mem_file_path", false, mem, cap, w, err)) < 0 ||
	    bool_field(o, "resume_vm", false, resume, w, err) < 0 ||
	    bool_field(o, "enable_diff_snapshots", false, &diff, w, err) < 0 ||
	    bool_field(o, "track_dirty_pages", false, &dirty, w, err) < 0)
		return -1;
	/* enable_diff_snapshots: Firecracker's older name for it. */
	*track = diff || dirty;
	json_t *b = json_object_get(o, "mem_backend");
	if (b && have_file)
		return err_setf(err, "%s: give either 'mem_file_path' or 'mem_backend'", w);
	if (!b && !have_file)
		return err_setf(err, "%s: the field 'mem_backend' is required", w);
	if (!b)
		return 0;
	char type[16];
	const char *bw = "snapshot-load: mem_backend";
	if (api_json_fields(b, bw, backend_allowed, err) < 0 ||
	    str_field(b, "backend_type", true, type, sizeof(type), bw, err) < 0 ||
	    str_field(b, "backend_path", true, mem, cap, bw, err) < 0)
		return -1;
	if (strcmp(type, "File") != 0)
		return err_setf(err,
				"%s: 'backend_type' must be \"File\" (vmon has no "
				"userfaultfd backend)",
				bw);
	return 0;
}

int api_json_action(json_t *o, char *action, size_t cap, struct vmon_error *err)
{
	static const char *const allowed[] = {"action_type", NULL};
	if (api_json_fields(o, "actions", allowed, err) < 0 ||
	    str_field(o, "action_type", true, action, cap, "actions", err) < 0)
		return -1;
	return 0;
}

/* ---- Adding to a configuration ---- */

int api_cfg_put_drive(struct vm_config *cfg, const struct vm_drive_config *d,
		      struct vmon_error *err)
{
	int i = vm_config_find_drive(cfg, d->id);
	for (unsigned j = 0; j < cfg->ndrives; j++)
		if ((int)j != i && d->root && cfg->drives[j].root)
			return err_setf(err, "drive %s: drive %s is the root device already", d->id,
					cfg->drives[j].id);
	struct vm_config *next = malloc(sizeof(*next));
	if (!next)
		return err_setf(err, "out of memory");
	*next = *cfg;
	if (i < 0) {
		if (next->ndrives == VM_MAX_DISKS) {
			free(next);
			return err_setf(err, "drive %s: at most %d drives", d->id, VM_MAX_DISKS);
		}
		i = (int)next->ndrives++;
	}
	next->drives[i] = *d;
	if (vm_config_mmio_count(next) > VM_MAX_VIRTIO_MMIO) {
		free(next);
		return err_setf(err,
				"drive %s: at most %d virtio-mmio devices (set "
				"\"vmon_transport\": \"pci\" for more)",
				d->id, VM_MAX_VIRTIO_MMIO);
	}
	*cfg = *next;
	free(next);
	return 0;
}

int api_cfg_put_net(struct vm_config *cfg, const struct vm_net_config *n, struct vmon_error *err)
{
	int i = vm_config_find_net(cfg, n->id);
	unsigned count = cfg->nnets + (i < 0);
	if (count > VM_MAX_NICS)
		return err_setf(err, "network-interface %s: at most %d network interfaces", n->id,
				VM_MAX_NICS);
	enum vm_transport old = i >= 0 ? cfg->nets[i].transport : VM_TRANSPORT_PCI;
	unsigned mmio = vm_config_mmio_count(cfg) - (old == VM_TRANSPORT_MMIO) +
			(n->transport == VM_TRANSPORT_MMIO);
	if (mmio > VM_MAX_VIRTIO_MMIO)
		return err_setf(err,
				"network-interface %s: at most %d virtio-mmio devices (set "
				"\"vmon_transport\": \"pci\" for more)",
				n->id, VM_MAX_VIRTIO_MMIO);
	if (i < 0)
		i = (int)cfg->nnets++;
	cfg->nets[i] = *n;
	return 0;
}

int api_cfg_put_vsock(struct vm_config *cfg, const struct vm_vsock_config *v,
		      struct vmon_error *err)
{
	enum vm_transport old = cfg->has_vsock ? cfg->vsock.transport : VM_TRANSPORT_PCI;
	unsigned mmio = vm_config_mmio_count(cfg) - (old == VM_TRANSPORT_MMIO) +
			(v->transport == VM_TRANSPORT_MMIO);
	if (mmio > VM_MAX_VIRTIO_MMIO)
		return err_setf(err,
				"vsock: at most %d virtio-mmio devices (set "
				"\"vmon_transport\": \"pci\" for more)",
				VM_MAX_VIRTIO_MMIO);
	cfg->vsock = *v;
	cfg->has_vsock = true;
	return 0;
}

/* ---- Output ---- */

static const char *transport_name(enum vm_transport t)
{
	return t == VM_TRANSPORT_MMIO ? "mmio" : "pci";
}

static const char *backend_name(enum vm_backend_choice b)
{
	return b == VM_BACKEND_KVM ? "kvm" : b == VM_BACKEND_EMU ? "emu" : "auto";
}

json_t *api_json_machine_out(const struct vm_machine_config *m)
{
	json_t *o = json_pack("{s:I, s:I, s:b, s:b, s:s, s:s}", "vcpu_count", (json_int_t)m->vcpus,
			      "mem_size_mib", (json_int_t)(m->mem_size >> 20), "smt", m->smt,
			      "track_dirty_pages", m->track_dirty_pages, "huge_pages", "None",
			      "vmon_backend", backend_name(m->backend));
	if (o && m->cpu_features[0])
		json_object_set_new(o, "vmon_cpu_features", json_string(m->cpu_features));
	if (o && m->nested)
		json_object_set_new(o, "vmon_nested", json_true());
	if (o && m->affinity.set)
		json_object_set_new(o, "vmon_cpu_affinity", json_string(m->affinity.text));
	return o;
}

static json_t *boot_out(const struct vm_boot_config *b)
{
	if (!b->kernel[0])
		return json_null();
	json_t *o =
		json_pack("{s:s, s:s}", "kernel_image_path", b->kernel, "boot_args", b->cmdline);
	if (o && b->initrd[0])
		json_object_set_new(o, "initrd_path", json_string(b->initrd));
	return o;
}

static json_t *drive_out(const struct vm_drive_config *d)
{
	const char *engine = d->aio == BLK_AIO_SYNC ? "Sync" : "Async";
	json_t *o = json_pack("{s:s, s:s, s:b, s:b, s:s, s:s, s:s}", "drive_id", d->id,
			      "path_on_host", d->path, "is_root_device", d->root, "is_read_only",
			      d->ro, "cache_type", d->writeback ? "Writeback" : "Unsafe",
			      "io_engine", engine, "vmon_transport", transport_name(d->transport));
	if (o && d->partuuid[0])
		json_object_set_new(o, "partuuid", json_string(d->partuuid));
	json_t *rl = o ? api_json_rate_limiter_out(&d->rl) : NULL;
	if (rl)
		json_object_set_new(o, "rate_limiter", rl);
	return o;
}

static json_t *net_out(const struct vm_net_config *n)
{
	json_t *o = json_pack("{s:s, s:s}", "iface_id", n->id, "vmon_transport",
			      transport_name(n->transport));
	if (!o)
		return NULL;
	if (n->spec.kind == NET_TAP)
		json_object_set_new(o, "host_dev_name", json_string(n->spec.ifname));
	json_t *rx = api_json_rate_limiter_out(&n->rx_rl),
	       *tx = api_json_rate_limiter_out(&n->tx_rl);
	if (rx)
		json_object_set_new(o, "rx_rate_limiter", rx);
	if (tx)
		json_object_set_new(o, "tx_rate_limiter", tx);
	if (n->spec.has_mac) {
		char mac[18];
		const uint8_t *m = n->spec.mac;
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
			 m[4], m[5]);
		json_object_set_new(o, "guest_mac", json_string(mac));
	}
	if (n->spec.kind == NET_USER) {
		json_t *fw = json_array();
		for (int i = 0; i < n->spec.nfwd; i++) {
			const struct net_hostfwd *f = &n->spec.fwd[i];
			char h[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &f->host_addr, h, sizeof(h));
			inet_ntop(AF_INET, &f->guest_addr, g, sizeof(g));
			json_array_append_new(fw, json_pack("{s:s, s:s, s:i, s:s, s:i}", "protocol",
							    f->udp ? "udp" : "tcp", "host_addr", h,
							    "host_port", f->host_port, "guest_addr",
							    g, "guest_port", f->guest_port));
		}
		json_object_set_new(o, "vmon_user_net", json_pack("{s:o}", "hostfwd", fw));
	}
	return o;
}

json_t *api_json_full_config(const struct vm_config *cfg, const struct api_logger_cfg *logger,
			     const struct api_metrics_cfg *metrics)
{
	json_t *drives = json_array(), *nets = json_array();
	for (unsigned i = 0; i < cfg->ndrives; i++)
		json_array_append_new(drives, drive_out(&cfg->drives[i]));
	for (unsigned i = 0; i < cfg->nnets; i++)
		json_array_append_new(nets, net_out(&cfg->nets[i]));
	json_t *vsock = cfg->has_vsock ? json_pack("{s:I, s:s, s:s}", "guest_cid",
						   (json_int_t)cfg->vsock.spec.cid, "uds_path",
						   cfg->vsock.spec.path, "vmon_transport",
						   transport_name(cfg->vsock.transport))
				       : json_null();
	json_t *entropy = json_null();
	if (cfg->entropy) {
		entropy = json_object();
		json_t *rl = api_json_rate_limiter_out(&cfg->entropy_rl);
		if (rl)
			json_object_set_new(entropy, "rate_limiter", rl);
	}
	json_t *log = json_null(), *met = json_null();
	if (logger) {
		log = json_pack("{s:s, s:s, s:b, s:b}", "log_path", logger->path, "level",
				logger->off ? "Off" : vlog_level_name(logger->level), "show_level",
				logger->show_level, "show_log_origin", logger->show_origin);
		if (log && logger->module[0])
			json_object_set_new(log, "module", json_string(logger->module));
	}
	if (metrics)
		met = json_pack("{s:s, s:b, s:I}", "metrics_path", metrics->path, "emit_id",
				metrics->emit_id, "vmon_flush_interval_ms",
				(json_int_t)metrics->interval_ms);
	json_t *balloon = cfg->has_balloon ? api_json_balloon_out(&cfg->balloon) : json_null();
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:n}", "boot-source",
			 boot_out(&cfg->boot), "drives", drives, "machine-config",
			 api_json_machine_out(&cfg->machine), "network-interfaces", nets, "vsock",
			 vsock, "entropy", entropy, "logger", log, "metrics", met, "balloon",
			 balloon, "mmds-config");
}

/* ---- Config files ---- */

static int file_section(json_t *root, const char *key, struct vm_config *cfg, bool overcommit,
			struct api_file_config *x, struct vmon_error *err)
{
	json_t *v = json_object_get(root, key);
	if (!v || json_is_null(v))
		return 0;
	if (strcmp(key, "boot-source") == 0)
		return api_json_boot_source(v, &cfg->boot, err);
	if (strcmp(key, "machine-config") == 0)
		return api_json_machine(v, false, overcommit, &cfg->machine, err);
	if (strcmp(key, "drives") == 0 || strcmp(key, "network-interfaces") == 0) {
		if (!json_is_array(v))
			return err_setf(err, "'%s' must be an array", key);
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e)
		{
			if (key[0] == 'd') {
				struct vm_drive_config d;
				if (api_json_drive(e, NULL, &d, err) < 0 ||
				    api_cfg_put_drive(cfg, &d, err) < 0)
					return -1;
			} else {
				struct vm_net_config n;
				if (api_json_net(e, NULL, &n, err) < 0 ||
				    api_cfg_put_net(cfg, &n, err) < 0)
					return -1;
			}
		}
		return 0;
	}
	if (strcmp(key, "vsock") == 0) {
		struct vm_vsock_config vs;
		return api_json_vsock(v, &vs, err) < 0 ? -1 : api_cfg_put_vsock(cfg, &vs, err);
	}
	if (strcmp(key, "entropy") == 0) {
		if (api_json_entropy(v, &cfg->entropy_rl, err) < 0)
			return -1;
		cfg->entropy = true;
		return 0;
	}
	if (strcmp(key, "serial") == 0)
		return api_json_serial(v, &cfg->serial, err);
	if (strcmp(key, "balloon") == 0) {
		if (api_json_balloon(v, &cfg->balloon, err) < 0)
			return -1;
		cfg->has_balloon = true;
		return 0;
	}
	if (strcmp(key, "logger") == 0) {
		x->has_logger = true;
		return api_json_logger(v, &x->logger, err);
	}
	if (strcmp(key, "metrics") == 0) {
		x->has_metrics = true;
		return api_json_metrics(v, &x->metrics, err);
	}
	return err_setf(err, "'%s' is not supported by vmon", key);
}

int api_config_file_load(const char *path, struct vm_config *cfg, bool overcommit,
			 struct api_file_config *x, struct vmon_error *err)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return err_setf(err, "--config-file %s: %s", path, strerror(errno));
	json_error_t je;
	json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
	fclose(f);
	if (!root)
		return err_setf(err, "--config-file %s: line %d: %s", path, je.line, je.text);
	static const char *const sections[] = {
		"boot-source", "machine-config", "drives",	"network-interfaces",
		"vsock",       "entropy",	 "serial",	"logger",
		"metrics",     "balloon",	 "mmds-config", "cpu-config",
		NULL};
	struct vmon_error e = {{0}};
	int r = api_json_fields(root, "the file", sections, &e);
	/* Sections in a fixed order: drives before anything that counts
	 * virtio-mmio windows after them, as the API would see them. */
	for (size_t i = 0; r == 0 && sections[i]; i++)
		r = file_section(root, sections[i], cfg, overcommit, x, &e);
	json_decref(root);
	if (r < 0)
		return err_setf(err, "--config-file %s: %s", path, e.msg);
	return 0;
}
