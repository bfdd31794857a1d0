/* SPDX-License-Identifier: MIT */
/*
 * stdio back end (and the same back end on arbitrary fds for tests).
 * Output: blocking writes to out_fd. Input: the flow-controlled pump on
 * in_fd, with the Ctrl-A escape filter when stdin is a terminal.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "core/chardev.h"
#include "core/chardev_priv.h"
#include "core/event_loop.h"

#define ESCAPE_CHAR 0x01 /* Ctrl-A */

struct chardev_fd {
	struct chardev c; /* first: chardev* <-> chardev_fd* */
	struct chardev_input in;
	int in_fd, out_fd;
	bool escapes;
	bool escape_pending; /* loop thread only */
	bool is_stdio;
};

/* ---- Terminal state (process-wide: only one stdio chardev) ---- */

static struct termios saved_tio;
static volatile sig_atomic_t tio_raw; /* saved_tio must be restored */
static atomic_bool stdio_in_use;
static bool atexit_done;

void chardev_restore_terminal(void)
{
	if (tio_raw) {
		tio_raw = 0;
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
	}
}

static int enter_raw_mode(struct vmon_error *err)
{
	if (tcgetattr(STDIN_FILENO, &saved_tio) < 0)
		return err_setf(err, "console: tcgetattr: %s", strerror(errno));
	struct termios raw = saved_tio;
	/* cfmakeraw() equivalent, but keep output processing (ONLCR) so
	 * host-side messages and "\n"-only guests stay readable. */
	raw.c_iflag &=
		~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	raw.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	raw.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
	raw.c_cflag |= CS8;
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	if (!atexit_done) {
		atexit_done = true;
		atexit(chardev_restore_terminal);
	}
	tio_raw = 1;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) < 0) {
		tio_raw = 0;
		return err_setf(err, "console: cannot set raw mode on the terminal: %s",
				strerror(errno));
	}
	return 0;
}

/* ---- Escapes ---- */

static const char help_text[] = "\r\n"
				"vmon console escapes:\r\n"
				"  Ctrl-A x       quit vmon\r\n"
				"  Ctrl-A Ctrl-A  send Ctrl-A to the guest\r\n"
				"  Ctrl-A h       this help\r\n";

static size_t escape_filter(struct chardev_input *in, const uint8_t *src, size_t n, uint8_t *dst)
{
	struct chardev_fd *f = in->opaque;
	size_t out = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = src[i];
		if (!f->escape_pending) {
			if (ch == ESCAPE_CHAR)
				f->escape_pending = true;
			else
				dst[out++] = ch;
			continue;
		}
		f->escape_pending = false;
		switch (ch) {
		case ESCAPE_CHAR: dst[out++] = ch; break;
		case 'x':
		case 'X':
			chardev_input_quit(in);
			if (f->c.ctl)
				vmctl_request_stop(f->c.ctl, VM_STOP_USER_QUIT, 0);
			return out; /* what came before is still delivered */
		case 'h':
		case 'H':
		case '?': chardev_write(&f->c, help_text, sizeof(help_text) - 1); break;
		default: break; /* unknown escape: dropped */
		}
	}
	return out;
}

static const struct chardev_input_hooks escape_hooks = {.filter = escape_filter};
static const struct chardev_input_hooks plain_hooks = {.filter = NULL};

/* ---- Ops ---- */

static int fd_write(struct chardev *c, const uint8_t *buf, size_t len)
{
	struct chardev_fd *f = (struct chardev_fd *)c;
	if (f->out_fd < 0)
		return 0;
	if (chardev_fd_write_all(f->out_fd, buf, len, c->ctl, false) < 0) {
		chardev_output_failed(c, errno);
		return -1;
	}
	return 0;
}

static int fd_start(struct chardev *c, struct event_loop *ev, struct vmon_error *err)
{
	struct chardev_fd *f = (struct chardev_fd *)c;
	if (f->in_fd < 0)
		return 0;
	if (chardev_input_start(&f->in, ev, err) < 0)
		return -1;
	chardev_input_attach(&f->in, f->in_fd);
	return 0;
}

static void fd_notify_space(struct chardev *c)
{
	struct chardev_fd *f = (struct chardev_fd *)c;
	chardev_input_kick(&f->in);
}

static void fd_destroy(struct chardev *c)
{
	struct chardev_fd *f = (struct chardev_fd *)c;
	chardev_input_fini(&f->in);
	if (f->is_stdio) {
		chardev_restore_terminal();
		atomic_store(&stdio_in_use, false);
	}
	chardev_fini(c);
	free(f);
}

static const struct chardev_ops fd_ops = {
	.kind = "stdio",
	.write = fd_write,
	.start = fd_start,
	.notify_space = fd_notify_space,
	.destroy = fd_destroy,
};

static struct chardev_fd *fd_new(int in_fd, int out_fd, bool escapes, struct vm_control *ctl)
{
	struct chardev_fd *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	chardev_init(&f->c, &fd_ops, ctl);
	f->in_fd = in_fd;
	f->out_fd = out_fd;
	f->escapes = escapes;
	chardev_input_init(&f->in, &f->c, escapes ? &escape_hooks : &plain_hooks, f);
	return f;
}

int chardev_fd_create(int in_fd, int out_fd, bool escapes, struct vm_control *ctl,
		      struct chardev **out, struct vmon_error *err)
{
	struct chardev_fd *f = fd_new(in_fd, out_fd, escapes, ctl);
	if (!f)
		return err_setf(err, "out of memory");
	*out = &f->c;
	return 0;
}

int chardev_stdio_create(struct vm_control *ctl, struct chardev **out, struct vmon_error *err)
{
	if (atomic_exchange(&stdio_in_use, true))
		return err_setf(err, "console: stdio is already used by another console");
	int in_fd = STDIN_FILENO;
	if (fcntl(in_fd, F_GETFL) < 0)
		in_fd = -1; /* stdin closed: no input */
	bool tty = in_fd >= 0 && isatty(in_fd);
	struct chardev_fd *f = fd_new(in_fd, STDOUT_FILENO, tty, ctl);
	if (!f) {
		atomic_store(&stdio_in_use, false);
		return err_setf(err, "out of memory");
	}
	f->is_stdio = true;
	if (tty && enter_raw_mode(err) < 0) {
		chardev_fini(&f->c);
		free(f);
		atomic_store(&stdio_in_use, false);
		return -1;
	}
	*out = &f->c;
	return 0;
}
