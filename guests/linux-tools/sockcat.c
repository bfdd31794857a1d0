/* SPDX-License-Identifier: MIT */
/*
 * sockcat: a small netcat for vmon's Linux-guest tests (busybox has no
 * vsock). One stream connection, TCP or AF_VSOCK, either end:
 *
 *   sockcat [-e] [-z BYTES] [-d] tcp-connect IPV4-ADDRESS PORT
 *   sockcat [-e] [-z BYTES] [-d] tcp-listen PORT
 *   sockcat [-e] [-z BYTES] [-d] vsock-connect CID PORT
 *   sockcat [-e] [-z BYTES] [-d] vsock-listen PORT
 *
 * By default stdin goes to the peer and the peer's data to stdout; at
 * stdin's end the sending side is shut down (half-close); sockcat exits
 * once both directions have ended (so stdin must end too: redirect it). -e echoes the peer's data
 * back to it instead; -z sends BYTES zero bytes instead of stdin; -d discards what arrives. The
 * listen forms print "sockcat: listening on PORT" on stderr once they accept connections, serve one
 * connection and exit. At the end "sockcat: sent=N received=M" goes to stderr. Exit status 0 when
 * the connection ended cleanly, 1 on any error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF (256 * 1024)

static void die(const char *what)
{
	fprintf(stderr, "sockcat: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: sockcat [-e] [-z BYTES] [-d] tcp-connect HOST PORT | tcp-listen PORT"
		" | vsock-connect CID PORT | vsock-listen PORT\n");
	exit(1);
}

static unsigned long num(const char *s)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 0);
	if (errno || *s == 0 || *end)
		usage();
	return v;
}

static int listen_accept(int fd, const struct sockaddr *sa, socklen_t len, unsigned long port)
{
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, sa, len) < 0)
		die("bind");
	if (listen(fd, 1) < 0)
		die("listen");
	fprintf(stderr, "sockcat: listening on %lu\n", port);
	int c = accept(fd, NULL, NULL);
	if (c < 0)
		die("accept");
	close(fd);
	return c;
}

static int open_conn(char **argv, int argc)
{
	const char *mode = argv[0];
	if (!strcmp(mode, "tcp-connect") && argc == 3) {
		/* Numeric addresses only: a static binary has no resolver. */
		struct sockaddr_in sa = {.sin_family = AF_INET,
					 .sin_port = htons((uint16_t)num(argv[2]))};
		if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
			fprintf(stderr, "sockcat: %s: not an IPv4 address\n", argv[1]);
			exit(1);
		}
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			die("socket");
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			die("connect");
		return fd;
	}
	if (!strcmp(mode, "tcp-listen") && argc == 2) {
		unsigned long port = num(argv[1]);
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			die("socket");
		return listen_accept(fd, (struct sockaddr *)&sa, sizeof(sa), port);
	}
	if (!strcmp(mode, "vsock-connect") && argc == 3) {
		struct sockaddr_vm sa = {.svm_family = AF_VSOCK,
					 .svm_cid = (unsigned)num(argv[1]),
					 .svm_port = (unsigned)num(argv[2])};
		int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (fd < 0)
			die("socket(AF_VSOCK)");
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			die("connect");
		return fd;
	}
	if (!strcmp(mode, "vsock-listen") && argc == 2) {
		unsigned long port = num(argv[1]);
		struct sockaddr_vm sa = {.svm_family = AF_VSOCK,
					 .svm_cid = VMADDR_CID_ANY,
					 .svm_port = (unsigned)port};
		int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (fd < 0)
			die("socket(AF_VSOCK)");
		return listen_accept(fd, (struct sockaddr *)&sa, sizeof(sa), port);
	}
	usage();
	return -1;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			die("write");
		p += k;
		n -= (size_t)k;
	}
}

int main(int argc, char **argv)
{
	bool echo = false, discard = false, zero = false;
	unsigned long long zleft = 0;
	int opt;
	while ((opt = getopt(argc, argv, "+edz:")) != -1) {
		switch (opt) {
		case 'e': echo = true; break;
		case 'd': discard = true; break;
		case 'z':
			zero = true;
			zleft = num(optarg);
			break;
		default: usage();
		}
	}
	if (optind >= argc)
		usage();
	signal(SIGPIPE, SIG_IGN);
	int s = open_conn(argv + optind, argc - optind);

	static char obuf[BUF], ibuf[BUF];
	size_t olen = 0, ooff = 0;     /* obuf[ooff, olen): still to send */
	bool in_open = !echo && !zero; /* reading stdin */
	bool wr_shut = false, sock_eof = false;
	unsigned long long sent = 0, received = 0;

	for (;;) {
		if (ooff == olen) {
			ooff = olen = 0;
			if (zero && zleft) {
				olen = zleft < BUF ? (size_t)zleft : BUF;
				memset(obuf, 0, olen);
				zleft -= olen;
			}
		}
		bool more_to_send =
			ooff < olen || in_open || (zero && zleft) || (echo && !sock_eof);
		if (!more_to_send && !wr_shut) {
			if (shutdown(s, SHUT_WR) < 0)
				die("shutdown");
			wr_shut = true;
		}
		if (sock_eof && wr_shut)
			break;

		struct pollfd p[2] = {{.fd = s}, {.fd = 0}};
		if (ooff < olen)
			p[0].events |= POLLOUT;
		/* Echo: take more from the peer only once the last is sent back. */
		if (!sock_eof && (!echo || ooff == olen))
			p[0].events |= POLLIN;
		int np = 1;
		if (in_open && ooff == olen) {
			p[1].events = POLLIN;
			np = 2;
		}
		if (poll(p, (nfds_t)np, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (p[0].revents & POLLOUT) {
			ssize_t k = send(s, obuf + ooff, olen - ooff, MSG_DONTWAIT);
			if (k < 0 && errno != EAGAIN && errno != EINTR)
				die("send");
			if (k > 0) {
				ooff += (size_t)k;
				sent += (unsigned long long)k;
			}
		}
		if ((p[0].events & POLLIN) && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			char *dst = echo ? obuf : ibuf;
			ssize_t k = recv(s, dst, BUF, MSG_DONTWAIT);
			if (k < 0 && errno != EAGAIN && errno != EINTR)
				die("recv");
			if (k == 0)
				sock_eof = true;
			if (k > 0) {
				received += (unsigned long long)k;
				if (echo) {
					ooff = 0;
					olen = (size_t)k;
				} else if (!discard) {
					write_all(1, ibuf, (size_t)k);
				}
			}
		}
		if (np == 2 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t k = read(0, obuf, BUF);
			if (k < 0 && errno != EINTR)
				die("read stdin");
			if (k == 0)
				in_open = false;
			if (k > 0) {
				ooff = 0;
				olen = (size_t)k;
			}
		}
	}
	close(s);
	fprintf(stderr, "sockcat: sent=%llu received=%llu\n", sent, received);
	return 0;
}
