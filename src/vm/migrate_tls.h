/* SPDX-License-Identifier: MIT */
/*
 * The migration stream's transport (docs/migration.md, "TLS"): a
 * connected socket, either plain or wrapped in TLS (GnuTLS) with mutual
 * X.509 authentication — each end presents its certificate and key, and
 * accepts the other's only if it chains to the CA file given; the source
 * also checks the target's name (a DNS name or an IP address in the
 * certificate) when one is given. Guest memory and the machine state then
 * cross the link encrypted and come only from, or go only to, a holder of
 * a certificate of that CA.
 *
 * Both sides read and write through a mig_conn, so the receiver's record
 * parser (mig_recv) sees the same mig_source whatever the transport (and
 * the fuzzer, which feeds it from memory, covers the parser either way).
 *
 * Files: the certificate, key and CA are read by mig_tls_load, before
 * any handshake: on the target before its seccomp filters exist, on the
 * source on the API thread that receives PUT /migrate (its allowlist has
 * openat/read), so a bad file is a 400 and the migration never starts.
 *
 * Threads: a mig_tls (credentials) is read-only once loaded and may be
 * shared; a mig_conn belongs to one thread, except mig_conn_abort, which
 * any thread may call to unblock it (it shuts the socket down).
 */
#ifndef VMON_VM_MIGRATE_TLS_H
#define VMON_VM_MIGRATE_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

#define MIG_TLS_PATH_MAX 1024
#define MIG_TLS_NAME_MAX 256

/* What the user gave: all three paths, or none (plain). */
struct mig_tls_files {
	char cert[MIG_TLS_PATH_MAX];	 /* this end's certificate (PEM; a chain may follow) */
	char key[MIG_TLS_PATH_MAX];	 /* its private key (PEM) */
	char ca[MIG_TLS_PATH_MAX];	 /* the CA(s) the peer's certificate must chain to */
	char hostname[MIG_TLS_NAME_MAX]; /* source only: the target's expected name, or "" */
};

/* True if any of cert/key/ca is set (then all three must be). */
bool mig_tls_wanted(const struct mig_tls_files *f);
/* Fills one of f's paths from an option's value (what names the option
 * in messages); refuses an empty or too long one. */
__attribute__((warn_unused_result)) int mig_tls_set(char *field, size_t cap, const char *value,
						    const char *what, struct vmon_error *err);
/* Refuses a partial set (say, a CA without a certificate) with one line
 * naming the options (--tls-cert) or, with api, the fields (tls_cert). */
__attribute__((warn_unused_result)) int mig_tls_check(const struct mig_tls_files *f, bool api,
						      struct vmon_error *err);

struct mig_tls;
/* Reads and checks the files (the key must match the certificate; the
 * CA file must hold at least one certificate). Returns 0 with *out, or
 * -1 with one line in err naming the file and why. */
__attribute__((warn_unused_result)) int
mig_tls_load(struct mig_tls **out, const struct mig_tls_files *f, struct vmon_error *err);
void mig_tls_free(struct mig_tls *t);

struct mig_conn {
	int fd;	       /* the socket; -1 once closed */
	void *session; /* gnutls_session_t, or NULL: plain */
	char peer[160];
};

/* Wraps a connected socket: with tls NULL, plain; else a TLS handshake
 * as client (source; hostname checked if not empty) or server (target),
 * both ends' certificates verified against tls's CA. On failure the
 * socket is closed and err says why in one line ("TLS handshake with
 * PEER: ..."). */
__attribute__((warn_unused_result)) int mig_conn_open(struct mig_conn *c, int fd,
						      const struct mig_tls *tls, bool server,
						      const char *hostname, const char *peer,
						      struct vmon_error *err);
/* Writes n bytes (blocking). 0, or -1 with the reason (a few words, no
 * peer named) in err. */
int mig_conn_write(struct mig_conn *c, const void *p, size_t n, struct vmon_error *err);
/* Reads exactly n bytes: 0, or -1 with err (the stream ended early, a
 * TLS error). A mig_source's read (opaque: the mig_conn). */
int mig_conn_read(void *opaque, void *buf, size_t n, struct vmon_error *err);
/* From any thread: unblocks a read or write in progress (shutdown). */
void mig_conn_abort(struct mig_conn *c);
/* Ends the TLS session (close_notify) if any and closes the socket. */
void mig_conn_close(struct mig_conn *c);

#endif
