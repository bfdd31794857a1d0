/* SPDX-License-Identifier: MIT */
/* Parsing of --net values; see net_backend.h. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/net_backend.h"

int pollvec_add(struct pollvec *pv, int fd, short events)
{
	if (pv->n == pv->cap) {
		int cap = pv->cap ? 2 * pv->cap : 16;
		struct pollfd *p = realloc(pv->fds, (size_t)cap * sizeof(*p));
		if (!p)
			return -1;
		pv->fds = p;
		pv->cap = cap;
	}
	pv->fds[pv->n] = (struct pollfd){.fd = fd, .events = events};
	return pv->n++;
}

static int parse_port(const char *s, size_t len, uint16_t *out)
{
	if (len == 0 || len > 5)
		return -1;
	unsigned v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

/* "[ADDR]:PORT" with an optional IPv4 address. */
static int parse_addr_port(const char *s, size_t len, struct in_addr def, struct in_addr *addr,
			   uint16_t *port)
{
	const char *colon = memchr(s, ':', len);
	if (!colon)
		return -1;
	size_t alen = (size_t)(colon - s);
	*addr = def;
	if (alen) {
		char a[INET_ADDRSTRLEN];
		if (alen >= sizeof(a))
			return -1;
		memcpy(a, s, alen);
		a[alen] = 0;
		if (inet_pton(AF_INET, a, addr) != 1)
			return -1;
	}
	return parse_port(colon + 1, len - alen - 1, port);
}

/* tcp|udp:[HADDR]:HPORT-[GADDR]:GPORT */
static int parse_hostfwd(const char *v, struct net_hostfwd *f)
{
	memset(f, 0, sizeof(*f));
	if (strncmp(v, "tcp:", 4) == 0)
		f->udp = false;
	else if (strncmp(v, "udp:", 4) == 0)
		f->udp = true;
	else
		return -1;
	v += 4;
	const char *dash = strchr(v, '-');
	if (!dash)
		return -1;
	struct in_addr any = {.s_addr = htonl(INADDR_ANY)};
	struct in_addr guest = {.s_addr = htonl(0x0a00020f)}; /* 10.0.2.15 */
	if (parse_addr_port(v, (size_t)(dash - v), any, &f->host_addr, &f->host_port) < 0 ||
	    parse_addr_port(dash + 1, strlen(dash + 1), guest, &f->guest_addr, &f->guest_port) < 0)
		return -1;
	return 0;
}

static int parse_mac(const char *s, uint8_t mac[6])
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

int net_spec_parse(const char *arg, struct net_spec *out, struct vmon_error *err)
{
	memset(out, 0, sizeof(*out));
	char buf[512];
	if (strlen(arg) >= sizeof(buf))
		return err_setf(err, "--net: value too long");
	strcpy(buf, arg);
	char *opt = strchr(buf, ',');
	if (opt)
		*opt++ = 0;
	if (strncmp(buf, "tap:", 4) == 0) {
		const char *name = buf + 4;
		if (!*name || strlen(name) >= IFNAMSIZ || strchr(name, '/'))
			return err_setf(err,
					"--net: '%s' is not an interface name (1 to %d characters)",
					name, IFNAMSIZ - 1);
		out->kind = NET_TAP;
		strcpy(out->ifname, name);
	} else if (strcmp(buf, "user") == 0) {
		out->kind = NET_USER;
	} else {
		return err_setf(err, "--net: unknown kind '%s' in '%s' (use tap:IFNAME or user)",
				buf, arg);
	}
	while (opt) {
		char *next = strchr(opt, ',');
		if (next)
			*next++ = 0;
		if (strncmp(opt, "mac=", 4) == 0) {
			if (parse_mac(opt + 4, out->mac) < 0)
				return err_setf(err,
						"--net: bad MAC address '%s' (want a unicast "
						"XX:XX:XX:XX:XX:XX)",
						opt + 4);
			out->has_mac = true;
		} else if (strncmp(opt, "hostfwd=", 8) == 0 && out->kind == NET_USER) {
			if (out->nfwd == NET_MAX_HOSTFWD)
				return err_setf(err, "--net: at most %d hostfwd", NET_MAX_HOSTFWD);
			if (parse_hostfwd(opt + 8, &out->fwd[out->nfwd]) < 0)
				return err_setf(err,
						"--net: bad hostfwd '%s' (want tcp|udp:[HOSTADDR]:"
						"HOSTPORT-[GUESTADDR]:GUESTPORT)",
						opt + 8);
			out->nfwd++;
		} else if (strncmp(opt, "host-loopback=", 14) == 0 && out->kind == NET_USER) {
			if (strcmp(opt + 14, "on") == 0)
				out->no_host_loopback = false;
			else if (strcmp(opt + 14, "off") == 0)
				out->no_host_loopback = true;
			else
				return err_setf(err, "--net: host-loopback='%s' is not on or off",
						opt + 14);
		} else {
			return err_setf(err, "--net: unknown suboption '%s' in '%s'", opt, arg);
		}
		opt = next;
	}
	return 0;
}
