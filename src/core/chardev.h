/* SPDX-License-Identifier: MIT */
/*
 * Character back ends for consoles (the 16550 UART today): where guest
 * output goes and where guest input comes from.
 *
 *   stdio       output to stdout, input from stdin (raw tty + Ctrl-A escapes
 *               when stdin is a terminal)
 *   file:PATH   output to PATH (created 0644, truncated), no input
 *   unix:PATH   vmon listens on a Unix stream socket at PATH, one client at
 *               a time; output while no client is connected is DROPPED (it
 *               never blocks the guest); while a client is connected but not
 *               reading, output blocks the writing vCPU (backpressure)
 *
 * Output: chardev_write() writes every byte before returning (blocking,
 * retrying EINTR/EAGAIN with poll). It is called from vCPU threads and is
 * serialized by c->out_lock. It gives up only if the host side is gone
 * (EPIPE, I/O error) or, while blocked, the VM is stopping.
 *
 * Console gone: when the reader of stdout (or of a file: FIFO) goes away
 * — `vmon run | head -c 20` — the write fails with EPIPE (vmon ignores
 * SIGPIPE). That console has no one left to talk to, so vmon says so on
 * stderr once and stops the VM as a SIGTERM would (VM_STOP_USER_QUIT,
 * status 128 + SIGPIPE = 141: the status a shell expects of a writer
 * whose pipe closed), cleaning up (terminal, socket files) on the way
 * out. (QEMU keeps the VM running instead; vmon's console is its user's
 * window on the VM, and a pipeline that stopped reading has finished
 * with it.) Other output errors (ENOSPC, EIO) are reported once and the
 * output is dropped from then on; the VM runs on.
 *
 * Input, without loss: the chardev has one sink (the UART) attached with
 * chardev_set_sink(). On the event-loop thread it asks sink->space() and
 * reads at most that many bytes from its input fd, then offers them with
 * sink->receive(). When the sink is full the chardev stops watching its
 * input fd; the sink calls chardev_notify_space() when room appears, and
 * the chardev resumes. Bytes already read but not accepted (rare: an escape
 * sequence, a sink that shrank) are kept and offered first; never dropped.
 *
 * Threads: create/parse/set_sink/start/destroy from the setup thread;
 * chardev_write from any thread; chardev_notify_space from any thread with
 * any locks held (it only writes an eventfd); input handlers run on the
 * event-loop thread and call the sink from there.
 */
#ifndef VMON_CORE_CHARDEV_H
#define VMON_CORE_CHARDEV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/vm_control.h"

struct event_loop;
struct chardev;

/* The consumer of input (implemented by the UART). */
struct chardev_sink_ops {
	/* Offers n >= 1 bytes; returns how many were taken (0..n), in order.
	 * Called on the event-loop thread. */
	size_t (*receive)(void *opaque, const uint8_t *buf, size_t n);
	/* How many bytes receive() would take right now. */
	size_t (*space)(void *opaque);
	/* Contract: a sink that returned 0 from space(), or took fewer than
	 * offered from receive(), must later call chardev_notify_space() when
	 * it has room again; otherwise input stalls (but is not lost). */
};

/* For implementations (the back ends below, and test doubles). */
struct chardev_ops {
	const char *kind; /* "stdio", "file", "unix" */
	/* Writes all len bytes; called with c->out_lock held. Returns 0, or -1
	 * if the bytes could not be delivered. Required. */
	int (*write)(struct chardev *c, const uint8_t *buf, size_t len);
	/* Registers input fds on ev. Optional. */
	int (*start)(struct chardev *c, struct event_loop *ev, struct vmon_error *err);
	/* The sink has room again. Any thread, any locks held; must not call
	 * the sink synchronously. Optional. */
	void (*notify_space)(struct chardev *c);
	/* Unregisters from the loop, closes fds, restores the terminal, frees.
	 * Required. */
	void (*destroy)(struct chardev *c);
};

struct chardev {
	const struct chardev_ops *ops;
	pthread_mutex_t out_lock; /* serializes ops->write */
	struct vm_control *ctl;	  /* may be NULL (tests) */
	bool out_failed;	  /* under out_lock: reported already */
	const struct chardev_sink_ops *sink;
	void *sink_opaque;
};

/* Initializes the common part; for implementations. */
void chardev_init(struct chardev *c, const struct chardev_ops *ops, struct vm_control *ctl);
/* Releases the common part; for implementations' destroy. */
void chardev_fini(struct chardev *c);

/* Writes all of buf (see top). c may be NULL (output discarded). Returns 0
 * or -1 (bytes lost because the host side failed). */
int chardev_write(struct chardev *c, const void *buf, size_t len);

/* Attaches the input consumer; NULL ops detaches. Call before
 * chardev_start(), or after the event loop has stopped. c may be NULL. */
void chardev_set_sink(struct chardev *c, const struct chardev_sink_ops *ops, void *opaque);

/* Called by the sink when it has room again (see chardev_sink_ops). c may
 * be NULL. */
void chardev_notify_space(struct chardev *c);

/* Registers the chardev's fds on ev (input, listening socket). The loop
 * must outlive the chardev's use of it: stop the loop thread before
 * chardev_destroy(). Returns 0 or -1 with err. */
__attribute__((warn_unused_result)) int chardev_start(struct chardev *c, struct event_loop *ev,
						      struct vmon_error *err);

/* Unregisters, closes, restores the terminal and frees. Call after the
 * vCPU threads and the event-loop thread have stopped. NULL is a no-op. */
void chardev_destroy(struct chardev *c);

/* ---- Parsing and creation ---- */

enum chardev_kind { CHARDEV_STDIO, CHARDEV_FILE, CHARDEV_UNIX };

#define CHARDEV_PATH_MAX 4096

struct chardev_spec {
	enum chardev_kind kind;
	char path[CHARDEV_PATH_MAX]; /* file/unix only */
};

/* Parses "stdio", "file:PATH" or "unix:PATH". Anything else (including an
 * empty PATH, or a unix PATH too long for sockaddr_un) fails with a
 * one-line message in err. */
__attribute__((warn_unused_result)) int chardev_parse(const char *spec, struct chardev_spec *out,
						      struct vmon_error *err);

/* Creates the chardev described by spec. ctl receives VM_STOP_USER_QUIT
 * from the stdio escape (may be NULL). */
__attribute__((warn_unused_result)) int chardev_create(const struct chardev_spec *spec,
						       struct vm_control *ctl, struct chardev **out,
						       struct vmon_error *err);

/* stdio on fds 0/1. Only one stdio chardev may exist at a time. If stdin
 * is a terminal it is put in raw mode now (ISIG off: Ctrl-C goes to the
 * guest; OPOST kept so host messages stay readable) and restored by
 * chardev_destroy(), at exit (atexit, registered here) or by
 * chardev_restore_terminal(). Escapes (tty only): Ctrl-A x quits
 * (vmctl_request_stop(ctl, VM_STOP_USER_QUIT, 0)), Ctrl-A Ctrl-A sends
 * Ctrl-A, Ctrl-A h prints help; other Ctrl-A sequences are dropped. If
 * stdin is not a terminal: no escapes, EOF just stops input; if stdin is
 * closed, no input. */
__attribute__((warn_unused_result)) int
chardev_stdio_create(struct vm_control *ctl, struct chardev **out, struct vmon_error *err);

/* Same back end on arbitrary fds (tests, or a future pty). in_fd may be -1
 * (no input); the chardev does not close the fds. escapes enables the
 * Ctrl-A processing; no terminal mode is changed. */
__attribute__((warn_unused_result)) int chardev_fd_create(int in_fd, int out_fd, bool escapes,
							  struct vm_control *ctl,
							  struct chardev **out,
							  struct vmon_error *err);

__attribute__((warn_unused_result)) int chardev_file_create(const char *path,
							    struct vm_control *ctl,
							    struct chardev **out,
							    struct vmon_error *err);

/* Fails if PATH exists and is not a socket, or if another process is
 * listening on it; a stale socket is unlinked. PATH is unlinked again by
 * chardev_destroy(). */
__attribute__((warn_unused_result)) int chardev_unix_create(const char *path,
							    struct vm_control *ctl,
							    struct chardev **out,
							    struct vmon_error *err);

/* Restores stdin's terminal settings if stdio put it in raw mode.
 * Idempotent and async-signal-safe: call it from fatal-signal handlers. */
void chardev_restore_terminal(void);

#endif
