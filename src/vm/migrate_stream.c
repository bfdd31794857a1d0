/* SPDX-License-Identifier: MIT */
/*
 * The migration stream's parser and its sockets (migrate_stream.h).
 */
#include "vm/migrate_stream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <zstd.h>

#include "vm/vmstate_cpu.h"

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

void mig_put_header(uint8_t out[MIG_HEADER_BYTES], uint64_t ram_bytes, uint32_t flags)
{
	memcpy(out, MIG_MAGIC, 8);
	put32(out + 8, MIG_VERSION);
	put32(out + 12, flags);
	put64(out + 16, ram_bytes);
}

size_t mig_put_cpu(uint8_t *out, size_t cap, const struct cpu_featureset *f)
{
	struct state_writer w = {0};
	vmstate_cpuid_put(&w, f);
	size_t n = 0;
	if (!w.failed && w.len <= MIG_MAX_CPU_BYTES && 8 + w.len <= cap) {
		put32(out, MIG_REC_CPU);
		put32(out + 4, (uint32_t)w.len);
		if (w.len)
			memcpy(out + 8, w.buf, w.len);
		n = 8 + w.len;
	}
	state_writer_free(&w);
	return n;
}

void mig_put_machine_head(uint8_t out[8], uint32_t len)
{
	put32(out, MIG_REC_MACHINE);
	put32(out + 4, len);
}

/* The receiver's working state. */
struct mig_rx {
	const struct mig_source *src;
	struct guest_mem *mem;
	uint64_t npages;
	uint8_t *sent; /* one bit per page: holds data the stream sent */
	uint64_t pages;
	uint32_t flags, version;
	ZSTD_DCtx *dctx; /* with MIG_FLAG_ZSTD */
	uint8_t *zbuf;	 /* a compressed run, at most zcap bytes */
	size_t zcap;
	uint64_t ram;		   /* the header's */
	struct cpu_featureset cpu; /* the CPU record's (v2+) */
	bool answered;		   /* the opening was answered */
};

static int get(struct mig_rx *x, void *buf, size_t n, struct vmon_error *err)
{
	if (x->src->read(x->src->opaque, buf, n, err) < 0) {
		if (!err->msg[0])
			err_setf(err, "the migration stream ended early");
		return -1;
	}
	return 0;
}

/* first and count (non-zero, at most max) name pages within RAM. */
static int check_run(struct mig_rx *x, uint64_t first, uint32_t count, uint32_t max,
		     const char *what, struct vmon_error *err)
{
	if (count == 0 || count > max)
		return err_setf(err, "migration stream: %s record of %u pages (1 to %u)", what,
				count, max);
	if (first >= x->npages || count > x->npages - first)
		return err_setf(err,
				"migration stream: %s record for pages %llu+%u outside the "
				"guest's %llu pages",
				what, (unsigned long long)first, count,
				(unsigned long long)x->npages);
	return 0;
}

static int rx_pages(struct mig_rx *x, struct vmon_error *err)
{
	uint8_t h[12];
	if (get(x, h, sizeof(h), err) < 0)
		return -1;
	uint64_t first = le64(h);
	uint32_t count = le32(h + 8);
	if (check_run(x, first, count, MIG_MAX_RUN, "page", err) < 0)
		return -1;
	uint8_t *dst = x->mem->base + first * GM_PAGE_SIZE;
	if (get(x, dst, (size_t)count * GM_PAGE_SIZE, err) < 0)
		return -1;
	for (uint64_t p = first; p < first + count; p++)
		x->sent[p / 8] |= (uint8_t)(1u << (p % 8));
	x->pages += count;
	return 0;
}

static int rx_pages_zstd(struct mig_rx *x, struct vmon_error *err)
{
	uint8_t h[16];
	if (get(x, h, sizeof(h), err) < 0)
		return -1;
	uint64_t first = le64(h);
	uint32_t count = le32(h + 8), clen = le32(h + 12);
	if (!(x->flags & MIG_FLAG_ZSTD))
		return err_setf(err, "migration stream: a compressed record, but the header did "
				     "not announce compression");
	if (check_run(x, first, count, MIG_MAX_RUN, "compressed page", err) < 0)
		return -1;
	if (clen == 0 || clen > x->zcap)
		return err_setf(err, "migration stream: a compressed run of %u bytes (1 to %zu)",
				clen, x->zcap);
	if (get(x, x->zbuf, clen, err) < 0)
		return -1;
	size_t want = (size_t)count * GM_PAGE_SIZE;
	/* Decompresses at most want bytes into the run's own pages. */
	size_t n = ZSTD_decompressDCtx(x->dctx, x->mem->base + first * GM_PAGE_SIZE, want, x->zbuf,
				       clen);
	if (ZSTD_isError(n))
		return err_setf(err, "migration stream: bad compressed run at page %llu: %s",
				(unsigned long long)first, ZSTD_getErrorName(n));
	if (n != want)
		return err_setf(err,
				"migration stream: a compressed run of %u pages holds %zu bytes",
				count, n);
	for (uint64_t p = first; p < first + count; p++)
		x->sent[p / 8] |= (uint8_t)(1u << (p % 8));
	x->pages += count;
	return 0;
}

static int rx_zero(struct mig_rx *x, struct vmon_error *err)
{
	uint8_t h[12];
	if (get(x, h, sizeof(h), err) < 0)
		return -1;
	uint64_t first = le64(h);
	uint32_t count = le32(h + 8);
	if (check_run(x, first, count, MIG_MAX_ZERO_RUN, "zero-page", err) < 0)
		return -1;
	/* Pages never sent are zero already: touching them would only
	 * allocate memory. */
	for (uint64_t p = first; p < first + count; p++) {
		if (!(x->sent[p / 8] & (1u << (p % 8))))
			continue;
		memset(x->mem->base + p * GM_PAGE_SIZE, 0, GM_PAGE_SIZE);
		x->sent[p / 8] &= (uint8_t) ~(1u << (p % 8));
	}
	return 0;
}

static int rx_state(struct mig_rx *x, struct vmstate *st, struct vmon_error *err)
{
	uint8_t h[4];
	if (get(x, h, sizeof(h), err) < 0)
		return -1;
	uint32_t len = le32(h);
	if (len == 0 || len > VMSTATE_MAX_BYTES)
		return err_setf(err, "migration stream: a machine state of %u bytes (1 to %u)", len,
				VMSTATE_MAX_BYTES);
	uint8_t *buf = malloc(len);
	if (!buf)
		return err_setf(err, "out of memory for the machine state");
	if (get(x, buf, len, err) < 0) {
		free(buf);
		return -1;
	}
	struct vmon_error e2 = {{0}};
	if (vmstate_parse(st, buf, len, &e2) < 0)
		return err_setf(err, "migration stream: machine state: %s", e2.msg);
	if (st->hdr.mem_size != x->mem->size) {
		vmstate_free(st);
		return err_setf(err,
				"migration stream: the machine state has %llu bytes of RAM, the "
				"stream %llu",
				(unsigned long long)st->hdr.mem_size,
				(unsigned long long)x->mem->size);
	}
	return 0;
}

/* Answers the source; a failed write is the source's loss (it gave up). */
static void answer(const struct mig_source *src, const void *p, size_t n)
{
	struct vmon_error e = {{0}};
	if (src->write)
		(void)src->write(src->opaque, p, n, &e);
}

/* A v2 stream's first record: the guest's CPU features, checked by the
 * gate before a single page is read; the source waits for the answer. */
static int rx_cpu(struct mig_rx *x, const struct mig_cpu_gate *gate, bool *refused,
		  struct vmon_error *err)
{
	uint8_t h[8];
	if (get(x, h, sizeof(h), err) < 0)
		return -1;
	if (le32(h) != MIG_REC_CPU)
		return err_setf(err, "migration stream: record %u where the CPU features belong",
				le32(h));
	uint32_t len = le32(h + 4);
	if (len > MIG_MAX_CPU_BYTES)
		return err_setf(err, "migration stream: CPU features of %u bytes (at most %u)", len,
				MIG_MAX_CPU_BYTES);
	char names[MIG_MAX_CPU_BYTES];
	if (len && get(x, names, len, err) < 0)
		return -1;
	struct cpu_featureset f;
	struct vmon_error why = {{0}};
	if (vmstate_cpuid_get(names, len, &f, &why) < 0)
		return err_setf(err, "migration stream: %s", why.msg);
	if (gate && gate->check(gate->opaque, &f, &why) < 0) {
		char line[300];
		int n = snprintf(line, sizeof(line), "%c%.250s\n", MIG_ACK_FAILED, why.msg);
		answer(x->src, line, (size_t)n);
		if (refused)
			*refused = true;
		x->answered = true;
		return err_setf(err, "refused the guest: %s", why.msg);
	}
	x->cpu = f;
	if (x->version < MIG_VERSION_EARLY) {
		/* v3 answers once the machine is built (mig_recv_answer). */
		uint8_t a = MIG_ACK_ACCEPT;
		answer(x->src, &a, 1);
		x->answered = true;
	}
	return 0;
}

/* A v3 stream's second record: the machine the target builds before any
 * page comes (a vmstate holding its config and CPU features). */
static int rx_machine(struct mig_rx *x, struct vmstate *machine, struct vmon_error *err)
{
	uint8_t h[8];
	if (get(x, h, sizeof(h), err) < 0)
		return -1;
	if (le32(h) != MIG_REC_MACHINE)
		return err_setf(err, "migration stream: record %u where the machine belongs",
				le32(h));
	uint32_t len = le32(h + 4);
	if (len == 0 || len > MIG_MAX_MACHINE_BYTES)
		return err_setf(err, "migration stream: a machine record of %u bytes (1 to %u)",
				len, MIG_MAX_MACHINE_BYTES);
	uint8_t *buf = malloc(len);
	if (!buf)
		return err_setf(err, "out of memory for the machine record");
	if (get(x, buf, len, err) < 0) {
		free(buf);
		return -1;
	}
	struct vmon_error e2 = {{0}};
	if (vmstate_parse(machine, buf, len, &e2) < 0)
		return err_setf(err, "migration stream: machine record: %s", e2.msg);
	const char *bad = NULL;
	const struct vmstate_section *s = vmstate_find(machine, VMS_CPUID, NULL);
	struct cpu_featureset f;
	if (machine->hdr.mem_size != x->ram)
		bad = "its RAM size is not the header's";
	else if (!vmstate_find(machine, VMS_CONFIG, NULL))
		bad = "it has no config";
	else if (!s || vmstate_cpuid_get(s->data, s->len, &f, &e2) < 0 ||
		 memcmp(&f, &x->cpu, sizeof(f)) != 0)
		bad = "its CPU features are not the CPU record's";
	if (bad) {
		vmstate_free(machine);
		return err_setf(err, "migration stream: machine record: %s", bad);
	}
	return 0;
}

static int rx_header(struct mig_rx *x, uint64_t max_ram, uint64_t *ram, struct vmon_error *err)
{
	uint8_t h[MIG_HEADER_BYTES];
	if (get(x, h, sizeof(h), err) < 0)
		return -1;
	if (memcmp(h, MIG_MAGIC, 8) != 0)
		return err_setf(err, "not a vmon migration stream (bad magic)");
	x->version = le32(h + 8);
	if (x->version < 1 || x->version > MIG_VERSION)
		return err_setf(err, "migration stream version %u (this vmon reads 1 to %u)",
				x->version, MIG_VERSION);
	x->flags = le32(h + 12);
	if (x->flags & ~MIG_FLAG_ZSTD)
		return err_setf(err, "migration stream: unknown flags %#x", x->flags);
	*ram = le64(h + 16);
	x->ram = *ram;
	if (*ram == 0 || *ram % GM_PAGE_SIZE || *ram > max_ram)
		return err_setf(err,
				"migration stream: guest RAM of %llu bytes (a multiple of 4 KiB, "
				"at most %llu)",
				(unsigned long long)*ram, (unsigned long long)max_ram);
	return 0;
}

int mig_recv_open(struct mig_rx **out, const struct mig_source *src,
		  const struct mig_cpu_gate *gate, uint64_t max_ram, struct vmstate *machine,
		  bool *refused, struct vmon_error *err)
{
	*out = NULL;
	memset(machine, 0, sizeof(*machine));
	if (refused)
		*refused = false;
	struct mig_rx *x = calloc(1, sizeof(*x));
	if (!x)
		return err_setf(err, "out of memory");
	x->src = src;
	uint64_t ram = 0;
	if (rx_header(x, max_ram, &ram, err) < 0 ||
	    (x->version >= MIG_VERSION_CPU && rx_cpu(x, gate, refused, err) < 0) ||
	    (x->version >= MIG_VERSION_EARLY && rx_machine(x, machine, err) < 0)) {
		free(x);
		return -1;
	}
	if (x->version < MIG_VERSION_CPU)
		x->answered = true; /* a v1 stream waits for no answer */
	*out = x;
	return 0;
}

uint64_t mig_rx_ram(const struct mig_rx *x)
{
	return x->ram;
}

uint32_t mig_rx_version(const struct mig_rx *x)
{
	return x->version;
}

bool mig_recv_answer(struct mig_rx *x, const char *why)
{
	if (x->answered)
		return false;
	x->answered = true;
	if (!why) {
		uint8_t a = MIG_ACK_ACCEPT;
		answer(x->src, &a, 1);
		return true;
	}
	char line[300];
	int n = snprintf(line, sizeof(line), "%c%.250s\n", MIG_ACK_FAILED, why);
	answer(x->src, line, (size_t)n);
	return true;
}

void mig_rx_free(struct mig_rx *x)
{
	free(x);
}

int mig_recv_rest(struct mig_rx *x, struct guest_mem *mem, struct vmstate *st, uint64_t *pages,
		  struct vmon_error *err)
{
	memset(st, 0, sizeof(*st));
	if (pages)
		*pages = 0;
	if (!x->answered)
		return err_setf(err, "migration stream: the opening was not answered");
	if (mem->size != x->ram)
		return err_setf(err,
				"migration stream: %llu bytes of RAM to receive into, the "
				"stream has %llu",
				(unsigned long long)mem->size, (unsigned long long)x->ram);
	x->mem = mem;
	x->npages = x->ram / GM_PAGE_SIZE;
	x->pages = 0;
	x->sent = calloc((size_t)(x->npages + 7) / 8, 1);
	if (x->flags & MIG_FLAG_ZSTD) {
		x->zcap = ZSTD_compressBound(MIG_MAX_RUN * GM_PAGE_SIZE);
		x->zbuf = malloc(x->zcap);
		x->dctx = ZSTD_createDCtx();
	}
	bool have_state = false;
	int r = -1;
	if (!x->sent || ((x->flags & MIG_FLAG_ZSTD) && (!x->zbuf || !x->dctx))) {
		err_setf(err, "out of memory");
		goto out;
	}
	for (;;) {
		uint8_t t[4];
		if (get(x, t, sizeof(t), err) < 0)
			break;
		uint32_t type = le32(t);
		if (have_state && type != MIG_REC_END) {
			err_setf(err, "migration stream: record %u after the machine state", type);
			break;
		}
		if (type == MIG_REC_PAGES) {
			if (rx_pages(x, err) < 0)
				break;
		} else if (type == MIG_REC_PAGES_ZSTD) {
			if (rx_pages_zstd(x, err) < 0)
				break;
		} else if (type == MIG_REC_ZERO) {
			if (rx_zero(x, err) < 0)
				break;
		} else if (type == MIG_REC_SYNC && x->version >= MIG_VERSION_EARLY) {
			uint8_t a = MIG_ACK_SYNCED;
			answer(x->src, &a, 1);
		} else if (type == MIG_REC_STATE) {
			if (rx_state(x, st, err) < 0)
				break;
			have_state = true;
		} else if (type == MIG_REC_END) {
			if (!have_state) {
				err_setf(err, "migration stream: ended without the machine state");
				break;
			}
			r = 0;
			break;
		} else {
			err_setf(err, "migration stream: unknown record type %u", type);
			break;
		}
	}
out:
	free(x->sent);
	free(x->zbuf);
	ZSTD_freeDCtx(x->dctx);
	x->sent = x->zbuf = NULL;
	x->dctx = NULL;
	x->mem = NULL;
	if (pages)
		*pages = x->pages;
	if (r < 0 && have_state)
		vmstate_free(st);
	return r;
}

int mig_recv(const struct mig_source *src, const struct mig_cpu_gate *gate, struct guest_mem *mem,
	     struct vmstate *st, uint64_t max_ram, uint64_t *pages, bool *refused,
	     struct vmon_error *err)
{
	struct mig_rx *x;
	mem->base = NULL;
	mem->memfd = -1;
	memset(st, 0, sizeof(*st));
	struct vmstate *machine = malloc(sizeof(*machine));
	if (!machine)
		return err_setf(err, "out of memory");
	int o = mig_recv_open(&x, src, gate, max_ram, machine, refused, err);
	if (o == 0)
		vmstate_free(machine);
	free(machine);
	if (o < 0)
		return -1;
	(void)mig_recv_answer(x, NULL);
	int r = gm_create(mem, mig_rx_ram(x), err);
	if (r == 0 && (r = mig_recv_rest(x, mem, st, pages, err)) < 0)
		gm_destroy(mem);
	mig_rx_free(x);
	return r;
}

/* ---- Endpoints ---- */

int mig_endpoint_parse(const char *spec, bool insecure, const char *what, struct mig_endpoint *out,
		       struct vmon_error *err)
{
	memset(out, 0, sizeof(*out));
	if (strncmp(spec, "unix:", 5) == 0) {
		const char *p = spec + 5;
		if (!*p)
			return err_setf(err, "%s: unix: needs a path", what);
		if (strlen(p) >= sizeof(out->path))
			return err_setf(err, "%s: socket path too long (at most %zu bytes)", what,
					sizeof(out->path) - 1);
		out->is_unix = true;
		snprintf(out->path, sizeof(out->path), "%s", p);
		return 0;
	}
	if (strncmp(spec, "tcp:", 4) != 0)
		return err_setf(err, "%s: '%s' is not unix:PATH or tcp:ADDR:PORT", what, spec);
	const char *a = spec + 4, *colon = strrchr(a, ':');
	char host[64];
	if (!colon || colon == a || (size_t)(colon - a) >= sizeof(host))
		return err_setf(err, "%s: '%s' is not tcp:ADDR:PORT", what, spec);
	memcpy(host, a, (size_t)(colon - a));
	host[colon - a] = 0;
	char *end;
	errno = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port == 0 || port > 65535)
		return err_setf(err, "%s: '%s': the port must be 1 to 65535", what, colon + 1);
	struct in_addr in;
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	if (inet_pton(AF_INET, host, &in) != 1)
		return err_setf(err, "%s: '%s' is not a numeric IPv4 address", what, host);
	if ((ntohl(in.s_addr) >> 24) != 127 && !insecure)
		return err_setf(err,
				"%s: %s is not a loopback address: plain TCP would carry guest "
				"memory unencrypted; give --tls-cert, --tls-key and --tls-ca, or "
				"--insecure to allow it",
				what, host);
	out->addr_be = in.s_addr;
	out->port = (uint16_t)port;
	return 0;
}

static socklen_t sockaddr_of(const struct mig_endpoint *ep, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (ep->is_unix) {
		struct sockaddr_un *u = (struct sockaddr_un *)ss;
		u->sun_family = AF_UNIX;
		snprintf(u->sun_path, sizeof(u->sun_path), "%s", ep->path);
		return sizeof(*u);
	}
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	in->sin_family = AF_INET;
	in->sin_addr.s_addr = ep->addr_be;
	in->sin_port = htons(ep->port);
	return sizeof(*in);
}

static void describe(const struct mig_endpoint *ep, char *out, size_t cap)
{
	if (ep->is_unix) {
		snprintf(out, cap, "unix:%s", ep->path);
		return;
	}
	char a[INET_ADDRSTRLEN] = "?";
	struct in_addr in = {.s_addr = ep->addr_be};
	inet_ntop(AF_INET, &in, a, sizeof(a));
	snprintf(out, cap, "tcp:%s:%u", a, ep->port);
}

/* TCP_NODELAY on a TCP stream: its last records and the handshake after
 * them (END, the target's READY, the source's GO, RUNNING) are a few
 * bytes each, which Nagle's algorithm held back until the peer's
 * delayed ACK, up to 40 ms a turn, inside the guest's downtime (an idle
 * 256 MiB guest on loopback: 40 ms of downtime over TCP, 20 ms over a
 * Unix socket, 2026-12-07). The pages go in writes of whole runs, which
 * Nagle's coalescing would not help. Best effort: a refusal only costs
 * time. */
static void tcp_nodelay(int fd, const struct mig_endpoint *ep)
{
	int one = 1;
	if (!ep->is_unix)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int mig_connect(const struct mig_endpoint *ep, struct vmon_error *err)
{
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_of(ep, &ss);
	char name[160];
	describe(ep, name, sizeof(name));
	int fd = socket(ep->is_unix ? AF_UNIX : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_setf(err, "socket: %s", strerror(errno));
	int r;
	do
		r = connect(fd, (struct sockaddr *)&ss, len);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		int e = errno;
		close(fd);
		return err_setf(err, "cannot connect to %s: %s", name, strerror(e));
	}
	tcp_nodelay(fd, ep);
	return fd;
}

int mig_listen(const struct mig_endpoint *ep, struct vmon_error *err)
{
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_of(ep, &ss);
	char name[160];
	describe(ep, name, sizeof(name));
	int fd = socket(ep->is_unix ? AF_UNIX : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_setf(err, "socket: %s", strerror(errno));
	int one = 1;
	if (!ep->is_unix)
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 1) < 0) {
		int e = errno;
		close(fd);
		return err_setf(err, "--incoming %s: %s", name, strerror(e));
	}
	return fd;
}

int mig_accept_on(int lfd, const struct mig_endpoint *ep, struct vmon_error *err)
{
	char name[160];
	describe(ep, name, sizeof(name));
	int c;
	do
		c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	while (c < 0 && errno == EINTR);
	int e = errno;
	close(lfd);
	if (ep->is_unix)
		unlink(ep->path);
	if (c < 0)
		return err_setf(err, "--incoming %s: accept: %s", name, strerror(e));
	tcp_nodelay(c, ep);
	return c;
}

int mig_accept(const struct mig_endpoint *ep, struct vmon_error *err)
{
	int lfd = mig_listen(ep, err);
	return lfd < 0 ? -1 : mig_accept_on(lfd, ep, err);
}

void migrate_incoming_refuse(struct mig_conn *c, const char *why)
{
	char line[300];
	struct vmon_error e = {{0}};
	int n = snprintf(line, sizeof(line), "%c%.250s\n", MIG_ACK_FAILED, why);
	(void)mig_conn_write(c, line, (size_t)n, &e);
	mig_conn_close(c);
}

int migrate_incoming_handshake(struct mig_conn *c, struct vmon_error *err)
{
	uint8_t b = MIG_ACK_READY;
	struct vmon_error e = {{0}};
	int r = 0;
	if (mig_conn_write(c, &b, 1, &e) < 0)
		r = err_setf(err, "the migration source went away before the hand-over");
	else if (mig_conn_read(c, &b, 1, &e) < 0 || b != MIG_ACK_GO)
		r = err_setf(err, "the migration source did not hand the VM over (cancelled, or "
				  "it went away): not running it");
	if (r < 0)
		mig_conn_close(c);
	return r;
}

void migrate_incoming_running(struct mig_conn *c)
{
	uint8_t b = MIG_ACK_RUNNING;
	struct vmon_error e = {{0}};
	(void)mig_conn_write(c, &b, 1, &e);
	mig_conn_close(c);
}
