/* SPDX-License-Identifier: MIT */
/* virtio-balloon driven by hand through its PCI registers: inflate gives
 * pages back (they read zeros), counts a page once, refuses PFNs outside
 * RAM; deflate only counts pages that were inflated; free page reporting
 * discards only the whole pages of each range; stats are kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/guest_mem.h"
#include "devices/virtio/virtio_balloon.h"
#include "devices/virtio/virtio_pci.h"
#include "virtq_driver.h"

#define MiB (1ULL << 20)

static uint16_t used_idx(const uint8_t *ram, uint64_t base)
{
	uint16_t v;
	memcpy(&v, ram + base + 0x202, 2);
	return v;
}

static void run(struct virtio_device *vd, unsigned q)
{
	virtio_kick(vd, q);
	virtio_process_notifications(vd);
}

static void balloon_queues(void **state)
{
	struct guest_mem gm;
	struct vmon_error err;
	assert_int_equal(gm_create(&gm, 16 * MiB, &err), 0);
	uint8_t *ram = gm_ptr(&gm, 0, 16 * MiB);
	struct virtio_balloon *b;
	const struct virtio_balloon_spec spec = {.target_pages = 3, .free_page_reporting = true};
	assert_int_equal(virtio_balloon_create(&b, &spec, &gm, NULL, NULL, NULL, &err), 0);
	struct virtio_device *vd = virtio_balloon_transport(b);
	assert_int_equal(virtio_bar0_read(vd, VIRTIO_DEVCFG_OFF, 4), 3); /* num_pages */
	virtio_bar0_write(vd, 0x14, 1, 3);
	virtio_bar0_write(vd, 0x08, 4, 0);
	virtio_bar0_write(vd, 0x0c, 4, 0x22); /* STATS_VQ, REPORTING */
	virtio_bar0_write(vd, 0x08, 4, 1);
	virtio_bar0_write(vd, 0x0c, 4, 1); /* VERSION_1 */
	virtio_bar0_write(vd, 0x14, 1, 0xb);
	for (unsigned q = 0; q < 4; q++)
		vq_setup(vd, q, 0x1000 * (q + 1));
	virtio_bar0_write(vd, 0x14, 1, 0xf);

	/* Inflate: two pages, one twice, one PFN past RAM, one in the hole. */
	memset(ram + 0x200000, 0xab, 0x3000);
	const uint32_t pfns[] = {0x200, 0x201, 0x200, 0x1000, 0xfee00};
	memcpy(ram + 0x10000, pfns, sizeof(pfns));
	vq_put_desc(ram, 0x1000, 0, 0x10000, sizeof(pfns), 0);
	vq_post(ram, 0x1100, 0);
	run(vd, 0);
	assert_int_equal(used_idx(ram, 0x1000), 1);
	struct balloon_stats st;
	virtio_balloon_get_stats(b, &st);
	assert_int_equal(st.actual_pages, 2);
	assert_int_equal(st.target_pages, 3);
	assert_int_equal(ram[0x200000], 0);
	assert_int_equal(ram[0x201fff], 0);
	assert_int_equal(ram[0x202000], 0xab);
	assert_int_equal(virtio_bar0_read(vd, VIRTIO_DEVCFG_OFF + 4, 4), 2); /* actual */

	/* Deflate: one inflated page and one that never was. */
	const uint32_t back[] = {0x201, 0x300};
	memcpy(ram + 0x11000, back, sizeof(back));
	vq_put_desc(ram, 0x2000, 0, 0x11000, sizeof(back), 0);
	vq_post(ram, 0x2100, 0);
	run(vd, 1);
	assert_int_equal(used_idx(ram, 0x2000), 1);
	virtio_balloon_get_stats(b, &st);
	assert_int_equal(st.actual_pages, 1);

	/* Reporting: whole pages only. */
	memset(ram + 0x300000, 0xcd, 0x4000);
	memset(ram + 0x400000, 0xcd, 0x2000);
	vq_put_desc(ram, 0x4000, 0, 0x300000, 0x3000, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT);
	memcpy(ram + 0x4000 + 14, &(uint16_t){1}, 2);
	vq_put_desc(ram, 0x4000, 1, 0x400800, 0x1000, VIRTQ_DESC_F_WRITE);
	vq_post(ram, 0x4100, 0);
	run(vd, 3);
	assert_int_equal(used_idx(ram, 0x4000), 1);
	assert_int_equal(ram[0x300000], 0);
	assert_int_equal(ram[0x302fff], 0);
	assert_int_equal(ram[0x303000], 0xcd);
	assert_int_equal(ram[0x400800], 0xcd); /* no whole page in that range */

	/* Stats: the buffer is kept, its values read. */
	uint8_t s[20] = {4,  0, 0x39, 0x30, 0, 0, 0, 0, 0, 0,  /* free_memory 12345 */
			 99, 0, 1,    0,    0, 0, 0, 0, 0, 0}; /* an unknown tag */
	memcpy(ram + 0x12000, s, sizeof(s));
	vq_put_desc(ram, 0x3000, 0, 0x12000, sizeof(s), 0);
	vq_post(ram, 0x3100, 0);
	run(vd, 2);
	assert_int_equal(used_idx(ram, 0x3000), 0);
	virtio_balloon_get_stats(b, &st);
	assert_true(st.have[4]);
	assert_int_equal(st.val[4], 12345);
	assert_false(st.have[5]);

	/* A new target reaches the config. */
	virtio_balloon_set_target(b, 7);
	assert_int_equal(virtio_bar0_read(vd, VIRTIO_DEVCFG_OFF, 4), 7);

	virtio_balloon_destroy(b);
	gm_destroy(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(balloon_queues),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
