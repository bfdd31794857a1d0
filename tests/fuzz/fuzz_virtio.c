/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: random guest memory (rings, descriptors, buffers)
 * and random transport register writes fed to virtio-blk, virtio-rng,
 * virtio-net (on the loopback back end: what the guest sends comes back
 * to its receive queue) or virtio-vsock (its host side on a Unix socket
 * in /tmp, with a listener on host port 5) through the virtio-pci
 * transport, with ASan/UBSan watching every host access. Built and run by
 * `make fuzz` (clang -fsanitize=fuzzer,address).
 *
 * Input layout:
 *   byte 0   bit 0: device (0 blk, 1 rng); bit 1: EVENT_IDX; bit 2: INDIRECT;
 *            bit 3: virtio-net instead; bit 4: virtio-vsock instead; bit 5
 *            (blk only): the virtio-blk on the MMIO transport, register
 *            offsets then being MMIO ones (window 0x1000); bit 6: the PCI
 *            bus instead (below)
 *   byte 1   queue size = 1 << (byte % 5)
 *   byte 2   number of register writes n (0..7)
 *   n x 8    register write: le16 BAR-0 offset, u8 size, u8 pad, le32 value
 *   rest     guest RAM from address 0: queue 0 has desc at 0x0, avail 0x100,
 *            used 0x200; net and vsock also use queue 1 (their transmit
 *            queue) at 0x3000, 0x3100, 0x3200
 *
 * PCI mode, byte 0 bit 7 as well: after the operations, the PCI host's
 * and the virtio-blk's saved state (device_ops.save) with bytes flipped
 * as the input's last bytes say, restored (a hostile snapshot), then the
 * queues run again.
 *
 * PCI mode (byte 0 bit 6): a PCI host on port and MMIO buses with a
 * virtio-blk (slot 1) and a virtio-rng (slot 2) on it, driven only as a
 * guest would: configuration mechanism #1 at 0xcf8/0xcfc (BAR moves, the
 * command register, capabilities, the virtio PCI-config window) and
 * accesses to the MMIO window (virtio registers, the MSI-X table and
 * PBA, notifies). The backend's hooks are fakes that check the host's
 * promises: ioeventfd registrations only inside the window and never
 * twice, routes only deleted or re-aimed while bound, INTx only on GSIs
 * 16-19. Each input starts from a PCI reset.
 *   byte 1   number of operations n (0..255)
 *   n x 8    operation: u8 kind, u8 a, u8 b, u8 c, le32 value (pci_op below)
 *   rest     guest RAM from address 0, as above
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/bus.h"
#include "core/guest_mem.h"
#include "core/state.h"
#include "devices/pci.h"
#include "devices/virtio/virtio_blk.h"
#include "devices/virtio/virtio_mmio.h"
#include "devices/virtio/virtio_pci.h"
#include "devices/virtio/virtio_net.h"
#include "devices/virtio/virtio_rng.h"
#include "devices/virtio/virtio_vsock.h"

#define RAM   (64u << 10)
#define DESC  0x000
#define AVAIL 0x100
#define USED  0x200
#define Q1    0x3000

static struct guest_mem gm;
static struct virtio_blk *blk, *mblk; /* mblk: on the MMIO transport */
static struct virtio_rng *rng;
static struct virtio_net *net;
static struct virtio_vsock *vsock;
static int port5_fd = -1; /* the host listener behind vsock port 5 */
static char vsock_path[128], port5_path_copy[140];

static void die(const char *what, const struct vmon_error *err);

/* ---- PCI mode: a host, two devices, and fake backend hooks ---- */

static struct bus pci_pio, pci_mmio;
static struct pci_host *phost;
static struct virtio_blk *pblk;
static struct virtio_rng *prng;

static void broken(const char *what)
{
	fprintf(stderr, "fuzz: PCI host broke a promise: %s\n", what);
	abort(); /* a finding */
}

static void fake_level(void *ctx, unsigned gsi, bool level)
{
	if (gsi < PCI_INTX_GSI_BASE || gsi >= PCI_INTX_GSI_BASE + PCI_INTX_LINES)
		broken("INTx on a GSI that is no PCI line");
}

static void fake_msi(void *ctx, uint64_t addr, uint32_t data)
{
}

#define FAKE_ROUTES 8 /* few: binding failures get exercised too */
static struct {
	bool used;
	int fd;
} routes[FAKE_ROUTES];

static int fake_route_add(void *ctx, int fd, uint64_t addr, uint32_t data)
{
	if (fd < 0 || (addr >> 20) != 0xfee)
		broken("route for a bad fd or a message that is no interrupt");
	for (int i = 0; i < FAKE_ROUTES; i++)
		if (!routes[i].used) {
			routes[i].used = true;
			routes[i].fd = fd;
			return i;
		}
	return -1;
}

static int fake_route_set(void *ctx, int handle, uint64_t addr, uint32_t data)
{
	if (handle < 0 || handle >= FAKE_ROUTES || !routes[handle].used)
		broken("re-aiming a route that is not bound");
	if ((addr >> 20) != 0xfee)
		broken("route re-aimed at a message that is no interrupt");
	return 0;
}

static void fake_route_del(void *ctx, int handle, int fd)
{
	if (handle < 0 || handle >= FAKE_ROUTES || !routes[handle].used || routes[handle].fd != fd)
		broken("deleting a route that is not bound (or with another fd)");
	routes[handle].used = false;
}

static struct irq_router fake_router = {.set_level = fake_level,
					.msi = fake_msi,
					.msi_route_add = fake_route_add,
					.msi_route_set = fake_route_set,
					.msi_route_del = fake_route_del};

#define FAKE_IOEV 64
static struct {
	bool used;
	uint64_t gpa;
	unsigned len;
	int fd;
} ioevs[FAKE_IOEV];

static int fake_ioev_add(void *ctx, uint64_t gpa, unsigned len, bool match, uint64_t data, int fd)
{
	if (gpa < PCI_MMIO_BASE || gpa + len > PCI_MMIO_END)
		broken("ioeventfd outside the PCI window");
	int free_slot = -1;
	for (int i = 0; i < FAKE_IOEV; i++) {
		if (ioevs[i].used && ioevs[i].gpa == gpa && ioevs[i].len == len)
			broken("the same notify address registered twice");
		if (!ioevs[i].used && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0)
		return -1; /* as KVM out of bus devices */
	ioevs[free_slot].used = true;
	ioevs[free_slot].gpa = gpa;
	ioevs[free_slot].len = len;
	ioevs[free_slot].fd = fd;
	return 0;
}

static void fake_ioev_del(void *ctx, uint64_t gpa, unsigned len, bool match, uint64_t data,
			  int fd)
{
	for (int i = 0; i < FAKE_IOEV; i++)
		if (ioevs[i].used && ioevs[i].gpa == gpa && ioevs[i].len == len &&
		    ioevs[i].fd == fd) {
			ioevs[i].used = false;
			return;
		}
	broken("deregistering a notify address that is not registered");
}

static struct ioeventfd_router fake_ioev = {.add = fake_ioev_add, .del = fake_ioev_del};

static void setup_pci(void)
{
	struct vmon_error err;
	bus_init(&pci_pio, "pio");
	bus_init(&pci_mmio, "mmio");
	if (pci_host_create(&phost, &pci_pio, &pci_mmio, &fake_router, &err) < 0)
		die("PCI host", &err);
	pci_host_set_ioeventfd(phost, &fake_ioev);
	const struct virtio_bus at = {.kind = VIRTIO_TRANSPORT_PCI, .pci = phost};
	static char path[64];
	int fd = memfd_create("fuzz-pci-disk", 0);
	if (fd < 0 || ftruncate(fd, 64 << 10) < 0)
		die("memfd", NULL);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	const struct virtio_blk_spec spec = {.path = path, .id = "fuzz-pci", .aio = BLK_AIO_SYNC};
	if (virtio_blk_create(&pblk, &spec, &gm, NULL, NULL, &at, &err) < 0)
		die("virtio-blk on PCI", &err);
	if (virtio_rng_create(&prng, &gm, NULL, NULL, phost, &err) < 0)
		die("virtio-rng on PCI", &err);
	bus_seal(&pci_pio);
	bus_seal(&pci_mmio);
}

static uint64_t pio(unsigned port, unsigned size, bool write, uint64_t v)
{
	bus_access(&pci_pio, NULL, port, size, write, &v);
	return v;
}

/* Configuration access through the ports, as a guest makes it. */
static uint32_t cfg_rw(unsigned slot, unsigned off, unsigned size, bool write, uint32_t v)
{
	pio(0xcf8, 4, true, 0x80000000u | slot << 11 | (off & 0xfc));
	return (uint32_t)pio(0xcfc + (off & 3), size, write, v);
}

/* Config offset of slot's MSI-X capability, found as a driver does. */
static unsigned msix_cap(unsigned slot)
{
	unsigned off = cfg_rw(slot, PCI_CAP_PTR, 1, false, 0) & 0xfc;
	for (int n = 0; off && n < 48; n++) {
		if ((cfg_rw(slot, off, 1, false, 0) & 0xff) == PCI_CAP_ID_MSIX)
			return off;
		off = cfg_rw(slot, off + 1, 1, false, 0) & 0xfc;
	}
	return 0;
}

/*
 * One operation: kind % 8 picks it; a, b, c and v are its arguments.
 *   0 port write 0xcf8 + (a & 7), size 1 << (b % 3), value v
 *   1 port read, the same
 *   2 config write: slot a % 4 (0 is the bridge), offset b, size 1 << (c % 3)
 *   3 config read, the same
 *   4 BAR write: slot 1 + a % 2, BAR (a >> 1) & 1, at the BAR's current
 *     address (as config space says) + (b | c << 8), size 1 << ((a >> 2) % 4)
 *   5 BAR read, the same
 *   6 MSI-X control of slot 1 + a % 2 := v (enable, function mask)
 *   7 run the devices: their queue notifications and completions
 */
static void pci_op(const uint8_t *op)
{
	uint8_t a = op[1], b = op[2], c = op[3];
	uint32_t v;
	memcpy(&v, op + 4, 4);
	switch (op[0] % 8) {
	case 0:
	case 1: pio(0xcf8 + (a & 7), 1u << (b % 3), op[0] % 8 == 0, v); break;
	case 2:
	case 3: cfg_rw(a % 4, b, 1u << (c % 3), op[0] % 8 == 2, v); break;
	case 4:
	case 5: {
		unsigned slot = 1 + a % 2, bar = (a >> 1) & 1, size = 1u << ((a >> 2) % 4);
		uint64_t base = cfg_rw(slot, PCI_BAR0 + 4 * bar, 4, false, 0) & ~0xfu;
		uint64_t val = v;
		bus_access(&pci_mmio, NULL, base + (uint64_t)(b | c << 8), size, op[0] % 8 == 4,
			   &val);
		break;
	}
	case 6: {
		unsigned slot = 1 + a % 2, cap = msix_cap(slot);
		if (cap)
			cfg_rw(slot, cap + PCI_MSIX_CTRL, 2, true, v);
		break;
	}
	default:
		virtio_process_notifications(virtio_blk_transport(pblk));
		virtio_blk_poll(pblk);
		virtio_process_notifications(virtio_rng_transport(prng));
		break;
	}
}

/* Saves dev, flips bytes of the blob (triples from the input's end:
 * offset low, offset high, xor), restores it. */
static void restore_mutated(const struct device_ops *ops, void *dev, const uint8_t *data,
			    size_t size)
{
	struct state_writer w = {0};
	struct vmon_error err = {{0}};
	if (ops->save(dev, &w, &err) == 0 && !w.failed && w.len) {
		for (size_t i = 0; i < 16 && 3 * i + 3 <= size; i++) {
			const uint8_t *t = data + size - 3 * (i + 1);
			size_t off = ((size_t)t[0] | (size_t)t[1] << 8) % w.len;
			w.buf[off] ^= t[2];
		}
		struct state_reader r = state_reader_init(w.buf, w.len);
		if (ops->restore(dev, &r, ops->state_version, &err) < 0 && !err.msg[0])
			abort(); /* a refusal says why */
	}
	state_writer_free(&w);
}

static void one_pci(const uint8_t *data, size_t size)
{
	if (!phost)
		setup_pci();
	pci_host_reset(phost);
	virtio_reset(virtio_blk_transport(pblk));
	virtio_reset(virtio_rng_transport(prng));
	uint8_t *ram = gm_ptr(&gm, 0, RAM);
	memset(ram, 0, RAM);
	unsigned nops = size > 1 ? data[1] : 0;
	size_t pos = 2;
	/* RAM first, so the operations find requests there. */
	size_t ops_end = pos + 8 * (size_t)nops < size ? pos + 8 * (size_t)nops : size;
	size_t n = size - ops_end < RAM ? size - ops_end : RAM;
	memcpy(ram, data + ops_end, n);
	for (; pos + 8 <= ops_end; pos += 8)
		pci_op(data + pos);
	pci_op((const uint8_t[8]){7}); /* whatever the input left to do */
	if (data[0] & 0x80) {
		restore_mutated(&pci_host_device, phost, data, size);
		restore_mutated(&virtio_blk_device, pblk, data, size);
		pci_op((const uint8_t[8]){7});
	}
}

static void remove_sockets(void)
{
	unlink(vsock_path);
	unlink(port5_path_copy);
}

static void die(const char *what, const struct vmon_error *err)
{
	fprintf(stderr, "fuzz setup: %s: %s\n", what, err ? err->msg : "");
	abort(); /* setup only, never on an input's path */
}

static void setup(void)
{
	struct vmon_error err;
	if (gm_create(&gm, RAM, &err) < 0)
		die("guest memory", &err);
	int fd = memfd_create("fuzz-disk", 0);
	if (fd < 0 || ftruncate(fd, 64 << 10) < 0)
		die("memfd", NULL);
	static char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	const struct virtio_blk_spec spec = {.path = path, .id = "fuzz", .aio = BLK_AIO_SYNC};
	if (virtio_blk_create(&blk, &spec, &gm, NULL, NULL, NULL, &err) < 0)
		die("virtio-blk", &err);
	static char mpath[64];
	int mfd = memfd_create("fuzz-mmio-disk", 0);
	if (mfd < 0 || ftruncate(mfd, 64 << 10) < 0)
		die("memfd", NULL);
	snprintf(mpath, sizeof(mpath), "/proc/self/fd/%d", mfd);
	const struct virtio_blk_spec mspec = {.path = mpath, .id = "fuzz-mmio", .aio = BLK_AIO_SYNC};
	const struct virtio_bus mmio_at = {.kind = VIRTIO_TRANSPORT_MMIO, .mmio_base = 0xd0000000};
	if (virtio_blk_create(&mblk, &mspec, &gm, NULL, NULL, &mmio_at, &err) < 0)
		die("virtio-blk on MMIO", &err);
	if (virtio_rng_create(&rng, &gm, NULL, NULL, NULL, &err) < 0)
		die("virtio-rng", &err);
	const struct net_spec ns = {.kind = NET_LOOP};
	const uint8_t mac[6] = {0x52, 0x54, 0, 0x12, 0x34, 0x56};
	if (virtio_net_create(&net, &ns, mac, &gm, NULL, NULL, NULL, &err) < 0)
		die("virtio-net", &err);
	struct vsock_spec vs = {.cid = 3};
	snprintf(vs.path, sizeof(vs.path), "/tmp/vmon-fuzz-%d.sock", (int)getpid());
	if (virtio_vsock_create(&vsock, &vs, &gm, NULL, NULL, NULL, &err) < 0)
		die("virtio-vsock", &err);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_5", vs.path);
	unlink(sa.sun_path);
	port5_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (port5_fd < 0 || bind(port5_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(port5_fd, 64) < 0)
		die("vsock port 5 listener", NULL);
	static char port5_path[sizeof(sa.sun_path)];
	memcpy(port5_path, sa.sun_path, sizeof(port5_path));
	snprintf(vsock_path, sizeof(vsock_path), "%s", vs.path);
	snprintf(port5_path_copy, sizeof(port5_path_copy), "%s", port5_path);
	atexit(remove_sockets);
}

/* Accepts and drops what connected to port 5 (the device's reset closed
 * its ends already), so the backlog never fills. */
static void drain_port5(void)
{
	for (int fd; (fd = accept(port5_fd, NULL, NULL)) >= 0;)
		close(fd);
}

static void w(struct virtio_device *vd, uint64_t off, unsigned size, uint64_t v)
{
	virtio_bar0_write(vd, off, size, v);
}

/* virtio-blk on the MMIO transport: the same well-behaved setup through
 * its registers, then the input's register accesses, rings and notifies. */
static void one_mmio(const uint8_t *data, size_t size, uint16_t qsize, unsigned nops, size_t pos)
{
	struct virtio_device *vd = virtio_blk_transport(mblk);
	virtio_reset(vd);
	uint8_t *ram = gm_ptr(&gm, 0, RAM);
	memset(ram, 0, RAM);
	uint64_t f = (1ULL << VIRTIO_F_VERSION_1) | (data[0] & 2 ? 1ULL << VIRTIO_F_EVENT_IDX : 0) |
		     (data[0] & 4 ? 1ULL << VIRTIO_F_INDIRECT_DESC : 0) | (1ULL << 9) | (1ULL << 13);
	static const struct {
		uint16_t off;
		uint64_t v;
	} regs[] = {{VIRTIO_MMIO_STATUS, 3},
		    {VIRTIO_MMIO_DRV_FEATURES_SEL, 0},
		    {VIRTIO_MMIO_DRV_FEATURES, 0},
		    {VIRTIO_MMIO_DRV_FEATURES_SEL, 1},
		    {VIRTIO_MMIO_DRV_FEATURES, 1},
		    {VIRTIO_MMIO_STATUS, 0xb},
		    {VIRTIO_MMIO_QUEUE_SEL, 0},
		    {VIRTIO_MMIO_QUEUE_NUM, 0},
		    {VIRTIO_MMIO_QUEUE_DESC, DESC},
		    {VIRTIO_MMIO_QUEUE_DRIVER, AVAIL},
		    {VIRTIO_MMIO_QUEUE_DEVICE, USED},
		    {VIRTIO_MMIO_QUEUE_READY, 1},
		    {VIRTIO_MMIO_STATUS, 0xf}};
	for (unsigned i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		uint64_t v = regs[i].v;
		if (i == 2)
			v = (uint32_t)f;
		else if (i == 4)
			v = (uint32_t)(f >> 32);
		else if (i == 7)
			v = qsize;
		virtio_mmio_write(vd, regs[i].off, 4, v);
	}
	for (unsigned i = 0; i < nops && pos + 8 <= size; i++, pos += 8) {
		uint16_t off = (uint16_t)(data[pos] | data[pos + 1] << 8);
		unsigned sz = 1u << (data[pos + 2] % 4);
		uint32_t v;
		memcpy(&v, data + pos + 4, 4);
		if (data[pos + 3] & 1)
			(void)virtio_mmio_read(vd, off % VIRTIO_MMIO_SIZE, sz);
		else
			virtio_mmio_write(vd, off % VIRTIO_MMIO_SIZE, sz, v);
	}
	size_t n = size - pos < RAM ? size - pos : RAM;
	memcpy(ram, data + pos, n);
	for (int round = 0; round < 2; round++) {
		virtio_mmio_write(vd, VIRTIO_MMIO_QUEUE_NOTIFY, 4, 0);
		virtio_process_notifications(vd);
		virtio_blk_poll(mblk);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!blk)
		setup();
	if (size >= 2 && (data[0] & 64)) {
		one_pci(data, size);
		return 0;
	}
	if (size < 3)
		return 0;
	const bool is_rng = data[0] & 1;
	const bool is_net = data[0] & 8, is_vsock = !is_net && (data[0] & 16);
	if (!is_rng && !is_net && !is_vsock && (data[0] & 32)) {
		one_mmio(data, size, (uint16_t)(1u << (data[1] % 5)), data[2] % 8, 3);
		return 0;
	}
	struct virtio_device *vd = is_net     ? virtio_net_transport(net)
				   : is_vsock ? virtio_vsock_transport(vsock)
				   : is_rng   ? virtio_rng_transport(rng)
					      : virtio_blk_transport(blk);
	const uint16_t qsize = (uint16_t)(1u << (data[1] % 5));
	const unsigned nops = data[2] % 8;
	size_t pos = 3;

	virtio_reset(vd);
	uint8_t *ram = gm_ptr(&gm, 0, RAM);
	memset(ram, 0, RAM);

	/* A well-behaved driver's setup... */
	uint64_t f = (1ULL << VIRTIO_F_VERSION_1) | (data[0] & 2 ? 1ULL << VIRTIO_F_EVENT_IDX : 0) |
		     (data[0] & 4 ? 1ULL << VIRTIO_F_INDIRECT_DESC : 0) | (1ULL << 9) | (1ULL << 13);
	w(vd, 0x14, 1, 3);
	w(vd, 0x08, 4, 0);
	w(vd, 0x0c, 4, (uint32_t)f);
	w(vd, 0x08, 4, 1);
	w(vd, 0x0c, 4, (uint32_t)(f >> 32));
	w(vd, 0x14, 1, 0xb);
	w(vd, 0x16, 2, 0);
	w(vd, 0x18, 2, qsize);
	w(vd, 0x20, 8, DESC);
	w(vd, 0x28, 8, AVAIL);
	w(vd, 0x30, 8, USED);
	w(vd, 0x1c, 2, 1);
	if (is_net || is_vsock) {
		w(vd, 0x16, 2, 1);
		w(vd, 0x18, 2, qsize);
		w(vd, 0x20, 8, Q1);
		w(vd, 0x28, 8, Q1 + 0x100);
		w(vd, 0x30, 8, Q1 + 0x200);
		w(vd, 0x1c, 2, 1);
	}
	w(vd, 0x14, 1, 0xf);
	/* ...then whatever the input says. */
	for (unsigned i = 0; i < nops && pos + 8 <= size; i++, pos += 8) {
		uint16_t off = (uint16_t)(data[pos] | data[pos + 1] << 8);
		unsigned sz = 1u << (data[pos + 2] % 4);
		uint32_t v;
		memcpy(&v, data + pos + 4, 4);
		if (data[pos + 3] & 1)
			(void)virtio_bar0_read(vd, off % VIRTIO_BAR0_SIZE, sz);
		else
			w(vd, off % VIRTIO_BAR0_SIZE, sz, v);
	}
	size_t n = size - pos < RAM ? size - pos : RAM;
	memcpy(ram, data + pos, n);

	for (int round = 0; round < 2; round++) {
		w(vd, VIRTIO_NOTIFY_OFF, 2, 0);
		if (is_net || is_vsock) {
			w(vd, VIRTIO_NOTIFY_OFF + VIRTIO_NOTIFY_MULT, 2, 1);
			if (is_net)
				virtio_net_poll(net);
			else
				virtio_vsock_poll(vsock);
			continue;
		}
		virtio_process_notifications(vd);
		if (!is_rng)
			virtio_blk_poll(blk);
	}
	if (is_vsock) {
		virtio_reset(vd); /* closes its connections */
		drain_port5();
	}
	return 0;
}
