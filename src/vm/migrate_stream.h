/* SPDX-License-Identifier: MIT */
/*
 * The live-migration stream (docs/migration.md has the byte layout): a
 * header (magic, version, RAM size), then records — runs of pages, runs
 * of pages that now read as zero, the machine's vmstate (the snapshot
 * format, checksummed), the end — and the short handshake by which the
 * target says it is built and then running.
 *
 * The receiver treats every byte as hostile: mig_recv checks each record
 * type, page index and count (overflow-safe, within RAM), each length
 * against its limit, the order (nothing after the state but the end; the
 * end only after the state) and hands the state to vmstate_parse, whose
 * checks (magic, version, checksum, sections) follow. A failure is one
 * line in err; the guest RAM made so far is freed.
 *
 * Pages may come compressed (a zstd frame per run, when the header's
 * flag says so): a frame must decompress to exactly the run's pages.
 *
 * Version 2 puts the guest's CPU features first, before any page: the
 * target checks them against what it can give (a gate the caller
 * passes) and answers accept or refuse at once, so a source whose guest
 * the target could not run learns it before it pauses anything.
 *
 * Version 3 follows them with the machine record (the vmstate's config
 * and CPU-feature sections, the snapshot format): the target builds its
 * whole machine from it before it answers, so that after the end record
 * only the device and CPU state is left to load; and a sync record the
 * source sends before it pauses, answered once the target has read
 * everything before it (no backlog of pages inside the downtime).
 * Receiving is split for that (mig_recv_open, mig_recv_answer,
 * mig_recv_rest); mig_recv does it all at once into fresh RAM.
 *
 * Endpoints: "unix:PATH" or "tcp:A.B.C.D:PORT" (numeric IPv4). Plain TCP
 * is refused to or on an address outside 127.0.0.0/8 unless insecure:
 * guest memory would cross the network unencrypted. With TLS
 * (migrate_tls.h) any address is accepted.
 *
 * Threads: plain functions; one stream per thread.
 */
#ifndef VMON_VM_MIGRATE_STREAM_H
#define VMON_VM_MIGRATE_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/guest_mem.h"
#include "cpu/cpu_model.h"
#include "vm/migrate_tls.h"
#include "vm/vmstate.h"

#define MIG_MAGIC	      "VMONMIGR"
#define MIG_VERSION	      3 /* what the source writes; the target reads 1 to 3 */
#define MIG_VERSION_CPU	      2 /* from this version on, the CPU record comes first */
#define MIG_VERSION_EARLY     3 /* from this version on, the machine record and sync */
#define MIG_HEADER_BYTES      24
#define MIG_MAX_RUN	      256	   /* pages in one PAGES record (1 MiB) */
#define MIG_MAX_ZERO_RUN      (1u << 20)   /* pages in one ZERO record (4 GiB) */
#define MIG_MAX_RAM	      (1ULL << 40) /* what a stream may ask the target for */
#define MIG_MAX_CPU_BYTES     4096	   /* the CPU record's feature names */
#define MIG_MAX_MACHINE_BYTES (1u << 20)   /* the machine record's vmstate */

enum mig_record {
	MIG_REC_PAGES = 1,	/* u64 first page, u32 count, count pages */
	MIG_REC_ZERO = 2,	/* u64 first page, u32 count: these pages are zero now */
	MIG_REC_STATE = 3,	/* u32 length, a vmstate file's bytes */
	MIG_REC_END = 4,	/* nothing follows but the handshake */
	MIG_REC_PAGES_ZSTD = 5, /* u64 first page, u32 count, u32 bytes, a zstd frame */
	MIG_REC_CPU = 6,	/* u32 length, the guest's CPU feature names (v2: first) */
	MIG_REC_MACHINE = 7,	/* u32 length, a vmstate: config and cpuid (v3: second) */
	MIG_REC_SYNC = 8,	/* nothing; the target answers MIG_ACK_SYNCED (v3) */
};

/* Header flags. */
#define MIG_FLAG_ZSTD 0x1u /* the stream may hold MIG_REC_PAGES_ZSTD records */

/* The target's answer to MIG_REC_CPU: accept, or MIG_ACK_FAILED and a
 * line (the source resumes: it had not paused). */
#define MIG_ACK_ACCEPT 'A'
/* The target's answer to MIG_REC_SYNC: every record before it was read. */
#define MIG_ACK_SYNCED 'K'

/* The handshake after MIG_REC_END, one byte each way. */
#define MIG_ACK_READY	'R' /* target: the VM is built, waiting for GO */
#define MIG_ACK_FAILED	'E' /* target: it could not be built (a line of text follows) */
#define MIG_ACK_GO	'G' /* source: its VM is stopped for good; run */
#define MIG_ACK_RUNNING 'S' /* target: the guest runs */

/* Where bytes come from: read exactly n bytes; 0, or -1 at the end of
 * the stream or on an error (with err). write (NULL: answers are
 * dropped) sends the target's answer to the CPU record back. */
struct mig_source {
	int (*read)(void *opaque, void *buf, size_t n, struct vmon_error *err);
	int (*write)(void *opaque, const void *buf, size_t n, struct vmon_error *err);
	void *opaque;
};

/* The target's early check of the guest's CPU features (a v2 stream's
 * first record): 0 to accept, or -1 with err saying why it cannot give
 * them. NULL gate: every set is accepted (the restore checks again). */
struct mig_cpu_gate {
	int (*check)(void *opaque, const struct cpu_featureset *guest, struct vmon_error *err);
	void *opaque;
};

/* The receiver's state between the steps below (opaque). */
struct mig_rx;

/* Reads the stream's opening: the header, a v2+ stream's CPU record
 * (through gate; a refusal is answered at once and ends the stream, with
 * *refused set if refused is not NULL), and a v3 stream's machine record
 * into *machine (parsed by vmstate_parse: its CPU features must be the CPU
 * record's). A v1 or v2 stream's acceptance is answered here too;
 * machine is then left empty (nsections 0). Returns 0 with *out, or -1
 * with one line in err (nothing left allocated). */
__attribute__((warn_unused_result)) int
mig_recv_open(struct mig_rx **out, const struct mig_source *src, const struct mig_cpu_gate *gate,
	      uint64_t max_ram, struct vmstate *machine, bool *refused, struct vmon_error *err);
/* The guest RAM's size the header announced; the stream's version. */
uint64_t mig_rx_ram(const struct mig_rx *x);
uint32_t mig_rx_version(const struct mig_rx *x);
/* A v3 stream's answer to its CPU and machine records, once the target
 * built the machine: accepted (why NULL) or refused with why (a line).
 * Nothing for older versions (mig_recv_open answered). */
bool mig_recv_answer(struct mig_rx *x, const char *why); /* false: answered before */
/* The records after the opening, up to the end: pages into mem (of
 * mig_rx_ram bytes, all zero but what this stream writes: a page the
 * stream never sent is not touched), the state into *st (vmstate_parse'd,
 * its RAM size the header's). A sync record is answered. Returns 0, or
 * -1 with one line in err (st left empty). Counts the pages received in
 * *pages if not NULL. */
__attribute__((warn_unused_result)) int mig_recv_rest(struct mig_rx *x, struct guest_mem *mem,
						      struct vmstate *st, uint64_t *pages,
						      struct vmon_error *err);
void mig_rx_free(struct mig_rx *x);

/* All of it at once (fuzzing, tests): the opening, a v3 stream accepted
 * with its machine record dropped, the rest into RAM made here
 * (*mem, max_ram bytes at most) and *st. Returns 0, or -1 with one line
 * in err (nothing left allocated). */
__attribute__((warn_unused_result)) int mig_recv(const struct mig_source *src,
						 const struct mig_cpu_gate *gate,
						 struct guest_mem *mem, struct vmstate *st,
						 uint64_t max_ram, uint64_t *pages, bool *refused,
						 struct vmon_error *err);

/* ---- Sending ---- */
void mig_put_header(uint8_t out[MIG_HEADER_BYTES], uint64_t ram_bytes, uint32_t flags);
/* The CPU record for features f into out (at most cap bytes); returns
 * its length, or 0 if it does not fit. */
size_t mig_put_cpu(uint8_t *out, size_t cap, const struct cpu_featureset *f);
/* The machine record's head (type and length) for a vmstate of len
 * bytes (its checksum included). */
void mig_put_machine_head(uint8_t out[8], uint32_t len);

/* ---- Endpoints ---- */
struct mig_endpoint {
	bool is_unix;
	char path[108];	  /* unix */
	uint32_t addr_be; /* tcp: IPv4, network order */
	uint16_t port;	  /* tcp: host order */
};

/* How a target waits for a stream (PUT /migrate/incoming; `vmon run
 * --incoming` has the same as options). */
struct mig_incoming_params {
	char url[160]; /* as given, for messages */
	struct mig_endpoint ep;
	struct mig_tls_files tls; /* all empty: plain */
	char cpu_limit[128];	  /* the most it accepts (--cpu-features); "": no limit */
};

/* Parses "unix:PATH" or "tcp:ADDR:PORT"; what names the option in
 * messages. Refuses non-loopback TCP unless insecure (which the callers
 * also set when the stream is TLS). */
__attribute__((warn_unused_result)) int mig_endpoint_parse(const char *spec, bool insecure,
							   const char *what,
							   struct mig_endpoint *out,
							   struct vmon_error *err);
/* A connected socket to ep, or -1 with err. */
int mig_connect(const struct mig_endpoint *ep, struct vmon_error *err);
/* Listens on ep and accepts one connection (the listening socket, and a
 * unix socket's file, are gone after). Returns the fd or -1 with err. */
int mig_accept(const struct mig_endpoint *ep, struct vmon_error *err);
/* The same in two steps: a listening socket (-1 with err), then one
 * connection accepted on it (lfd closed, a unix socket's file removed). */
int mig_listen(const struct mig_endpoint *ep, struct vmon_error *err);
int mig_accept_on(int lfd, const struct mig_endpoint *ep, struct vmon_error *err);

/* The target's side of the handshake, once the stream was read: refuse
 * (the VM could not be built: the source resumes its VM; why goes to the
 * source's log), or say it is ready and wait for the source's go.
 * Returns 0 (run the guest: say so with migrate_incoming_running right
 * before it runs, the end of the source's downtime figure), or -1 with
 * err (the source went away or cancelled: do not run it; the
 * connection is closed). */
void migrate_incoming_refuse(struct mig_conn *c, const char *why);
__attribute__((warn_unused_result)) int migrate_incoming_handshake(struct mig_conn *c,
								   struct vmon_error *err);
/* Says RUNNING and closes the connection. */
void migrate_incoming_running(struct mig_conn *c);

#endif
