/* SPDX-License-Identifier: MIT */
/*
 * iobench: block I/O throughput on a file or block device, the same program
 * inside vmon's Linux guest and on the host (bench/bench.py compares them).
 *
 *   iobench [-b BS] [-n OPS] [-t SECONDS] [-s SPAN] [-B] OP FILE
 *
 * OP is seqread, seqwrite, randread or randwrite. Requests are BS bytes
 * (default 4096) with O_DIRECT (-B: through the page cache), one at a time
 * (queue depth 1), at BS-aligned offsets inside the first SPAN bytes of
 * FILE (default: its size); sequential ones wrap around. It stops after
 * OPS requests or SECONDS seconds, whichever comes first (default 1000000
 * and 10). Writes end with fdatasync, inside the timed span. Prints one line:
 *
 *   iobench op=OP bs=BS ops=N bytes=B secs=S MiBps=X iops=Y
 *
 * Time is CLOCK_MONOTONIC. Exit status 1 on any error.
 */
#define _GNU_SOURCE /* O_DIRECT */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void usage(void)
{
	fprintf(stderr, "usage: iobench [-b BS] [-n OPS] [-t SECONDS] [-s SPAN] [-B] "
			"seqread|seqwrite|randread|randwrite FILE\n");
	exit(1);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long long num(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *s == 0)
		usage();
	switch (*end) {
	case 0: break;
	case 'k':
	case 'K': v <<= 10; break;
	case 'm':
	case 'M': v <<= 20; break;
	case 'g':
	case 'G': v <<= 30; break;
	default: usage();
	}
	return v;
}

int main(int argc, char **argv)
{
	unsigned long long bs = 4096, max_ops = 1000000, span = 0;
	double max_secs = 10;
	bool direct = true;
	int opt;
	while ((opt = getopt(argc, argv, "b:n:t:s:B")) != -1) {
		switch (opt) {
		case 'b': bs = num(optarg); break;
		case 'n': max_ops = num(optarg); break;
		case 't': max_secs = atof(optarg); break;
		case 's': span = num(optarg); break;
		case 'B': direct = false; break;
		default: usage();
		}
	}
	if (argc - optind != 2 || bs == 0 || bs % 512)
		usage();
	const char *op = argv[optind], *path = argv[optind + 1];
	bool write_op, random_op;
	if (!strcmp(op, "seqread"))
		write_op = false, random_op = false;
	else if (!strcmp(op, "seqwrite"))
		write_op = true, random_op = false;
	else if (!strcmp(op, "randread"))
		write_op = false, random_op = true;
	else if (!strcmp(op, "randwrite"))
		write_op = true, random_op = true;
	else
		usage();

	int fd = open(path, (write_op ? O_RDWR : O_RDONLY) | (direct ? O_DIRECT : 0));
	if (fd < 0) {
		fprintf(stderr, "iobench: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (!span) {
		struct stat st;
		uint64_t size = 0;
		if (fstat(fd, &st) < 0)
			return perror("iobench: fstat"), 1;
		if (S_ISBLK(st.st_mode)) {
			if (ioctl(fd, BLKGETSIZE64, &size) < 0)
				return perror("iobench: BLKGETSIZE64"), 1;
		} else {
			size = (uint64_t)st.st_size;
		}
		span = size;
	}
	const unsigned long long blocks = span / bs;
	if (blocks == 0) {
		fprintf(stderr, "iobench: %s: smaller than one %llu-byte block\n", path, bs);
		return 1;
	}
	void *buf;
	if (posix_memalign(&buf, 4096, bs))
		return fprintf(stderr, "iobench: out of memory\n"), 1;
	for (unsigned long long i = 0; i < bs; i++)
		((uint8_t *)buf)[i] = (uint8_t)(i * 131 + 7);

	uint64_t x = 0x243f6a8885a308d3ull;
	unsigned long long ops = 0, next = 0;
	double t0 = now(), t = t0;
	while (ops < max_ops && t - t0 < max_secs) {
		unsigned long long blk;
		if (random_op) {
			x ^= x >> 12;
			x ^= x << 25;
			x ^= x >> 27;
			blk = (x * 0x2545f4914f6cdd1dull) % blocks;
		} else {
			blk = next;
			next = next + 1 == blocks ? 0 : next + 1;
		}
		off_t off = (off_t)(blk * bs);
		ssize_t k = write_op ? pwrite(fd, buf, bs, off) : pread(fd, buf, bs, off);
		if (k != (ssize_t)bs) {
			fprintf(stderr, "iobench: %s at %lld: %s\n", write_op ? "write" : "read",
				(long long)off, k < 0 ? strerror(errno) : "short transfer");
			return 1;
		}
		ops++;
		if ((ops & 15) == 0 || random_op || bs >= 65536)
			t = now();
	}
	if (write_op && fdatasync(fd) < 0)
		return perror("iobench: fdatasync"), 1;
	double secs = now() - t0;
	double bytes = (double)ops * (double)bs;
	printf("iobench op=%s bs=%llu ops=%llu bytes=%.0f secs=%.3f MiBps=%.2f iops=%.1f\n", op, bs,
	       ops, bytes, secs, bytes / secs / 1048576.0, (double)ops / secs);
	return 0;
}
