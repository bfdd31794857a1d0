/* SPDX-License-Identifier: MIT */
/*
 * The option grammars of vmon's command line: device specs as the user
 * writes them ("file:PATH", "tap:IFNAME,mac=...", "3,unix:PATH"), parsed
 * into the typed specs the devices take. Only the command line speaks
 * these; the config file and the API use JSON objects (src/api).
 *
 * Each parser returns 0, or -1 with one line in err naming the option
 * and the value.
 */
#ifndef VMON_CLI_SPECS_H
#define VMON_CLI_SPECS_H

#include "core/chardev.h"
#include "core/error.h"
#include "devices/virtio/net_backend.h"
#include "devices/virtio/virtio_vsock.h"

/* "stdio", "file:PATH" or "unix:PATH". Anything else (including an empty
 * PATH, or a unix PATH too long for sockaddr_un) fails. */
__attribute__((warn_unused_result)) int chardev_parse(const char *spec, struct chardev_spec *out,
						      struct vmon_error *err);

/* A --net value:
 *   tap:IFNAME                 IFNAME 1..15 characters
 *   user                       NAT through libslirp, guest 10.0.2.15/24,
 *                              gateway/host 10.0.2.2, DNS 10.0.2.3
 *   hostfwd=tcp|udp:[HADDR]:HPORT-[GADDR]:GPORT   (user only, up to 8)
 *   host-loopback=on|off       (user only) off: 10.0.2.2 no longer
 *                              reaches the host's 127.0.0.1
 *   mac=XX:XX:XX:XX:XX:XX      unicast */
__attribute__((warn_unused_result)) int net_spec_parse(const char *arg, struct net_spec *out,
						       struct vmon_error *err);

/* "CID,unix:PATH" (CID 3 .. 0xfffffffe; PATH at most VSOCK_PATH_MAX
 * bytes). */
__attribute__((warn_unused_result)) int vsock_spec_parse(const char *arg, struct vsock_spec *out,
							 struct vmon_error *err);

#endif
