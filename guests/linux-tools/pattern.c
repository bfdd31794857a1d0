/* SPDX-License-Identifier: MIT */
/*
 * pattern SEED BYTES: writes BYTES of deterministic pseudo-random data to
 * stdout (xorshift64*, one 64-bit word per 8 bytes, little-endian), so a
 * guest and the host can produce the same data from the same seed and
 * compare. Exit status 1 on a write error.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: pattern SEED BYTES\n");
		return 1;
	}
	uint64_t x = strtoull(argv[1], NULL, 0) * 0x9e3779b97f4a7c15ull + 1;
	unsigned long long left = strtoull(argv[2], NULL, 0);
	static uint8_t buf[1 << 16];
	while (left) {
		size_t n = left < sizeof(buf) ? (size_t)left : sizeof(buf);
		for (size_t i = 0; i < n; i += 8) {
			x ^= x >> 12;
			x ^= x << 25;
			x ^= x >> 27;
			uint64_t v = x * 0x2545f4914f6cdd1dull;
			uint8_t le[8];
			for (int j = 0; j < 8; j++)
				le[j] = (uint8_t)(v >> (8 * j));
			memcpy(buf + i, le, n - i < 8 ? n - i : 8);
		}
		for (size_t off = 0; off < n;) {
			ssize_t k = write(1, buf + off, n - off);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				fprintf(stderr, "pattern: write: %s\n", strerror(errno));
				return 1;
			}
			off += (size_t)k;
		}
		left -= n;
	}
	return 0;
}
