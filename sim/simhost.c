// SPDX-License-Identifier: GPL-2.0
/*
 * The simulated s390 host (see simhost.h). Compiled against the shims, like
 * ap_matrix.c, and linked with the real ap_matrix.c: this file plays the
 * parts of the kernel around it that the series does not change or that
 * need the machine: the AP bus, the apmatrix AP driver's host operations,
 * PQAP, and kvm-s390.c's crypto setup and attribute dispatch.
 *
 * Locks, as in the kernel: sim_scan_mutex (ap_scan_bus_mutex) ->
 * ap_perms_mutex (the driver's ops->lock) -> [ap_matrix.c's mutex] ->
 * kvm->lock. The PQAP model has its own leaf pthread lock.
 */
#include <linux/kvm_host.h>
#include <asm/ap.h>
#include <asm/kvm_ap_matrix.h>
#include "kvm-s390.h"
#include "ap_matrix.h"

#include "simhost.h"

#include <ctype.h>

/* AP response codes (drivers/s390/crypto/ap_bus.h) as PQAP answers them */
#define R_NORMAL			0x00
#define R_Q_NOT_AVAIL			0x01
#define R_RESET_IN_PROGRESS		0x02
#define R_STATE_CHANGE_IN_PROGRESS	0x0A
#define R_ASSOC_FAILED			0x36

#define NQ (SIM_IDS * SIM_IDS)
#define LOG_LINES 512
#define LINE_LEN 200

struct simq {
	bool exists;
	bool changed;		/* for sim_host_for_each_changed */
	enum sim_driver driver;
	/* PQAP model, under pq_lock */
	enum sim_reset_mode mode;
	unsigned int mode_polls;
	bool resetting;		/* ZAPQ accepted, reset under way */
	unsigned int polls_left;/* TAPQ answers "in progress" this many more times */
	bool se_pending;	/* SE_BUSY: the next ZAPQ is refused once */
	bool se_failed;		/* SE_FAILED: TAPQ says association failed */
	unsigned long zaps, resets;
	int guest_data;
};

struct logring {
	char lines[LOG_LINES][LINE_LEN];
	unsigned int head, count;
};

/*
 * A VM's s390dbf area. Like the kernel's debug_sprintf_event(), an event
 * keeps its format (which must stay valid: a literal) and up to
 * EV_ARGS long-sized arguments, and is formatted only when read, so the
 * cost the measured code pays for its VM_EVENT lines is the kernel's.
 */
#define EV_ARGS 8
struct rawev {
	const char *fmt;
	long args[EV_ARGS];
};

struct evring {
	struct rawev ev[LOG_LINES];
	unsigned int head, count;
};

struct sim_vm {
	struct kvm kvm;
	struct kvm_s390_crypto_cb crycb;
	int id;
	unsigned long kicks;
	struct evring *events;
	pthread_mutex_t ev_lock;
};

static struct {
	unsigned int max_apid, max_apqi;
	unsigned long apmask[4], aqmask[4];	/* ap_perms */
	struct simq *q;
	bool registered;
	bool ap_instr;
	bool echo;
	int next_vm_id;
	unsigned long live_vms;
	struct sim_stats st;
	pthread_mutex_t st_lock;
	pthread_mutex_t pq_lock;
	struct logring dmesg;
	pthread_mutex_t log_lock;
} H = {
	.st_lock = PTHREAD_MUTEX_INITIALIZER,
	.pq_lock = PTHREAD_MUTEX_INITIALIZER,
	.log_lock = PTHREAD_MUTEX_INITIALIZER,
	.ap_instr = true,
};

static DEFINE_MUTEX(ap_scan_bus_mutex);
static DEFINE_MUTEX(ap_perms_mutex);
static struct module drv_module = { .name = "ap_matrix_drv" };

void shim_set_log_sink(void (*sink)(int level, const char *line));
unsigned long shim_violations(void);
void shim_fail_alloc_nth(long n);

#define STAT_INC(f) do { pthread_mutex_lock(&H.st_lock); H.st.f++; pthread_mutex_unlock(&H.st_lock); } while (0)

static unsigned int apqn_of(unsigned int apid, unsigned int apqi)
{
	return (apid << 8) | apqi;
}

static void ring_add(struct logring *r, const char *line)
{
	unsigned int slot = (r->head + r->count) % LOG_LINES;

	snprintf(r->lines[slot], LINE_LEN, "%s", line);
	if (r->count < LOG_LINES)
		r->count++;
	else
		r->head = (r->head + 1) % LOG_LINES;
}

static size_t ring_dump(struct logring *r, char *buf, size_t len)
{
	size_t off = 0;
	unsigned int i;
	int n;

	if (len)
		buf[0] = '\0';
	for (i = 0; i < r->count; i++) {
		n = snprintf(buf + off, len > off ? len - off : 0, "%s\n",
			     r->lines[(r->head + i) % LOG_LINES]);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	return off;
}

static void ev_format(const struct rawev *e, char *buf, size_t len);

static size_t ev_dump(struct evring *r, char *buf, size_t len)
{
	char line[LINE_LEN];
	size_t off = 0;
	unsigned int i;
	int n;

	if (len)
		buf[0] = '\0';
	for (i = 0; i < r->count; i++) {
		ev_format(&r->ev[(r->head + i) % LOG_LINES], line, sizeof(line));
		n = snprintf(buf + off, len > off ? len - off : 0, "%s\n", line);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	return off;
}

static void log_sink(int level, const char *line)
{
	char buf[LINE_LEN];

	snprintf(buf, sizeof(buf), "<%d> %s", level, line);
	pthread_mutex_lock(&H.log_lock);
	ring_add(&H.dmesg, buf);
	pthread_mutex_unlock(&H.log_lock);
	if (H.echo || level <= 3)
		fprintf(stderr, "[kernel] %s\n", buf);
}

static void sim_violation(const char *fmt, ...) __printf(1, 2);
static void sim_violation(const char *fmt, ...)
{
	char buf[LINE_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	STAT_INC(violations);
	fprintf(stderr, "apsim: VIOLATION: %s\n", buf);
	log_sink(2, buf);
}

/* ---- s390dbf ------------------------------------------------------------- */

/* number of arguments a format takes, as debug_sprintf_event() counts them */
static unsigned int ev_nargs(const char *fmt)
{
	unsigned int n = 0;

	for (; *fmt; fmt++) {
		if (*fmt != '%')
			continue;
		if (fmt[1] == '%')
			fmt++;
		else
			n++;
	}
	return n < EV_ARGS ? n : EV_ARGS;
}

static void ev_format(const struct rawev *e, char *buf, size_t len)
{
	const long *a = e->args;
	size_t n;

	/* every argument was stored as a long, as s390dbf stores them */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat"
#pragma GCC diagnostic ignored "-Wformat-extra-args"
	snprintf(buf, len, e->fmt, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
#pragma GCC diagnostic pop
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
}

void sim_kvm_event(struct kvm *kvm, int level, const char *fmt, ...)
{
	struct sim_vm *vm = kvm ? kvm->sim : NULL;
	struct rawev e = { .fmt = fmt };
	char buf[LINE_LEN], line[LINE_LEN + 16];
	unsigned int i, n = ev_nargs(fmt), slot;
	va_list ap;

	va_start(ap, fmt);
	for (i = 0; i < n; i++)
		e.args[i] = va_arg(ap, long);
	va_end(ap);
	if (vm) {
		/* a VM_EVENT goes to the VM's s390dbf area only, as in the kernel */
		pthread_mutex_lock(&vm->ev_lock);
		slot = (vm->events->head + vm->events->count) % LOG_LINES;
		vm->events->ev[slot] = e;
		if (vm->events->count < LOG_LINES)
			vm->events->count++;
		else
			vm->events->head = (vm->events->head + 1) % LOG_LINES;
		pthread_mutex_unlock(&vm->ev_lock);
		if (!H.echo)
			return;
	}
	ev_format(&e, buf, sizeof(buf));
	snprintf(line, sizeof(line), "kvm-s390: vm%d: %s", vm ? vm->id : 0, buf);
	log_sink(level >= 3 ? 7 : 6, line);
}

/* ---- the machine: PQAP ------------------------------------------------- */

bool ap_instructions_available(void)
{
	return H.ap_instr;
}

static struct ap_queue_status status(unsigned int rc, bool empty)
{
	struct ap_queue_status s;

	memset(&s, 0, sizeof(s));
	s.response_code = rc & 0xff;
	s.queue_empty = empty;
	return s;
}

struct ap_queue_status ap_zapq(ap_qid_t qid, int fbit)
{
	struct simq *q = &H.q[qid & 0xffff];
	struct ap_queue_status s;

	(void)fbit;
	STAT_INC(zaps);
	pthread_mutex_lock(&H.pq_lock);
	if (!q->exists) {
		s = status(R_Q_NOT_AVAIL, false);
	} else if (q->se_pending) {
		/* a bind/associate is under way: nothing is reset */
		q->se_pending = false;
		q->zaps++;
		s = status(R_STATE_CHANGE_IN_PROGRESS, false);
	} else {
		q->zaps++;
		q->resetting = true;
		q->se_failed = q->mode == SIM_RESET_SE_FAILED && q->zaps % 2;
		switch (q->mode) {
		case SIM_RESET_SLOW:
			q->polls_left = q->mode_polls;
			break;
		case SIM_RESET_NEVER:
			q->polls_left = UINT_MAX;
			break;
		default:
			q->polls_left = 1;
			break;
		}
		s = status(R_NORMAL, false);
	}
	pthread_mutex_unlock(&H.pq_lock);
	return s;
}

struct ap_queue_status ap_tapq(ap_qid_t qid, struct ap_tapq_hwinfo *info)
{
	struct simq *q = &H.q[qid & 0xffff];
	struct ap_queue_status s;

	if (info)
		info->value = 0;
	STAT_INC(tapqs);
	pthread_mutex_lock(&H.pq_lock);
	if (!q->exists) {
		s = status(R_Q_NOT_AVAIL, false);
	} else if (q->se_failed) {
		/* every AP instruction fails this way until the queue is zapped again */
		s = status(R_ASSOC_FAILED, false);
	} else if (q->resetting && q->polls_left) {
		if (q->polls_left != UINT_MAX)
			q->polls_left--;
		s = status(R_RESET_IN_PROGRESS, false);
	} else {
		if (q->resetting) {
			q->resetting = false;
			q->resets++;
			q->guest_data = 0;	/* zeroized */
		}
		s = status(R_NORMAL, true);
	}
	pthread_mutex_unlock(&H.pq_lock);
	return s;
}

struct ap_queue_status ap_rapq(ap_qid_t qid, int fbit)
{
	return ap_zapq(qid, fbit);
}

/* ---- the AP driver's host operations ---------------------------------- */

static void ops_lock(void)
{
	mutex_lock(&ap_perms_mutex);
}

static void ops_unlock(void)
{
	mutex_unlock(&ap_perms_mutex);
}

static void ops_limits(unsigned int *max_apid, unsigned int *max_apqi)
{
	*max_apid = H.max_apid;
	*max_apqi = H.max_apqi;
}

static bool default_owned(unsigned int apid, unsigned int apqi)
{
	return test_bit_inv(apid, H.apmask) && test_bit_inv(apqi, H.aqmask);
}

static int ops_available(unsigned int apqn)
{
	struct simq *q = &H.q[apqn & 0xffff];

	lockdep_assert_held(&ap_perms_mutex);
	if (apqn > 0xffff || !q->exists || q->driver != SIM_DRV_APMATRIX ||
	    default_owned(apqn >> 8, apqn & 0xff))
		return -EADDRNOTAVAIL;
	return 0;
}

static struct ap_queue_status ops_zapq(unsigned int apqn)
{
	return ap_zapq(apqn, 0);
}

static struct ap_queue_status ops_tapq(unsigned int apqn)
{
	return ap_tapq(apqn, NULL);
}

static const struct kvm_s390_ap_host_ops sim_ops = {
	.owner = &drv_module,
	.lock = ops_lock,
	.unlock = ops_unlock,
	.limits = ops_limits,
	.available = ops_available,
	.zapq = ops_zapq,
	.tapq = ops_tapq,
};

/* ---- host --------------------------------------------------------------- */

int sim_host_init(unsigned int max_apid, unsigned int max_apqi)
{
	if (max_apid > 255 || max_apqi > 255)
		return -EINVAL;
	if (!H.q) {
		H.q = calloc(NQ, sizeof(*H.q));
		if (!H.q)
			return -ENOMEM;
	}
	H.max_apid = max_apid;
	H.max_apqi = max_apqi;
	memset(H.apmask, 0xff, sizeof(H.apmask));
	memset(H.aqmask, 0xff, sizeof(H.aqmask));
	/* the AP bus waits for resets under its scan lock */
	ap_scan_bus_mutex.sleepable = true;
	shim_set_log_sink(log_sink);
	return 0;
}

int sim_host_register(void)
{
	int rc;

	rc = kvm_s390_ap_matrix_register(&sim_ops);
	if (!rc)
		H.registered = true;
	return rc;
}

void sim_host_unregister(void)
{
	if (!H.registered)
		return;
	kvm_s390_ap_matrix_unregister(&sim_ops);
	H.registered = false;
}

bool sim_host_registered(void)
{
	return H.registered;
}

void sim_host_set_ap_instructions(bool on)
{
	H.ap_instr = on;
}

void sim_host_limits(unsigned int *max_apid, unsigned int *max_apqi)
{
	*max_apid = H.max_apid;
	*max_apqi = H.max_apqi;
}

void sim_host_set_log_echo(bool on)
{
	H.echo = on;
}

static enum sim_driver default_binding(unsigned int apid, unsigned int apqi)
{
	return default_owned(apid, apqi) ? SIM_DRV_CEX4QUEUE : SIM_DRV_APMATRIX;
}

void sim_host_add_queue(unsigned int apid, unsigned int apqi, enum sim_driver drv)
{
	struct simq *q = &H.q[apqn_of(apid & 0xff, apqi & 0xff)];

	mutex_lock(&ap_perms_mutex);
	pthread_mutex_lock(&H.pq_lock);
	q->exists = true;
	q->resetting = false;
	q->se_failed = false;
	q->guest_data = 0;
	pthread_mutex_unlock(&H.pq_lock);
	q->driver = drv;
	q->changed = true;
	mutex_unlock(&ap_perms_mutex);
}

void sim_host_queue_info(unsigned int apid, unsigned int apqi, struct sim_queue_info *qi)
{
	struct simq *q = &H.q[apqn_of(apid & 0xff, apqi & 0xff)];

	pthread_mutex_lock(&H.pq_lock);
	qi->exists = q->exists;
	qi->driver = q->driver;
	qi->default_owned = default_owned(apid & 0xff, apqi & 0xff);
	qi->zaps = q->zaps;
	qi->resets = q->resets;
	qi->guest_data = q->guest_data;
	qi->resetting = q->resetting;
	pthread_mutex_unlock(&H.pq_lock);
}

void sim_host_load_masks(const uint64_t apmask[4], const uint64_t aqmask[4])
{
	int i;

	mutex_lock(&ap_perms_mutex);
	for (i = 0; i < 4; i++) {
		H.apmask[i] = apmask[i];
		H.aqmask[i] = aqmask[i];
	}
	mutex_unlock(&ap_perms_mutex);
}

void sim_host_get_masks(uint64_t apmask[4], uint64_t aqmask[4])
{
	int i;

	mutex_lock(&ap_perms_mutex);
	for (i = 0; i < 4; i++) {
		apmask[i] = H.apmask[i];
		aqmask[i] = H.aqmask[i];
	}
	mutex_unlock(&ap_perms_mutex);
}

/* ap_bus.c's ap_hex2bitmap() and modify_bitmap(), for 256 bits */
static int parse_mask(const char *str, const unsigned long *cur, unsigned long *out)
{
	unsigned long a, z, i;
	char *np, sign;
	int b, n, bit;

	if (*str == '+' || *str == '-') {
		memcpy(out, cur, 32);
		while (*str) {
			sign = *str++;
			if (sign != '+' && sign != '-')
				return -EINVAL;
			errno = 0;
			a = z = strtoul(str, &np, 0);
			if (str == np || a >= 256)
				return -EINVAL;
			str = np;
			if (*str == '-') {
				z = strtoul(++str, &np, 0);
				if (str == np || a > z || z >= 256)
					return -EINVAL;
				str = np;
			}
			for (i = a; i <= z; i++) {
				if (sign == '+')
					set_bit_inv(i, out);
				else
					clear_bit_inv(i, out);
			}
			while (*str == ',' || *str == '\n')
				str++;
		}
		return 0;
	}
	memset(out, 0, 32);
	if (str[0] == '0' && str[1] == 'x')
		str++;
	if (*str == 'x')
		str++;
	for (bit = 0; isxdigit((unsigned char)*str) && bit < 256; str++) {
		b = hex_to_bin(*str);
		for (n = 0; n < 4; n++)
			if (b & (0x08 >> n))
				set_bit_inv(bit + n, out);
		bit += 4;
	}
	if (*str == '\n')
		str++;
	return *str ? -EINVAL : 0;
}

/* ap_device_remove() -> ap_queue_remove(): after the driver's remove(), the
 * AP bus zeroizes the queue (ZAPQ) and its state machine sees the reset
 * through; without a lock, like the bus's own work */
static void bus_queue_reset(unsigned int apqn)
{
	struct ap_queue_status st;
	int i;

	st = ap_zapq(apqn, 0);
	if (st.response_code != R_NORMAL)
		return;
	for (i = 0; i < 1000; i++) {
		st = ap_tapq(apqn, NULL);
		if (st.response_code != R_RESET_IN_PROGRESS)
			break;
	}
}

/* queue devices of the driver "remove()"d, then probed by their new driver:
 * ap_bus_revise_bindings() after a mask change */
static void revise_bindings(void)
{
	unsigned int apqn;
	enum sim_driver want;
	unsigned int removed[64];
	unsigned int nremoved;

	do {
		nremoved = 0;
		mutex_lock(&ap_perms_mutex);
		for (apqn = 0; apqn < NQ; apqn++) {
			struct simq *q = &H.q[apqn];

			if (!q->exists)
				continue;
			want = default_binding(apqn >> 8, apqn & 0xff);
			if (q->driver == want || q->driver == SIM_DRV_VFIO_AP)
				continue;
			/* __ap_revise_reserved(): only a queue that changed side is
			 * reprobed; an unbound queue that stays taken stays unbound */
			if (q->driver == SIM_DRV_NONE && want == SIM_DRV_APMATRIX)
				continue;
			if (q->driver == SIM_DRV_APMATRIX) {
				/* remove() is called without ap_perms_mutex: collect */
				if (nremoved < ARRAY_SIZE(removed))
					removed[nremoved++] = apqn;
				continue;
			}
			q->driver = want;
			q->changed = true;
		}
		mutex_unlock(&ap_perms_mutex);
		for (apqn = 0; apqn < nremoved; apqn++) {
			kvm_s390_ap_matrix_queue_removed(removed[apqn]);
			bus_queue_reset(removed[apqn]);
			mutex_lock(&ap_perms_mutex);
			H.q[removed[apqn]].driver = default_binding(removed[apqn] >> 8,
								    removed[apqn] & 0xff);
			H.q[removed[apqn]].changed = true;
			mutex_unlock(&ap_perms_mutex);
		}
	} while (nremoved == ARRAY_SIZE(removed));
}

int sim_host_mask_write(int which, const char *text)
{
	unsigned long new[4], reserved[4];
	unsigned long *cur = which ? H.aqmask : H.apmask;
	bool changes, busy = false;
	int rc;

	if (which != 0 && which != 1)
		return -EINVAL;
	STAT_INC(mask_writes);
	mutex_lock(&ap_perms_mutex);
	rc = parse_mask(text, cur, new);
	if (rc)
		goto out;
	changes = memcmp(cur, new, sizeof(new)) != 0;
	if (!changes)
		goto out;
	/* the bits that hand queues back to the default drivers: ask in_use() */
	if (bitmap_andnot(reserved, new, cur, 256) && H.registered) {
		if (which == 0)
			busy = kvm_s390_ap_matrix_in_use(reserved, H.aqmask);
		else
			busy = kvm_s390_ap_matrix_in_use(H.apmask, reserved);
	}
	if (busy) {
		rc = -EBUSY;
		STAT_INC(mask_refused);
		goto out;
	}
	memcpy(cur, new, sizeof(new));
	mutex_unlock(&ap_perms_mutex);
	revise_bindings();
	return 0;
out:
	mutex_unlock(&ap_perms_mutex);
	return rc;
}

void sim_host_config_remove(const uint64_t apm_gone[4], const uint64_t aqm_gone[4])
{
	unsigned long apm[4], aqm[4];
	unsigned int apqn, n = 0;
	unsigned int *removed;
	int i;

	for (i = 0; i < 4; i++) {
		apm[i] = apm_gone[i];
		aqm[i] = aqm_gone[i];
	}
	removed = calloc(NQ, sizeof(*removed));
	if (!removed)
		return;
	mutex_lock(&ap_scan_bus_mutex);
	/* on_config_changed / on_scan_complete */
	if (H.registered)
		kvm_s390_ap_matrix_config_removed(apm, aqm);
	/* ap_scan_adapter(): the devices go away; remove() for those of apmatrix */
	mutex_lock(&ap_perms_mutex);
	for (apqn = 0; apqn < NQ; apqn++) {
		struct simq *q = &H.q[apqn];

		if (!q->exists || !(test_bit_inv(apqn >> 8, apm) || test_bit_inv(apqn & 0xff, aqm)))
			continue;
		if (q->driver == SIM_DRV_APMATRIX)
			removed[n++] = apqn;
		pthread_mutex_lock(&H.pq_lock);
		q->exists = false;
		q->resetting = false;
		pthread_mutex_unlock(&H.pq_lock);
		q->changed = true;
	}
	mutex_unlock(&ap_perms_mutex);
	for (apqn = 0; apqn < n; apqn++) {
		kvm_s390_ap_matrix_queue_removed(removed[apqn]);
		mutex_lock(&ap_perms_mutex);
		H.q[removed[apqn]].driver = SIM_DRV_NONE;
		mutex_unlock(&ap_perms_mutex);
	}
	mutex_unlock(&ap_scan_bus_mutex);
	free(removed);
}

int sim_host_unbind(unsigned int apid, unsigned int apqi)
{
	unsigned int apqn = apqn_of(apid & 0xff, apqi & 0xff);
	struct simq *q = &H.q[apqn];
	enum sim_driver was;

	mutex_lock(&ap_perms_mutex);
	was = q->exists ? q->driver : SIM_DRV_NONE;
	mutex_unlock(&ap_perms_mutex);
	if (!q->exists)
		return -ENODEV;
	if (was == SIM_DRV_NONE)
		return -ENODEV;
	/* device_release_driver() -> the driver's remove(), then the bus's ZAPQ */
	if (was == SIM_DRV_APMATRIX)
		kvm_s390_ap_matrix_queue_removed(apqn);
	bus_queue_reset(apqn);
	mutex_lock(&ap_perms_mutex);
	q->driver = SIM_DRV_NONE;
	q->changed = true;
	mutex_unlock(&ap_perms_mutex);
	return 0;
}

int sim_host_bind(unsigned int apid, unsigned int apqi, enum sim_driver drv)
{
	struct simq *q = &H.q[apqn_of(apid & 0xff, apqi & 0xff)];
	int rc = 0;

	mutex_lock(&ap_perms_mutex);
	if (!q->exists)
		rc = -ENODEV;
	else if (q->driver != SIM_DRV_NONE)
		rc = -EBUSY;
	else if ((drv == SIM_DRV_CEX4QUEUE) != default_owned(apid & 0xff, apqi & 0xff))
		rc = -ENODEV;	/* the AP bus refuses a probe against the masks */
	else {
		q->driver = drv;
		q->changed = true;
	}
	mutex_unlock(&ap_perms_mutex);
	return rc;
}

void sim_host_set_reset_mode(unsigned int apid, unsigned int apqi,
			     enum sim_reset_mode mode, unsigned int polls)
{
	struct simq *q = &H.q[apqn_of(apid & 0xff, apqi & 0xff)];

	pthread_mutex_lock(&H.pq_lock);
	q->mode = mode;
	q->mode_polls = polls;
	q->se_pending = mode == SIM_RESET_SE_BUSY;
	if (mode == SIM_RESET_NORMAL && q->resetting && q->polls_left == UINT_MAX)
		q->polls_left = 1;	/* a stuck reset is let go */
	pthread_mutex_unlock(&H.pq_lock);
}

void sim_host_for_each_changed(void (*fn)(unsigned int, unsigned int,
					 const struct sim_queue_info *, void *),
			       void *arg)
{
	struct sim_queue_info qi;
	unsigned int apqn;

	for (apqn = 0; apqn < NQ; apqn++) {
		if (!H.q[apqn].changed)
			continue;
		H.q[apqn].changed = false;
		if (!fn)
			continue;
		sim_host_queue_info(apqn >> 8, apqn & 0xff, &qi);
		fn(apqn >> 8, apqn & 0xff, &qi, arg);
	}
}

void sim_host_stats(struct sim_stats *st)
{
	pthread_mutex_lock(&H.st_lock);
	*st = H.st;
	st->vms = H.live_vms;
	pthread_mutex_unlock(&H.st_lock);
	st->violations += shim_violations();
	st->module_refs = __atomic_load_n(&drv_module.refcnt, __ATOMIC_SEQ_CST);
}

void sim_host_fail_alloc(long nth)
{
	shim_fail_alloc_nth(nth);
}

size_t sim_host_dmesg(char *buf, size_t len)
{
	size_t n;

	pthread_mutex_lock(&H.log_lock);
	n = ring_dump(&H.dmesg, buf, len);
	pthread_mutex_unlock(&H.log_lock);
	return n;
}

/* ---- KVM ------------------------------------------------------------------ */

void kvm_get_kvm(struct kvm *kvm)
{
	__atomic_add_fetch(&kvm->users_count, 1, __ATOMIC_SEQ_CST);
}

bool kvm_get_kvm_safe(struct kvm *kvm)
{
	int c = __atomic_load_n(&kvm->users_count, __ATOMIC_SEQ_CST);

	while (c > 0)
		if (__atomic_compare_exchange_n(&kvm->users_count, &c, c + 1, false,
						__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			return true;
	return false;
}

void kvm_put_kvm(struct kvm *kvm)
{
	if (__atomic_sub_fetch(&kvm->users_count, 1, __ATOMIC_SEQ_CST) < 0)
		sim_violation("kvm_put_kvm below zero");
}

/* the leak check: a queue reaching a guest with another guest's data */
static void guest_gets(struct sim_vm *vm, const unsigned long *apm,
		       const unsigned long *aqm, unsigned int na, unsigned int nd)
{
	unsigned long a, d;

	pthread_mutex_lock(&H.pq_lock);
	for_each_set_bit_inv(a, apm, na) {
		for_each_set_bit_inv(d, aqm, nd) {
			struct simq *q = &H.q[apqn_of(a, d)];

			if (q->guest_data && q->guest_data != vm->id) {
				pthread_mutex_unlock(&H.pq_lock);
				STAT_INC(leaks);
				sim_violation("queue %02lx.%04lx given to vm%d with vm%d's data (not reset)",
					      a, d, vm->id, q->guest_data);
				pthread_mutex_lock(&H.pq_lock);
			}
			if (q->exists)
				q->guest_data = vm->id;
		}
	}
	pthread_mutex_unlock(&H.pq_lock);
}

void kvm_arch_crypto_set_masks(struct kvm *kvm, unsigned long *apm,
			       unsigned long *aqm, unsigned long *adm)
{
	struct sim_vm *vm = kvm->sim;
	struct kvm_s390_crypto_cb *crycb = kvm->arch.crypto.crycb;
	unsigned int na = 256, nd = 256;

	lockdep_assert_held(&kvm->lock);
	/* kvm_s390_vcpu_block_all(), ..., KVM_REQ_VSIE_RESTART: one kick round */
	vm->kicks++;
	STAT_INC(kicks);
	switch (kvm->arch.crypto.crycbd & CRYCB_FORMAT_MASK) {
	case CRYCB_FORMAT2:
		memcpy(crycb->apcb1.apm, apm, 32);
		memcpy(crycb->apcb1.aqm, aqm, 32);
		memcpy(crycb->apcb1.adm, adm, 32);
		VM_EVENT(kvm, 3, "SET CRYCB: apm %016lx %016lx %016lx %016lx", apm[0], apm[1], apm[2], apm[3]);
		VM_EVENT(kvm, 3, "SET CRYCB: aqm %016lx %016lx %016lx %016lx", aqm[0], aqm[1], aqm[2], aqm[3]);
		VM_EVENT(kvm, 3, "SET CRYCB: adm %016lx %016lx %016lx %016lx", adm[0], adm[1], adm[2], adm[3]);
		break;
	default:
		/* memcpy of 8, 2 and 2 bytes on a big-endian machine: the
		 * leading IDs; anything beyond is silently dropped */
		if (!bitmap_empty(apm, 256) && find_next_bit_inv(apm, 256, 64) < 256)
			sim_violation("vm%d: format-%u CRYCB got APIDs > 63 (silently dropped)",
				      vm->id, kvm->arch.crypto.crycbd & CRYCB_FORMAT_MASK);
		if (find_next_bit_inv(aqm, 256, 16) < 256 || find_next_bit_inv(adm, 256, 16) < 256)
			sim_violation("vm%d: format-%u CRYCB got domains > 15 (silently dropped)",
				      vm->id, kvm->arch.crypto.crycbd & CRYCB_FORMAT_MASK);
		crycb->apcb0.apm[0] = apm[0];
		crycb->apcb0.aqm[0] = (crycb->apcb0.aqm[0] & 0x0000ffffffffffffUL) | (aqm[0] & 0xffff000000000000UL);
		crycb->apcb0.adm[0] = (crycb->apcb0.adm[0] & 0x0000ffffffffffffUL) | (adm[0] & 0xffff000000000000UL);
		VM_EVENT(kvm, 3, "SET CRYCB: apm %016lx aqm %04x adm %04x", apm[0],
			 (unsigned int)(aqm[0] >> 48), (unsigned int)(adm[0] >> 48));
		na = 64;
		nd = 16;
		break;
	}
	guest_gets(vm, apm, aqm, na, nd);
}

void kvm_arch_crypto_clear_masks(struct kvm *kvm)
{
	struct sim_vm *vm = kvm->sim;

	lockdep_assert_held(&kvm->lock);
	vm->kicks++;
	STAT_INC(kicks);
	memset(&kvm->arch.crypto.crycb->apcb0, 0, sizeof(kvm->arch.crypto.crycb->apcb0));
	memset(&kvm->arch.crypto.crycb->apcb1, 0, sizeof(kvm->arch.crypto.crycb->apcb1));
	VM_EVENT(kvm, 3, "%s", "CLR CRYCB:");
}

struct sim_vm *sim_vm_create(int crycb_format)
{
	struct sim_vm *vm;

	if (crycb_format < 0 || crycb_format > 2)
		return NULL;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return NULL;
	vm->events = calloc(1, sizeof(*vm->events));
	if (!vm->events) {
		free(vm);
		return NULL;
	}
	pthread_mutex_init(&vm->ev_lock, NULL);
	shim_mutex_init(&vm->kvm.lock, "&kvm->lock");
	vm->kvm.sim = vm;
	vm->kvm.users_count = 1;
	vm->kvm.arch.crypto.crycb = &vm->crycb;
	/* kvm_s390_set_crycb_format(): the designation holds the format */
	vm->kvm.arch.crypto.crycbd = crycb_format == 2 ? CRYCB_FORMAT2 :
				     crycb_format == 1 ? CRYCB_FORMAT1 : CRYCB_FORMAT0;
	pthread_mutex_lock(&H.st_lock);
	vm->id = ++H.next_vm_id;
	H.live_vms++;
	pthread_mutex_unlock(&H.st_lock);
	VM_EVENT(&vm->kvm, 3, "vm created with crycb format %d", crycb_format);
	return vm;
}

void sim_vm_destroy(struct sim_vm *vm)
{
	if (!vm)
		return;
	/* kvm_arch_destroy_vm() */
	kvm_s390_ap_matrix_destroy(&vm->kvm);
	if (vm->kvm.users_count != 1)
		sim_violation("vm%d destroyed with %d references", vm->id, vm->kvm.users_count);
	mutex_destroy(&vm->kvm.lock);
	pthread_mutex_lock(&H.st_lock);
	H.live_vms--;
	pthread_mutex_unlock(&H.st_lock);
	pthread_mutex_destroy(&vm->ev_lock);
	free(vm->events);
	free(vm);
}

int sim_vm_id(const struct sim_vm *vm)
{
	return vm->id;
}

/* kvm-s390.c: kvm_s390_vm_has_attr(), crypto group */
int sim_vm_has_attr(struct sim_vm *vm, uint64_t group, uint64_t attr)
{
	(void)vm;
	STAT_INC(has_calls);
	if (group != KVM_S390_VM_CRYPTO)
		return -ENXIO;
	switch (attr) {
	case KVM_S390_VM_CRYPTO_ENABLE_AES_KW:
	case KVM_S390_VM_CRYPTO_ENABLE_DEA_KW:
	case KVM_S390_VM_CRYPTO_DISABLE_AES_KW:
	case KVM_S390_VM_CRYPTO_DISABLE_DEA_KW:
		return 0;
	case KVM_S390_VM_CRYPTO_ENABLE_APIE:
	case KVM_S390_VM_CRYPTO_DISABLE_APIE:
		return ap_instructions_available() ? 0 : -ENXIO;
	case KVM_S390_VM_CRYPTO_SET_AP_MATRIX:
		return kvm_s390_ap_matrix_has();
	default:
		return -ENXIO;
	}
}

/* kvm-s390.c: kvm_s390_vm_set_attr(): SET_AP_MATRIX is dispatched before
 * kvm_s390_vm_set_crypto() takes kvm->lock */
int sim_vm_set_attr(struct sim_vm *vm, uint64_t group, uint64_t attr, void *payload)
{
	struct kvm_device_attr a = {
		.group = (__u32)group,
		.attr = attr,
		.addr = (__u64)(uintptr_t)payload,
	};
	int rc = 0;

	STAT_INC(set_calls);
	if (group != KVM_S390_VM_CRYPTO)
		return -ENXIO;
	if (attr == KVM_S390_VM_CRYPTO_SET_AP_MATRIX)
		return kvm_s390_ap_matrix_set(&vm->kvm, &a);
	mutex_lock(&vm->kvm.lock);
	switch (attr) {
	case KVM_S390_VM_CRYPTO_ENABLE_APIE:
		if (!ap_instructions_available())
			rc = -EOPNOTSUPP;
		else
			vm->kvm.arch.crypto.apie = 1;
		break;
	case KVM_S390_VM_CRYPTO_DISABLE_APIE:
		if (!ap_instructions_available())
			rc = -EOPNOTSUPP;
		else
			vm->kvm.arch.crypto.apie = 0;
		break;
	case KVM_S390_VM_CRYPTO_ENABLE_AES_KW:
	case KVM_S390_VM_CRYPTO_ENABLE_DEA_KW:
	case KVM_S390_VM_CRYPTO_DISABLE_AES_KW:
	case KVM_S390_VM_CRYPTO_DISABLE_DEA_KW:
		break;
	default:
		rc = -ENXIO;
	}
	mutex_unlock(&vm->kvm.lock);
	return rc;
}

int sim_vm_get_attr(struct sim_vm *vm, uint64_t group, uint64_t attr, void *payload)
{
	struct kvm_device_attr a = {
		.group = (__u32)group,
		.attr = attr,
		.addr = (__u64)(uintptr_t)payload,
	};

	STAT_INC(get_calls);
	/* kvm_s390_vm_get_attr(): the crypto group goes to ap_matrix.c */
	if (group == KVM_S390_VM_CRYPTO)
		return kvm_s390_ap_matrix_get(&vm->kvm, &a);
	return -ENXIO;
}

void sim_vm_crycb(struct sim_vm *vm, struct sim_masks *m, bool *apie)
{
	struct kvm_s390_crypto_cb *c = &vm->crycb;
	int i;

	mutex_lock(&vm->kvm.lock);
	memset(m, 0, sizeof(*m));
	if ((vm->kvm.arch.crypto.crycbd & CRYCB_FORMAT_MASK) == CRYCB_FORMAT2) {
		for (i = 0; i < 4; i++) {
			m->apm[i] = c->apcb1.apm[i];
			m->aqm[i] = c->apcb1.aqm[i];
			m->adm[i] = c->apcb1.adm[i];
		}
	} else {
		m->apm[0] = c->apcb0.apm[0];
		m->aqm[0] = c->apcb0.aqm[0] & 0xffff000000000000UL;
		m->adm[0] = c->apcb0.adm[0] & 0xffff000000000000UL;
	}
	*apie = vm->kvm.arch.crypto.apie;
	mutex_unlock(&vm->kvm.lock);
}

unsigned long sim_vm_kicks(struct sim_vm *vm)
{
	return vm->kicks;
}

size_t sim_vm_events(struct sim_vm *vm, char *buf, size_t len)
{
	size_t n;

	pthread_mutex_lock(&vm->ev_lock);
	n = ev_dump(vm->events, buf, len);
	pthread_mutex_unlock(&vm->ev_lock);
	return n;
}

/* the KUnit tunables of ap_matrix.c (CONFIG_KUNIT is on in the sim build) */
void sim_host_set_reset_timing(int interval_ms, int polls)
{
	if (interval_ms >= 0)
		kvm_s390_ap_matrix_tunables.interval_ms = (unsigned int)interval_ms;
	if (polls >= 0)
		kvm_s390_ap_matrix_tunables.polls = (unsigned int)polls;
}
