/* SPDX-License-Identifier: MIT */
#include "devices/i8042.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "core/device.h"
#include "core/state.h"

#define STS_OBF	 0x01
#define STS_SYS	 0x04
#define STS_A2	 0x08 /* last write was to the command port */
#define STS_INH	 0x10 /* keyboard not inhibited */
#define STS_AUXB 0x20 /* output buffer holds aux data */

#define CCB_KBD_INT	0x01
#define CCB_AUX_INT	0x02
#define CCB_SYS		0x04
#define CCB_KBD_DISABLE 0x10
#define CCB_AUX_DISABLE 0x20
#define CCB_XLATE	0x40
#define CCB_DEFAULT	(CCB_XLATE | CCB_SYS | CCB_KBD_INT)

#define OUTPORT_RESET	0x01 /* 0: hold the CPU in reset */
#define OUTPORT_A20	0x02
#define OUTPORT_DEFAULT (OUTPORT_RESET | OUTPORT_A20)

#define OUTQ_SIZE 16

struct i8042 {
	pthread_mutex_t lock;
	struct irq_line kbd_irq, aux_irq;
	struct vm_control *ctl;
	uint8_t ccb;
	uint8_t outport;
	uint8_t pending_cmd; /* command waiting for its data byte, 0: none */
	bool last_was_cmd;
	uint8_t outq[OUTQ_SIZE];
	bool outq_aux[OUTQ_SIZE];
	unsigned outq_head, outq_count;
	uint8_t last_data;
	bool kbd_level, aux_level;
	/* The PS/2 keyboard behind the controller: a keyboard command
	 * waiting for its argument byte (0: none), its scan-code set, and
	 * whether it scans (it sends keys only when enabled). */
	uint8_t kbd_pending;
	uint8_t kbd_set;
	bool kbd_enabled;
};

static void update_irq(struct i8042 *k)
{
	bool obf = k->outq_count > 0;
	bool aux = obf && k->outq_aux[k->outq_head];
	bool kl = obf && !aux && (k->ccb & CCB_KBD_INT);
	bool al = obf && aux && (k->ccb & CCB_AUX_INT);
	if (kl != k->kbd_level) {
		k->kbd_level = kl;
		irq_line_set(&k->kbd_irq, kl);
	}
	if (al != k->aux_level) {
		k->aux_level = al;
		irq_line_set(&k->aux_irq, al);
	}
}

static void queue_byte(struct i8042 *k, uint8_t b, bool aux)
{
	if (k->outq_count >= OUTQ_SIZE)
		return; /* a guest flooding commands without reading loses answers */
	unsigned i = (k->outq_head + k->outq_count) % OUTQ_SIZE;
	k->outq[i] = b;
	k->outq_aux[i] = aux;
	k->outq_count++;
	update_irq(k);
}

static uint8_t status(const struct i8042 *k)
{
	uint8_t s = STS_INH;
	if (k->outq_count > 0) {
		s |= STS_OBF;
		if (k->outq_aux[k->outq_head])
			s |= STS_AUXB;
	}
	if (k->ccb & CCB_SYS)
		s |= STS_SYS;
	if (k->last_was_cmd)
		s |= STS_A2;
	return s;
}

/* Returns true if the guest asked for a reset. */
static bool command(struct i8042 *k, uint8_t cmd)
{
	k->pending_cmd = 0;
	switch (cmd) {
	case 0x20: /* read command byte */ queue_byte(k, k->ccb, false); break;
	case 0x60: /* write command byte */
	case 0xD1: /* write output port */
	case 0xD2: /* write keyboard output buffer */
	case 0xD3: /* write aux output buffer */
	case 0xD4: /* write to aux device */ k->pending_cmd = cmd; break;
	case 0xA7: k->ccb |= CCB_AUX_DISABLE; break;
	case 0xA8: k->ccb &= (uint8_t)~CCB_AUX_DISABLE; break;
	case 0xA9: /* aux interface test */
	case 0xAB: /* keyboard interface test */ queue_byte(k, 0x00, false); break;
	case 0xAA: /* controller self test */ queue_byte(k, 0x55, false); break;
	case 0xAD: k->ccb |= CCB_KBD_DISABLE; break;
	case 0xAE: k->ccb &= (uint8_t)~CCB_KBD_DISABLE; break;
	case 0xC0: /* read input port */ queue_byte(k, 0x00, false); break;
	case 0xD0: /* read output port */ queue_byte(k, k->outport, false); break;
	case 0xE0: /* read test inputs */ queue_byte(k, 0x00, false); break;
	default:
		if (cmd >= 0xF0) /* pulse output lines whose bit is 0 */
			return !(cmd & OUTPORT_RESET);
		break; /* unknown: ignored */
	}
	update_irq(k);
	return false;
}

/* Keyboard replies (PS/2 keyboard command set, as an IBM PC/AT keyboard
 * answers: ACK 0xFA, RESEND 0xFE, self-test passed 0xAA). Enough for a
 * driver to find, reset and configure the keyboard (Linux's atkbd), so
 * keys the host sends (SendCtrlAltDel) reach it. */
#define KBD_ACK	    0xFA
#define KBD_RESEND  0xFE
#define KBD_BAT_OK  0xAA
#define KBD_ID0	    0xAB
#define KBD_ID1	    0x83 /* MF2 keyboard; 0x41 after the controller's translation */
#define KBD_ID1_XLT 0x41

static void kbd_reset_locked(struct i8042 *k)
{
	k->kbd_pending = 0;
	k->kbd_set = 2;
	k->kbd_enabled = true;
}

static void keyboard_write(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->kbd_pending;
	k->kbd_pending = 0;
	if (cmd) {			     /* v is the argument of cmd */
		if (cmd == 0xF0 && v == 0) { /* which set? */
			queue_byte(k, KBD_ACK, false);
			/* Reported through the translation when it is on. */
			static const uint8_t xlated[4] = {0, 0x43, 0x41, 0x3F};
			queue_byte(k, (k->ccb & CCB_XLATE) ? xlated[k->kbd_set] : k->kbd_set,
				   false);
			return;
		}
		if (cmd == 0xF0) {
			if (v < 1 || v > 3) {
				queue_byte(k, KBD_RESEND, false);
				return;
			}
			k->kbd_set = v;
		}
		/* 0xED LEDs, 0xF3 typematic rate: accepted, nothing to show. */
		queue_byte(k, KBD_ACK, false);
		return;
	}
	switch (v) {
	case 0xED: /* set LEDs */
	case 0xF0: /* select scan-code set */
	case 0xF3: /* set typematic rate */
		k->kbd_pending = v;
		queue_byte(k, KBD_ACK, false);
		break;
	case 0xEE: queue_byte(k, 0xEE, false); break; /* echo */
	case 0xF2:				      /* identify */
		queue_byte(k, KBD_ACK, false);
		queue_byte(k, KBD_ID0, false);
		queue_byte(k, (k->ccb & CCB_XLATE) ? KBD_ID1_XLT : KBD_ID1, false);
		break;
	case 0xF4: /* enable scanning */
		k->kbd_enabled = true;
		queue_byte(k, KBD_ACK, false);
		break;
	case 0xF5: /* disable scanning, restore defaults */
		kbd_reset_locked(k);
		k->kbd_enabled = false;
		queue_byte(k, KBD_ACK, false);
		break;
	case 0xF6: /* restore defaults */
		kbd_reset_locked(k);
		queue_byte(k, KBD_ACK, false);
		break;
	case 0xF7:
	case 0xF8:
	case 0xF9:
	case 0xFA:
	case 0xFB:
	case 0xFC:
	case 0xFD:
		queue_byte(k, KBD_ACK, false); /* typematic/make-break modes */
		break;
	case 0xFE: break; /* resend: nothing was lost */
	case 0xFF:	  /* reset and self-test */
		kbd_reset_locked(k);
		queue_byte(k, KBD_ACK, false);
		queue_byte(k, KBD_BAT_OK, false);
		break;
	default: queue_byte(k, KBD_RESEND, false); break;
	}
}

/* Returns true if the guest asked for a reset. */
static bool data_write(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->pending_cmd;
	k->pending_cmd = 0;
	switch (cmd) {
	case 0x60:
		k->ccb = v;
		update_irq(k);
		break;
	case 0xD1: k->outport = v; return !(v & OUTPORT_RESET);
	case 0xD2: queue_byte(k, v, false); break;
	case 0xD3: queue_byte(k, v, true); break;
	case 0xD4:
		/* To the aux device: no mouse is attached, so nothing
		 * answers (a driver's probe times out). */
		break;
	default: keyboard_write(k, v); break;
	}
	return false;
}

static uint64_t data_read(void *opaque, uint64_t offset, unsigned size)
{
	struct i8042 *k = opaque;
	pthread_mutex_lock(&k->lock);
	if (k->outq_count > 0) {
		k->last_data = k->outq[k->outq_head];
		k->outq_head = (k->outq_head + 1) % OUTQ_SIZE;
		k->outq_count--;
		/* A real controller holds one byte: the next one arrives after
		 * this read, as a new edge on IRQ 1/12. Lower the line first so
		 * a queued byte raises it again (the IRQs are edge-triggered:
		 * a line that stayed high would deliver nothing more). */
		if (k->kbd_level) {
			k->kbd_level = false;
			irq_line_set(&k->kbd_irq, false);
		}
		if (k->aux_level) {
			k->aux_level = false;
			irq_line_set(&k->aux_irq, false);
		}
		update_irq(k);
	}
	uint8_t v = k->last_data;
	pthread_mutex_unlock(&k->lock);
	return v;
}

static void data_port_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct i8042 *k = opaque;
	pthread_mutex_lock(&k->lock);
	k->last_was_cmd = false;
	bool reset = data_write(k, (uint8_t)value);
	pthread_mutex_unlock(&k->lock);
	if (reset && k->ctl)
		vmctl_request_stop(k->ctl, VM_STOP_RESET, 0);
}

static uint64_t status_read(void *opaque, uint64_t offset, unsigned size)
{
	struct i8042 *k = opaque;
	pthread_mutex_lock(&k->lock);
	uint8_t v = status(k);
	pthread_mutex_unlock(&k->lock);
	return v;
}

static void command_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct i8042 *k = opaque;
	pthread_mutex_lock(&k->lock);
	k->last_was_cmd = true;
	bool reset = command(k, (uint8_t)value);
	pthread_mutex_unlock(&k->lock);
	if (reset && k->ctl)
		vmctl_request_stop(k->ctl, VM_STOP_RESET, 0);
}

static const struct bus_ops data_ops = {.read = data_read, .write = data_port_write};
static const struct bus_ops cmd_ops = {.read = status_read, .write = command_write};

static void reset_locked(struct i8042 *k)
{
	k->ccb = CCB_DEFAULT;
	k->outport = OUTPORT_DEFAULT;
	k->pending_cmd = 0;
	k->last_was_cmd = false;
	k->outq_head = 0;
	k->outq_count = 0;
	k->last_data = 0;
	kbd_reset_locked(k);
	update_irq(k);
}

void i8042_reset(struct i8042 *k)
{
	pthread_mutex_lock(&k->lock);
	reset_locked(k);
	pthread_mutex_unlock(&k->lock);
}

int i8042_create(struct i8042 **out, struct bus *pio, struct irq_line kbd_irq,
		 struct irq_line aux_irq, struct vm_control *ctl, struct vmon_error *err)
{
	struct i8042 *k = calloc(1, sizeof(*k));
	if (!k)
		return err_setf(err, "out of memory");
	pthread_mutex_init(&k->lock, NULL);
	k->kbd_irq = kbd_irq;
	k->aux_irq = aux_irq;
	k->ctl = ctl;
	reset_locked(k);
	/* No bus_unregister exists: if the second range fails, the first
	 * stays registered, so keep k alive (leaked) rather than dangling. */
	if (bus_register(pio, I8042_DATA_PORT, 1, &data_ops, k, "i8042-data", err) < 0) {
		pthread_mutex_destroy(&k->lock);
		free(k);
		return -1;
	}
	if (bus_register(pio, I8042_CMD_PORT, 1, &cmd_ops, k, "i8042-cmd", err) < 0)
		return -1;
	*out = k;
	return 0;
}

void i8042_destroy(struct i8042 *k)
{
	if (!k)
		return;
	pthread_mutex_destroy(&k->lock);
	free(k);
}

enum i8042_keys i8042_send_ctrl_alt_del(struct i8042 *k)
{
	/* Make codes then break codes: set 1 when the controller translates
	 * (the guest sees what a PC keyboard's set 2 becomes), set 2 raw. */
	static const uint8_t set1[] = {0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d};
	static const uint8_t set2[] = {0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0,
				       0x71, 0xf0, 0x11, 0xf0, 0x14};
	pthread_mutex_lock(&k->lock);
	if (!k->kbd_enabled || (k->ccb & CCB_KBD_DISABLE)) {
		/* A keyboard that does not scan sends nothing. */
		pthread_mutex_unlock(&k->lock);
		return I8042_KEYS_DISABLED;
	}
	bool xlate = k->ccb & CCB_XLATE;
	const uint8_t *seq = xlate ? set1 : set2;
	unsigned n = xlate ? sizeof(set1) : sizeof(set2);
	bool room = k->outq_count + n <= OUTQ_SIZE;
	for (unsigned i = 0; room && i < n; i++)
		queue_byte(k, seq[i], false);
	pthread_mutex_unlock(&k->lock);
	return room ? I8042_KEYS_QUEUED : I8042_KEYS_FULL;
}

/* ---- Device object (core/device.h) ---- */

static int i8042_dev_create(void **out, const struct device_env *env, const void *params,
			    struct vmon_error *err)
{
	const struct i8042_params *p = params;
	return i8042_create((struct i8042 **)out, env->pio,
			    (struct irq_line){.router = env->irq, .gsi = p->kbd_gsi},
			    (struct irq_line){.router = env->irq, .gsi = p->aux_gsi}, env->ctl,
			    err);
}

static void i8042_dev_reset(void *dev)
{
	i8042_reset(dev);
}

static void i8042_dev_destroy(void *dev)
{
	i8042_destroy(dev);
}

/* Snapshots: the controller's and keyboard's registers and the output
 * queue (in order); the lines are driven again from them. */
static int i8042_save(void *dev, struct state_writer *w, struct vmon_error *err)
{
	(void)err;
	struct i8042 *k = dev;
	pthread_mutex_lock(&k->lock);
	const uint8_t regs[] = {k->ccb,	      k->outport,     k->pending_cmd, k->last_was_cmd,
				k->last_data, k->kbd_pending, k->kbd_set,     k->kbd_enabled};
	state_put_bytes(w, regs, sizeof(regs));
	state_put_u8(w, (uint8_t)k->outq_count);
	for (unsigned i = 0; i < k->outq_count; i++) {
		unsigned at = (k->outq_head + i) % OUTQ_SIZE;
		state_put_u8(w, k->outq[at]);
		state_put_u8(w, k->outq_aux[at]);
	}
	pthread_mutex_unlock(&k->lock);
	return 0;
}

static int i8042_restore(void *dev, struct state_reader *r, uint32_t version,
			 struct vmon_error *err)
{
	struct i8042 *k = dev;
	uint8_t regs[8], q[OUTQ_SIZE][2];
	state_get_bytes(r, regs, sizeof(regs));
	uint8_t n = state_get_u8(r);
	if (version != 1 || n > OUTQ_SIZE)
		return err_setf(err, "i8042: bad saved state (version %u, %u bytes queued)",
				version, n);
	for (unsigned i = 0; i < n; i++) {
		q[i][0] = state_get_u8(r);
		q[i][1] = state_get_u8(r);
	}
	if (!state_reader_done(r))
		return err_setf(err, "i8042: saved state is truncated or has stray bytes");
	if (regs[6] < 1 || regs[6] > 3)
		return err_setf(err, "i8042: bad saved scan-code set %u", regs[6]);
	pthread_mutex_lock(&k->lock);
	k->ccb = regs[0];
	k->outport = regs[1];
	k->pending_cmd = regs[2];
	k->last_was_cmd = regs[3] != 0;
	k->last_data = regs[4];
	k->kbd_pending = regs[5];
	k->kbd_set = regs[6];
	k->kbd_enabled = regs[7] != 0;
	k->outq_head = 0;
	k->outq_count = n;
	for (unsigned i = 0; i < n; i++) {
		k->outq[i] = q[i][0];
		k->outq_aux[i] = q[i][1] != 0;
	}
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
	return 0;
}

const struct device_ops i8042_device = {
	.kind = "i8042",
	.state_version = 1,
	.save = i8042_save,
	.restore = i8042_restore,
	.create = i8042_dev_create,
	.reset = i8042_dev_reset,
	.destroy = i8042_dev_destroy,
};
