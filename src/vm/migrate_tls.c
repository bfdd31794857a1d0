/* SPDX-License-Identifier: MIT */
/*
 * The migration stream's transport, plain or TLS (migrate_tls.h).
 *
 * GnuTLS reads and writes the socket through our own functions (send
 * with MSG_NOSIGNAL, recv): a closed peer must be an error, never a
 * SIGPIPE, and the calls stay the few the threads' seccomp allowlists
 * name (src/core/seccomp_policy.c). The handshake never times out by
 * itself, as the plain stream never did: a cancel (mig_conn_abort) or the
 * peer going away ends it.
 */
#include "vm/migrate_tls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#define FILE_MAX (1u << 20) /* a PEM file larger than this is not one */

struct mig_tls {
	gnutls_certificate_credentials_t cred;
};

bool mig_tls_wanted(const struct mig_tls_files *f)
{
	return f->cert[0] || f->key[0] || f->ca[0];
}

int mig_tls_set(char *field, size_t cap, const char *value, const char *what,
		struct vmon_error *err)
{
	if (!value[0])
		return err_setf(err, "%s: empty", what);
	if (strlen(value) >= cap)
		return err_setf(err, "%s: too long (at most %zu bytes)", what, cap - 1);
	snprintf(field, cap, "%s", value);
	return 0;
}

int mig_tls_check(const struct mig_tls_files *f, bool api, struct vmon_error *err)
{
	/* The names the user wrote: options, or the API's fields. */
	const char *p = api ? "" : "--", *sep = api ? "_" : "-";
	if (!mig_tls_wanted(f)) {
		if (f->hostname[0])
			return err_setf(err,
					"%stls%shostname needs TLS (a certificate, key and CA)", p,
					sep);
		return 0;
	}
	if (!f->cert[0] || !f->key[0] || !f->ca[0])
		return err_setf(err,
				"TLS needs all three of %stls%scert, %stls%skey and %stls%sca "
				"(%stls%s%s is missing)",
				p, sep, p, sep, p, sep, p, sep,
				!f->cert[0]  ? "cert"
				: !f->key[0] ? "key"
					     : "ca");
	return 0;
}

/* The whole file, read here (not by GnuTLS) so that a missing or
 * unreadable one is reported with the system's reason. */
static int read_file(const char *path, const char *what, gnutls_datum_t *out,
		     struct vmon_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_setf(err, "%s %s: %s", what, path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (uint64_t)st.st_size > FILE_MAX) {
		close(fd);
		return err_setf(err, "%s %s: not a PEM file (a regular file of 1 byte to 1 MiB)",
				what, path);
	}
	size_t n = (size_t)st.st_size, got = 0;
	unsigned char *buf = malloc(n + 1);
	if (!buf) {
		close(fd);
		return err_setf(err, "%s %s: out of memory", what, path);
	}
	while (got < n) {
		ssize_t k = read(fd, buf + got, n - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			int e = k < 0 ? errno : EIO;
			free(buf);
			close(fd);
			return err_setf(err, "%s %s: %s", what, path, strerror(e));
		}
		got += (size_t)k;
	}
	close(fd);
	buf[n] = 0;
	out->data = buf;
	out->size = (unsigned)n;
	return 0;
}

int mig_tls_load(struct mig_tls **out, const struct mig_tls_files *f, struct vmon_error *err)
{
	*out = NULL;
	gnutls_datum_t cert = {0}, key = {0}, ca = {0};
	struct mig_tls *t = calloc(1, sizeof(*t));
	int r = -1;
	if (!t)
		return err_setf(err, "out of memory");
	if (read_file(f->cert, "TLS certificate", &cert, err) < 0 ||
	    read_file(f->key, "TLS key", &key, err) < 0 || read_file(f->ca, "TLS CA", &ca, err) < 0)
		goto out;
	int g = gnutls_certificate_allocate_credentials(&t->cred);
	if (g < 0) {
		err_setf(err, "TLS: %s", gnutls_strerror(g));
		goto out;
	}
	g = gnutls_certificate_set_x509_trust_mem(t->cred, &ca, GNUTLS_X509_FMT_PEM);
	if (g <= 0) {
		err_setf(err, "TLS CA %s: %s", f->ca,
			 g == 0 ? "no certificate in it" : gnutls_strerror(g));
		goto out;
	}
	g = gnutls_certificate_set_x509_key_mem(t->cred, &cert, &key, GNUTLS_X509_FMT_PEM);
	if (g < 0) {
		err_setf(err, "TLS certificate %s with key %s: %s", f->cert, f->key,
			 gnutls_strerror(g));
		goto out;
	}
	*out = t;
	t = NULL;
	r = 0;
out:
	free(cert.data);
	if (key.data)
		memset(key.data, 0, key.size); /* the private key: no copy left behind */
	free(key.data);
	free(ca.data);
	mig_tls_free(t);
	return r;
}

void mig_tls_free(struct mig_tls *t)
{
	if (!t)
		return;
	if (t->cred)
		gnutls_certificate_free_credentials(t->cred);
	free(t);
}

/* ---- The socket under GnuTLS ---- */

static int fd_of(gnutls_transport_ptr_t p)
{
	return (int)(intptr_t)p;
}

static ssize_t tls_push(gnutls_transport_ptr_t p, const void *buf, size_t n)
{
	return send(fd_of(p), buf, n, MSG_NOSIGNAL);
}

static ssize_t tls_pull(gnutls_transport_ptr_t p, void *buf, size_t n)
{
	return recv(fd_of(p), buf, n, 0);
}

/* GnuTLS asks this only for a finite timeout, and vmon sets none (the
 * handshake and the records wait as long as the peer is there): "data
 * may be there", and the blocking recv that follows waits. No poll, so
 * no call outside the threads' allowlists. */
static int tls_pull_timeout(gnutls_transport_ptr_t p, unsigned int ms)
{
	(void)p;
	(void)ms;
	return 1;
}

/* Why a handshake failed, in words. */
static void handshake_error(gnutls_session_t s, int g, const char *peer, struct vmon_error *err)
{
	if (g == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
		gnutls_datum_t why = {0};
		unsigned status = gnutls_session_get_verify_cert_status(s);
		if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &why,
								 0) == 0) {
			size_t n = strlen((const char *)why.data);
			while (n && (why.data[n - 1] == ' ' || why.data[n - 1] == '.'))
				why.data[--n] = 0;
			err_setf(err, "TLS handshake with %s: its certificate was refused: %s",
				 peer, (const char *)why.data);
			gnutls_free(why.data);
			return;
		}
	}
	if (g == GNUTLS_E_FATAL_ALERT_RECEIVED) {
		const char *a = gnutls_alert_get_name(gnutls_alert_get(s));
		err_setf(err,
			 "TLS handshake with %s: it refused this end's certificate: %s (is it "
			 "signed by a CA the peer trusts, for the name it expects?)",
			 peer, a ? a : "alert");
		return;
	}
	if (g == GNUTLS_E_NO_CERTIFICATE_FOUND || g == GNUTLS_E_CERTIFICATE_REQUIRED)
		err_setf(err, "TLS handshake with %s: it presented no certificate", peer);
	else if (g == GNUTLS_E_PREMATURE_TERMINATION || g == GNUTLS_E_PULL_ERROR ||
		 g == GNUTLS_E_PUSH_ERROR)
		err_setf(err,
			 "TLS handshake with %s: the connection closed (it refused this end's "
			 "certificate, or went away)",
			 peer);
	else
		err_setf(err, "TLS handshake with %s: %s", peer, gnutls_strerror(g));
}

int mig_conn_open(struct mig_conn *c, int fd, const struct mig_tls *tls, bool server,
		  const char *hostname, const char *peer, struct vmon_error *err)
{
	c->fd = fd;
	c->session = NULL;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	if (!tls)
		return 0;
	gnutls_session_t s;
	int g = gnutls_init(&s, (server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NO_TICKETS);
	if (g < 0) {
		close(fd);
		c->fd = -1;
		return err_setf(err, "TLS: %s", gnutls_strerror(g));
	}
	/* The peer's certificate: chained to the CA, within its dates,
	 * meant for its side (TLS server or client) if it says, and, for
	 * the target when a name is given, bearing that name. (GnuTLS keeps
	 * the pointers: hostname outlives the session, the OIDs are
	 * constants.) */
	gnutls_typed_vdata_st vd[2];
	unsigned nvd = 0;
	if (!server && hostname && hostname[0])
		vd[nvd++] = (gnutls_typed_vdata_st){.type = GNUTLS_DT_DNS_HOSTNAME,
						    .data = (unsigned char *)(uintptr_t)hostname};
	vd[nvd++] = (gnutls_typed_vdata_st){
		.type = GNUTLS_DT_KEY_PURPOSE_OID,
		.data = (unsigned char *)(uintptr_t)(server ? GNUTLS_KP_TLS_WWW_CLIENT
							    : GNUTLS_KP_TLS_WWW_SERVER)};
	if ((g = gnutls_set_default_priority(s)) < 0 ||
	    (g = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, tls->cred)) < 0) {
		gnutls_deinit(s);
		close(fd);
		c->fd = -1;
		return err_setf(err, "TLS: %s", gnutls_strerror(g));
	}
	if (server) {
		gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
		/* No list of acceptable CAs: the source then sends its
		 * certificate whatever its CA, and a refusal names why
		 * ("issuer unknown") instead of "no certificate". */
		gnutls_certificate_send_x509_rdn_sequence(s, 1);
	}
	if (!server && hostname && hostname[0])
		(void)gnutls_server_name_set(s, GNUTLS_NAME_DNS, hostname, strlen(hostname));
	gnutls_session_set_verify_cert2(s, vd, nvd, 0);
	gnutls_transport_set_ptr(s, (gnutls_transport_ptr_t)(intptr_t)fd);
	gnutls_transport_set_push_function(s, tls_push);
	gnutls_transport_set_pull_function(s, tls_pull);
	gnutls_transport_set_pull_timeout_function(s, tls_pull_timeout);
	gnutls_handshake_set_timeout(s, GNUTLS_INDEFINITE_TIMEOUT);
	do
		g = gnutls_handshake(s);
	while (g < 0 && !gnutls_error_is_fatal(g));
	if (g < 0) {
		handshake_error(s, g, peer, err);
		/* Tells the peer why (a refused certificate: "bad
		 * certificate", "unknown CA"), so both ends can say it. */
		if (g != GNUTLS_E_FATAL_ALERT_RECEIVED && g != GNUTLS_E_PUSH_ERROR &&
		    g != GNUTLS_E_PULL_ERROR && g != GNUTLS_E_PREMATURE_TERMINATION)
			(void)gnutls_alert_send_appropriate(s, g);
		gnutls_deinit(s);
		close(fd);
		c->fd = -1;
		return -1;
	}
	c->session = s;
	return 0;
}

/* After a failed write: in TLS 1.3 the client's handshake ends before
 * the server has checked the client's certificate, so a target that
 * refused it says so only in an alert this end has not read yet. -1 with
 * err if there is one. */
static int peer_alert(struct mig_conn *c, struct vmon_error *err)
{
	uint8_t b[64];
	ssize_t k = gnutls_record_recv(c->session, b, sizeof(b));
	if (k != GNUTLS_E_FATAL_ALERT_RECEIVED)
		return 0;
	const char *a = gnutls_alert_get_name(gnutls_alert_get(c->session));
	return err_setf(err,
			"it refused this end's TLS certificate (%s: is it signed by a CA "
			"the peer trusts?)",
			a ? a : "alert");
}

int mig_conn_write(struct mig_conn *c, const void *p, size_t n, struct vmon_error *err)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t k;
		if (c->session) {
			k = gnutls_record_send(c->session, b, n);
			if (k == GNUTLS_E_INTERRUPTED || k == GNUTLS_E_AGAIN)
				continue;
			/* The socket failed (the peer closed it): whatever
			 * it said before is still there to read, at once. */
			if ((k == GNUTLS_E_PUSH_ERROR || k == GNUTLS_E_PREMATURE_TERMINATION) &&
			    peer_alert(c, err) < 0)
				return -1;
			if (k < 0)
				return err_setf(err, "%s", gnutls_strerror((int)k));
		} else {
			k = send(c->fd, b, n, MSG_NOSIGNAL);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				return err_setf(err, "%s", strerror(k == 0 ? EPIPE : errno));
		}
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

int mig_conn_read(void *opaque, void *buf, size_t n, struct vmon_error *err)
{
	struct mig_conn *c = opaque;
	uint8_t *b = buf;
	while (n) {
		ssize_t k;
		if (c->session) {
			k = gnutls_record_recv(c->session, b, n);
			if (k == GNUTLS_E_INTERRUPTED || k == GNUTLS_E_AGAIN)
				continue;
			if (k == GNUTLS_E_PREMATURE_TERMINATION)
				k = 0;
			/* In TLS 1.3 a peer that refused this end's
			 * certificate says so here, on the first read. */
			if (k == GNUTLS_E_FATAL_ALERT_RECEIVED) {
				const char *a = gnutls_alert_get_name(gnutls_alert_get(c->session));
				return err_setf(err,
						"it refused this end's TLS certificate (%s: is it "
						"signed by a CA the peer trusts?)",
						a ? a : "alert");
			}
			if (k < 0)
				return err_setf(err, "migration stream (TLS): %s",
						gnutls_strerror((int)k));
		} else {
			k = recv(c->fd, b, n, 0);
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				return err_setf(err, "migration stream: %s", strerror(errno));
		}
		if (k == 0)
			return err_setf(err,
					"the migration stream ended early (%s went away or sent "
					"a truncated stream)",
					c->peer);
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

void mig_conn_abort(struct mig_conn *c)
{
	if (c->fd >= 0)
		shutdown(c->fd, SHUT_RDWR);
}

void mig_conn_close(struct mig_conn *c)
{
	if (c->session) {
		/* close_notify, without waiting for the peer's. */
		(void)gnutls_bye(c->session, GNUTLS_SHUT_WR);
		gnutls_deinit(c->session);
		c->session = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}
