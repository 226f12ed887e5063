// SPDX-License-Identifier: GPL-2.0
/*
 * The simulated s390 host (see simhost.h). Compiled against the shims, like
 * ap_matrix.c, and linked with the real ap_matrix.c and the real AP driver
 * ap_matrix_drv.c: this file plays the parts of the kernel around them
 * that the series does not change or that need the machine: the AP bus
 * (ap_bus.c: drivers, queue devices and their binding, apmask/aqmask and
 * the in_use() veto, QCI and configuration changes), PQAP, and
 * kvm-s390.c's crypto setup and attribute dispatch.
 *
 * Locks, as in the kernel: sim_scan_mutex (ap_scan_bus_mutex) ->
 * ap_perms_mutex (the driver's ops->lock) -> [ap_matrix.c's mutex] ->
 * kvm->lock. The PQAP model has its own leaf pthread lock.
 */
#include <linux/kvm_host.h>
#include <linux/device.h>
#include <asm/ap.h>
#include "ap_bus.h"
#include <asm/kvm_ap_matrix.h>
#include <asm/apmatrix.h>
#include "kvm-s390.h"
#include "ap_matrix.h"

#include "simhost.h"

#include <ctype.h>
#include <unistd.h>

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
	bool bus_reset_incomplete;	/* the AP bus's own reset at unbind did not finish */
	bool mdev_assigned;		/* a vfio_ap mediated device's matrix has it */
	bool fail_bind;			/* the next sysfs bind fails (a probe() error) */
	struct ap_queue *aq;		/* the queue device (NULL: not in the configuration) */
	/* the queue's last events, printed with an invariant it breaks (pq_lock) */
	char hist[16][48];
	unsigned int nhist;
	/* it left a guest and no reset started since then has completed */
	bool owed, owed_zapped;
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
	/* the APQNs this VM's CRYCB has, as crycb_owner records them (pq_lock) */
	unsigned long mir_apm[4], mir_aqm[4];
	bool dying;		/* its vCPUs are gone: CRYCB writes reach nobody */
};

static struct {
	unsigned int max_apid, max_apqi;
	unsigned long adm[4];			/* QCI: the configured control domains */
	struct simq *q;
	int *crycb_owner;	/* APQN -> id of the VM whose CRYCB has it, 0: none (pq_lock) */
	struct ap_driver *drv;	/* the apmatrix AP driver, when loaded */
	bool reloaded;		/* it was unloaded once */
	unsigned int kick_us;	/* how long a vCPU kick round takes */
	unsigned int prekick_us;/* how long before it starts (preemption) */
	unsigned long cfg_apm[4], cfg_aqm[4];	/* QCI: configured adapters, usage domains */
	bool registered;
	bool vfio_first;	/* vfio_ap registered before apmatrix */
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

DEFINE_MUTEX(ap_scan_bus_mutex);
DEFINE_MUTEX(ap_perms_mutex);
/* apmask/aqmask, as ap_bus.c's (read by the driver under ap_perms_mutex) */
struct ap_perms ap_perms;

/* the AP driver module's init and exit (module_init/module_exit) */
extern int (*shim_module_init_fn)(void);
extern void (*shim_module_exit_fn)(void);

void shim_set_log_sink(void (*sink)(int level, const char *line));
unsigned long shim_violations(void);
void shim_fail_alloc_nth(long n);

#define STAT_INC(f) do { pthread_mutex_lock(&H.st_lock); H.st.f++; pthread_mutex_unlock(&H.st_lock); } while (0)

/* the VM a thread acts for: its VMM's ioctl (set in sim_vm_*), NULL for the
 * AP bus, host events and kernel workers */
static __thread struct sim_vm *cur_vm;
/* the AP bus's own reset of a queue leaving its driver (not KVM's) */
static __thread bool in_bus_reset;

/* a queue's history; pq_lock held */
static void qhist(struct simq *q, const char *fmt, ...) __printf(2, 3);
static void qhist(struct simq *q, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q->hist[q->nhist++ % 16], sizeof(q->hist[0]), fmt, ap);
	va_end(ap);
}

/* pq_lock held */
static void qhist_dump(struct simq *q, unsigned int apqn)
{
	unsigned int i, n = q->nhist < 16 ? q->nhist : 16;

	fprintf(stderr, "apsim:   %02x.%04x history, oldest first:", apqn >> 8, apqn & 0xff);
	for (i = q->nhist - n; i < q->nhist; i++)
		fprintf(stderr, " | %s", q->hist[i % 16]);
	fprintf(stderr, "\n");
}

/* queue fields read without the lock that orders their writes */
#define QDRV(q) ((enum sim_driver)__atomic_load_n(&(q)->driver, __ATOMIC_ACQUIRE))
#define SET_QDRV(q, d) __atomic_store_n(&(q)->driver, (d), __ATOMIC_RELEASE)

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

/* an invariant of the contract broken: counted in its own field and in violations */
#define INVARIANT(field, fmt, ...) do {			\
	STAT_INC(field);					\
	sim_violation(fmt, ##__VA_ARGS__);			\
} while (0)

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

static bool default_owned(unsigned int apid, unsigned int apqi);

/* KVM resets a queue (through its driver's zapq op): it must be one no
 * other VM's CRYCB has and that the host's drivers do not hold */
static void check_kvm_zapq(unsigned int apqn)
{
	struct simq *q = &H.q[apqn & 0xffff];
	int owner, me = cur_vm ? cur_vm->id : 0;
	bool host;

	pthread_mutex_lock(&H.pq_lock);
	owner = H.crycb_owner[apqn & 0xffff];
	host = q->exists && (QDRV(q) == SIM_DRV_CEX4QUEUE ||
			     default_owned((apqn >> 8) & 0xff, apqn & 0xff));
	if ((owner && owner != me) || host)
		qhist_dump(q, apqn & 0xffff);
	pthread_mutex_unlock(&H.pq_lock);
	if (owner && owner != me)
		INVARIANT(inv_zap_other_vm, "ZAPQ of %02x.%04x (for vm%d) while vm%d's CRYCB has it",
			  (apqn >> 8) & 0xff, apqn & 0xff, me, owner);
	if (host)
		INVARIANT(inv_zap_host, "ZAPQ of %02x.%04x (for vm%d) while the host's drivers hold it",
			  (apqn >> 8) & 0xff, apqn & 0xff, me);
}

struct ap_queue_status ap_zapq(ap_qid_t qid, int fbit)
{
	struct simq *q = &H.q[qid & 0xffff];
	struct ap_queue_status s;

	(void)fbit;
	if (!in_bus_reset)
		check_kvm_zapq(qid & 0xffff);
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
		qhist(q, "zapq by %s%d", in_bus_reset ? "bus" : "vm", cur_vm ? cur_vm->id : 0);
		q->resetting = true;
		q->owed_zapped = q->owed;
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
		qhist(q, "tapq n/a by %s%d", in_bus_reset ? "bus" : "vm", cur_vm ? cur_vm->id : 0);
		s = status(R_Q_NOT_AVAIL, false);
	} else if (q->se_failed) {
		qhist(q, "tapq assoc-failed");
		/* every AP instruction fails this way until the queue is zapped again */
		s = status(R_ASSOC_FAILED, false);
	} else if (q->resetting && q->polls_left) {
		if (q->polls_left != UINT_MAX)
			q->polls_left--;
		qhist(q, "tapq ip by %s%d", in_bus_reset ? "bus" : "vm", cur_vm ? cur_vm->id : 0);
		s = status(R_RESET_IN_PROGRESS, false);
	} else {
		if (q->resetting) {
			q->resetting = false;
			q->resets++;
			q->guest_data = 0;	/* zeroized */
			if (q->owed_zapped)
				q->owed = q->owed_zapped = false;
			qhist(q, "reset done by %s%d", in_bus_reset ? "bus" : "vm", cur_vm ? cur_vm->id : 0);
		} else {
			qhist(q, "tapq ok by %s%d", in_bus_reset ? "bus" : "vm", cur_vm ? cur_vm->id : 0);
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

/* ---- the AP bus ------------------------------------------------------------ */

/* the masks are written under ap_perms_mutex and read also without it */
static bool mask_bit(const unsigned long *m, unsigned int id)
{
	return (__atomic_load_n(&m[id / 64], __ATOMIC_ACQUIRE) >> (63 - id % 64)) & 1;
}

static void mask_store(unsigned long *dst, const unsigned long *src)
{
	int i;

	for (i = 0; i < 4; i++)
		__atomic_store_n(&dst[i], src[i], __ATOMIC_RELEASE);
}

static bool default_owned(unsigned int apid, unsigned int apqi)
{
	return mask_bit(ap_perms.apm, apid) && mask_bit(ap_perms.aqm, apqi);
}

/* ap_bus.c: called by drivers with ap_perms_mutex held */
int ap_owned_by_def_drv(int card, int queue)
{
	if (card < 0 || card >= AP_DEVICES || queue < 0 || queue >= AP_DOMAINS)
		return -EINVAL;
	return default_owned((unsigned int)card, (unsigned int)queue);
}

int ap_apqn_in_matrix_owned_by_def_drv(unsigned long *apm, unsigned long *aqm)
{
	unsigned long a, d;

	for_each_set_bit_inv(a, apm, AP_DEVICES)
		for_each_set_bit_inv(d, aqm, AP_DOMAINS)
			if (default_owned(a, d))
				return 1;
	return 0;
}

/* QCI: the configuration (APXA, the highest IDs, the masks) */
int ap_qci(struct ap_config_info *info)
{
	int i;

	memset(info, 0, sizeof(*info));
	info->apxa = 1;
	info->qact = 1;
	info->na = (unsigned char)H.max_apid;
	info->nd = (unsigned char)H.max_apqi;
	for (i = 0; i < 4; i++) {
		info->apm[i] = __atomic_load_n(&H.cfg_apm[i], __ATOMIC_ACQUIRE);
		info->aqm[i] = __atomic_load_n(&H.cfg_aqm[i], __ATOMIC_ACQUIRE);
		info->adm[i] = __atomic_load_n(&H.adm[i], __ATOMIC_ACQUIRE);
	}
	return 0;
}

void ap_bus_force_rescan(void)
{
}

/* ap_device_probe(): the driver's probe(), without ap_perms_mutex */
static void drv_probe(unsigned int apqn)
{
	struct simq *q = &H.q[apqn];
	struct ap_driver *drv = H.drv;

	if (!drv || !q->aq)
		return;
	pthread_mutex_lock(&H.pq_lock);
	qhist(q, "probe");
	pthread_mutex_unlock(&H.pq_lock);
	q->aq->ap_dev.device.driver = &drv->driver;
	if (drv->probe && drv->probe(&q->aq->ap_dev))
		pr_warn("apmatrix probe of %02x.%04x failed\n", apqn >> 8, apqn & 0xff);
}

/* ap_device_remove(): the driver's remove() */
static void drv_remove(unsigned int apqn)
{
	struct simq *q = &H.q[apqn];
	struct ap_driver *drv = H.drv;

	if (!drv || !q->aq)
		return;
	pthread_mutex_lock(&H.pq_lock);
	qhist(q, "remove");
	pthread_mutex_unlock(&H.pq_lock);
	if (drv->remove)
		drv->remove(&q->aq->ap_dev);
	q->aq->ap_dev.device.driver = NULL;
}

static void bus_queue_reset(unsigned int apqn);

int ap_driver_register(struct ap_driver *drv, struct module *owner, char *name)
{
	unsigned int apqn;

	(void)owner;
	if (strcmp(name, "apmatrix") || H.drv)
		return -EBUSY;
	drv->driver.name = name;
	mutex_lock(&ap_perms_mutex);
	H.drv = drv;
	/* driver_attach(): every queue device that is the driver's. The first
	 * time, the tree says which (it is a snapshot of a host that runs the
	 * driver: a queue unbound there stays unbound); after an unload, every
	 * unbound queue set aside for guests */
	for (apqn = 0; apqn < NQ && H.reloaded; apqn++) {
		struct simq *q = &H.q[apqn];

		if (q->exists && QDRV(q) == SIM_DRV_NONE && !default_owned(apqn >> 8, apqn & 0xff)) {
			SET_QDRV(q, SIM_DRV_APMATRIX);
			q->changed = true;
		}
	}
	mutex_unlock(&ap_perms_mutex);
	for (apqn = 0; apqn < NQ; apqn++)
		if (H.q[apqn].exists && QDRV(&H.q[apqn]) == SIM_DRV_APMATRIX)
			drv_probe(apqn);
	return 0;
}

void ap_driver_unregister(struct ap_driver *drv)
{
	unsigned int apqn;

	if (H.drv != drv)
		return;
	H.reloaded = true;
	/* driver_unregister(): remove() for every device bound to it, then the
	 * bus resets the queue */
	for (apqn = 0; apqn < NQ; apqn++) {
		if (!H.q[apqn].exists || QDRV(&H.q[apqn]) != SIM_DRV_APMATRIX)
			continue;
		drv_remove(apqn);
		bus_queue_reset(apqn);
		mutex_lock(&ap_perms_mutex);
		SET_QDRV(&H.q[apqn], SIM_DRV_NONE);
		H.q[apqn].changed = true;
		mutex_unlock(&ap_perms_mutex);
	}
	H.drv = NULL;
}

int sim_queue_attr(unsigned int apid, unsigned int apqi, const char *name, char *buf, size_t len)
{
	unsigned int apqn = apqn_of(apid & 0xff, apqi & 0xff);
	struct simq *q = &H.q[apqn];
	char page[PAGE_SIZE];
	ssize_t n = -ENOENT;

	mutex_lock(&ap_perms_mutex);
	if (q->exists && q->aq && QDRV(q) == SIM_DRV_APMATRIX && H.drv) {
		memset(page, 0, sizeof(page));
		n = shim_device_attr_show(&q->aq->ap_dev.device, name, page);
	}
	mutex_unlock(&ap_perms_mutex);
	if (n < 0)
		return (int)n;
	return snprintf(buf, len, "%.*s", (int)n, page);
}

/* ---- host --------------------------------------------------------------- */

int sim_host_init(unsigned int max_apid, unsigned int max_apqi)
{
	if (max_apid > 255 || max_apqi > 255)
		return -EINVAL;
	if (!H.q) {
		H.q = calloc(NQ, sizeof(*H.q));
		H.crycb_owner = calloc(NQ, sizeof(*H.crycb_owner));
		if (!H.q || !H.crycb_owner)
			return -ENOMEM;
	}
	H.max_apid = max_apid;
	H.max_apqi = max_apqi;
	{
		/* every control domain up to the highest domain, until told */
		unsigned long adm[4] = { 0 };
		unsigned int d;

		for (d = 0; d <= max_apqi; d++)
			set_bit_inv(d, adm);
		mask_store(H.adm, adm);
	}
	{
		unsigned long ones[4] = { ~0UL, ~0UL, ~0UL, ~0UL };

		mask_store(ap_perms.apm, ones);
		mask_store(ap_perms.aqm, ones);
	}
	/* the contract: neither is held across a wait userspace controls */
	ap_scan_bus_mutex.ap_bus = true;
	ap_perms_mutex.ap_bus = true;
	shim_set_log_sink(log_sink);
	return 0;
}

/* modprobe ap_matrix_drv */
int sim_host_register(void)
{
	int rc;

	if (H.registered)
		return -EEXIST;
	if (!shim_module_init_fn)
		return -ENOENT;
	rc = shim_module_init_fn();
	if (!rc)
		H.registered = true;
	return rc;
}

/* rmmod ap_matrix_drv */
void sim_host_unregister(void)
{
	if (!H.registered)
		return;
	H.registered = false;
	if (shim_module_exit_fn)
		shim_module_exit_fn();
}

enum sim_queue_state sim_host_queue_state(unsigned int apid, unsigned int apqi, int *pid)
{
	pid_t p = 0;
	enum kvm_s390_ap_queue_state st;

	st = kvm_s390_ap_matrix_queue_state(apqn_of(apid & 0xff, apqi & 0xff), &p);
	*pid = p;
	switch (st) {
	case KVM_S390_AP_QUEUE_IN_USE:
		return SIM_QUEUE_IN_USE;
	case KVM_S390_AP_QUEUE_RESETTING:
		return SIM_QUEUE_RESETTING;
	case KVM_S390_AP_QUEUE_RESET_FAILED:
		return SIM_QUEUE_RESET_FAILED;
	default:
		return SIM_QUEUE_FREE;
	}
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

void sim_host_set_control_domains(const uint64_t adm[4])
{
	unsigned long m[4];
	int i;

	for (i = 0; i < 4; i++)
		m[i] = adm[i];
	mask_store(H.adm, m);
}

void sim_host_set_kick_delay(unsigned int us)
{
	__atomic_store_n(&H.kick_us, us, __ATOMIC_RELAXED);
}

void sim_host_set_prekick_delay(unsigned int us)
{
	__atomic_store_n(&H.prekick_us, us, __ATOMIC_RELAXED);
}

void sim_host_set_log_echo(bool on)
{
	H.echo = on;
}

static enum sim_driver default_binding(unsigned int apid, unsigned int apqi)
{
	return default_owned(apid, apqi) ? SIM_DRV_CEX4QUEUE : SIM_DRV_APMATRIX;
}

/* the driver the bus's re-probe finds first: vfio_ap when it registered first */
static enum sim_driver probe_binding(unsigned int apid, unsigned int apqi)
{
	enum sim_driver d = default_binding(apid, apqi);

	return d == SIM_DRV_APMATRIX && H.vfio_first ? SIM_DRV_VFIO_AP : d;
}

void sim_host_set_vfio_ap_first(bool first)
{
	mutex_lock(&ap_perms_mutex);
	H.vfio_first = first;
	mutex_unlock(&ap_perms_mutex);
}

void sim_host_fail_bind(unsigned int apid, unsigned int apqi)
{
	mutex_lock(&ap_perms_mutex);
	H.q[apqn_of(apid & 0xff, apqi & 0xff)].fail_bind = true;
	mutex_unlock(&ap_perms_mutex);
}

void sim_host_vfio_ap_assign(unsigned int apid, unsigned int apqi, bool assigned)
{
	struct simq *q = &H.q[apqn_of(apid & 0xff, apqi & 0xff)];

	mutex_lock(&ap_perms_mutex);
	pthread_mutex_lock(&H.pq_lock);
	q->mdev_assigned = assigned;
	pthread_mutex_unlock(&H.pq_lock);
	q->changed = true;
	mutex_unlock(&ap_perms_mutex);
}

void sim_host_add_queue(unsigned int apid, unsigned int apqi, enum sim_driver drv)
{
	unsigned int apqn = apqn_of(apid & 0xff, apqi & 0xff);
	struct simq *q = &H.q[apqn];
	unsigned long m[4];
	int i;

	if (!q->aq) {
		q->aq = calloc(1, sizeof(*q->aq));
		if (!q->aq)
			return;
		q->aq->qid = apqn;
		q->aq->ap_dev.device_type = AP_DEVICE_TYPE_CEX8;
		q->aq->ap_dev.device.kobj.name = strdup("queue");
	}
	for (i = 0; i < 4; i++)
		m[i] = __atomic_load_n(&H.cfg_apm[i], __ATOMIC_ACQUIRE);
	set_bit_inv(apid & 0xff, m);
	mask_store(H.cfg_apm, m);
	for (i = 0; i < 4; i++)
		m[i] = __atomic_load_n(&H.cfg_aqm[i], __ATOMIC_ACQUIRE);
	set_bit_inv(apqi & 0xff, m);
	mask_store(H.cfg_aqm, m);
	/* after the driver was unloaded, a new queue set aside for guests
	 * stays unbound (before it is first loaded, the tree's bindings are
	 * those of a host that runs it: they are probed at load) */
	if (drv == SIM_DRV_APMATRIX && !H.drv && H.reloaded)
		drv = SIM_DRV_NONE;
	mutex_lock(&ap_perms_mutex);
	pthread_mutex_lock(&H.pq_lock);
	q->exists = true;
	q->resetting = false;
	q->se_failed = false;
	q->guest_data = 0;
	q->owed = q->owed_zapped = false;
	q->bus_reset_incomplete = false;
	pthread_mutex_unlock(&H.pq_lock);
	SET_QDRV(q, drv);
	q->changed = true;
	mutex_unlock(&ap_perms_mutex);
	if (drv == SIM_DRV_APMATRIX)
		drv_probe(apqn);
}

void sim_host_add_queue_default(unsigned int apid, unsigned int apqi)
{
	sim_host_add_queue(apid, apqi, default_owned(apid & 0xff, apqi & 0xff) ?
				       SIM_DRV_CEX4QUEUE : SIM_DRV_APMATRIX);
}

void sim_host_queue_info(unsigned int apid, unsigned int apqi, struct sim_queue_info *qi)
{
	struct simq *q = &H.q[apqn_of(apid & 0xff, apqi & 0xff)];

	pthread_mutex_lock(&H.pq_lock);
	qi->exists = q->exists;
	qi->driver = QDRV(q);
	qi->default_owned = default_owned(apid & 0xff, apqi & 0xff);
	qi->zaps = q->zaps;
	qi->resets = q->resets;
	qi->guest_data = q->guest_data;
	qi->resetting = q->resetting;
	qi->mdev_assigned = q->mdev_assigned;
	pthread_mutex_unlock(&H.pq_lock);
}

void sim_host_load_masks(const uint64_t apmask[4], const uint64_t aqmask[4])
{
	int i;

	unsigned long ap[4], aq[4];

	for (i = 0; i < 4; i++) {
		ap[i] = apmask[i];
		aq[i] = aqmask[i];
	}
	mutex_lock(&ap_perms_mutex);
	mask_store(ap_perms.apm, ap);
	mask_store(ap_perms.aqm, aq);
	mutex_unlock(&ap_perms_mutex);
}

void sim_host_get_masks(uint64_t apmask[4], uint64_t aqmask[4])
{
	int i;

	mutex_lock(&ap_perms_mutex);
	for (i = 0; i < 4; i++) {
		apmask[i] = ap_perms.apm[i];
		aqmask[i] = ap_perms.aqm[i];
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

	in_bus_reset = true;
	st = ap_zapq(apqn, 0);
	if (st.response_code != R_NORMAL) {
		in_bus_reset = false;
		return;
	}
	for (i = 0; i < 1000; i++) {
		st = ap_tapq(apqn, NULL);
		if (st.response_code != R_RESET_IN_PROGRESS)
			break;
	}
	in_bus_reset = false;
	pthread_mutex_lock(&H.pq_lock);
	H.q[apqn].bus_reset_incomplete = st.response_code == R_RESET_IN_PROGRESS;
	pthread_mutex_unlock(&H.pq_lock);
}

/* queue devices of the driver "remove()"d, then probed by their new driver:
 * ap_bus_revise_bindings() after a mask change */
static void revise_bindings(void)
{
	unsigned int apqn;
	enum sim_driver want;
	unsigned int removed[64], probed[64];
	unsigned int nremoved, nprobed;

	do {
		nremoved = 0;
		nprobed = 0;
		mutex_lock(&ap_perms_mutex);
		for (apqn = 0; apqn < NQ; apqn++) {
			struct simq *q = &H.q[apqn];

			if (!q->exists)
				continue;
			want = probe_binding(apqn >> 8, apqn & 0xff);
			if (QDRV(q) == want)
				continue;
			/* __ap_revise_reserved(): only a queue that changed side
			 * (default driver or not) is reprobed; an unbound queue
			 * that stays taken stays unbound */
			if ((QDRV(q) == SIM_DRV_CEX4QUEUE) == (want == SIM_DRV_CEX4QUEUE) ||
			    (QDRV(q) == SIM_DRV_NONE && want != SIM_DRV_CEX4QUEUE))
				continue;
			if (QDRV(q) == SIM_DRV_APMATRIX) {
				/* remove() is called without ap_perms_mutex: collect */
				if (nremoved < ARRAY_SIZE(removed))
					removed[nremoved++] = apqn;
				continue;
			}
			SET_QDRV(q, want);
			q->changed = true;
			if (want == SIM_DRV_APMATRIX && !H.drv && H.reloaded) {
				SET_QDRV(q, SIM_DRV_NONE);	/* no driver to take it */
				continue;
			}
			if (want == SIM_DRV_APMATRIX && nprobed < ARRAY_SIZE(probed))
				probed[nprobed++] = apqn;
		}
		mutex_unlock(&ap_perms_mutex);
		/* the driver's probe(), without ap_perms_mutex */
		for (apqn = 0; apqn < nprobed; apqn++)
			drv_probe(probed[apqn]);
		for (apqn = 0; apqn < nremoved; apqn++) {
			drv_remove(removed[apqn]);
			bus_queue_reset(removed[apqn]);
			mutex_lock(&ap_perms_mutex);
			SET_QDRV(&H.q[removed[apqn]], default_binding(removed[apqn] >> 8,
									      removed[apqn] & 0xff));
			H.q[removed[apqn]].changed = true;
			mutex_unlock(&ap_perms_mutex);
		}
	} while (nremoved == ARRAY_SIZE(removed) || nprobed == ARRAY_SIZE(probed));
}

/* may KVM's owner table let a queue go back to the host? A queue whose
 * reset failed may (that is how an administrator recovers it). */
static bool kernel_lets_go(unsigned int apqn)
{
	enum kvm_s390_ap_queue_state st;
	pid_t pid;

	st = kvm_s390_ap_matrix_queue_state(apqn, &pid);
	return st == KVM_S390_AP_QUEUE_FREE || st == KVM_S390_AP_QUEUE_RESET_FAILED;
}

static bool kernel_free(unsigned int apqn)
{
	pid_t pid;

	return kvm_s390_ap_matrix_queue_state(apqn, &pid) == KVM_S390_AP_QUEUE_FREE;
}

/* a mask write the veto let through gives the queues of reserved (adapters
 * for apmask, domains for aqmask) back to the default drivers: none may be
 * in a CRYCB, held or resetting in KVM's table, or still hold a guest's
 * data; ap_perms_mutex held */
static void check_given_back(int which, const unsigned long *reserved, bool registered)
{
	unsigned int apid, apqi, apqn;
	int owner, data;
	bool gone, dirty;

	for (apqn = 0; apqn < NQ; apqn++) {
		apid = apqn >> 8;
		apqi = apqn & 0xff;
		if (which == 0 ? !test_bit_inv(apid, reserved) || !mask_bit(ap_perms.aqm, apqi)
			       : !test_bit_inv(apqi, reserved) || !mask_bit(ap_perms.apm, apid))
			continue;
		pthread_mutex_lock(&H.pq_lock);
		gone = !H.q[apqn].exists;
		owner = H.crycb_owner[apqn];
		data = H.q[apqn].guest_data;
		dirty = (data || H.q[apqn].owed) && !H.q[apqn].bus_reset_incomplete;
		pthread_mutex_unlock(&H.pq_lock);
		if (gone)
			continue;
		if (owner)
			INVARIANT(inv_host_unreset, "%02x.%04x given back to the host while vm%d's CRYCB has it",
				  apid, apqi, owner);
		else if (registered && !kernel_lets_go(apqn))
			INVARIANT(inv_host_unreset, "%02x.%04x given back to the host while KVM holds it or resets it",
				  apid, apqi);
		else if (dirty && registered && kernel_free(apqn))
			INVARIANT(inv_host_unreset, "%02x.%04x given back to the host with vm%d's data (not reset)",
				  apid, apqi, data);
	}
}

int sim_host_mask_write(int which, const char *text)
{
	unsigned long new[4], reserved[4];
	unsigned long *cur = which ? ap_perms.aqm : ap_perms.apm;
	bool changes, busy = false, giving_back;
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
	/* ap_bus.c's apmask_store(): every driver's in_use() */
	giving_back = bitmap_andnot(reserved, new, cur, 256);
	if (giving_back && H.drv && H.drv->in_use) {
		if (which == 0)
			busy = H.drv->in_use(reserved, ap_perms.aqm) != 0;
		else
			busy = H.drv->in_use(ap_perms.apm, reserved) != 0;
	}
	/* vfio_ap's in_use(): a queue a mediated device has may not go back */
	if (!busy && giving_back) {
		unsigned int apqn;

		for (apqn = 0; apqn < NQ && !busy; apqn++)
			busy = H.q[apqn].mdev_assigned &&
			       (which == 0 ? test_bit_inv(apqn >> 8, reserved) &&
					     mask_bit(ap_perms.aqm, apqn & 0xff)
					   : test_bit_inv(apqn & 0xff, reserved) &&
					     mask_bit(ap_perms.apm, apqn >> 8));
	}
	if (busy) {
		rc = -EBUSY;
		STAT_INC(mask_refused);
		goto out;
	}
	check_given_back(which, reserved, H.registered);
	mask_store(cur, new);
	mutex_unlock(&ap_perms_mutex);
	revise_bindings();
	return 0;
out:
	mutex_unlock(&ap_perms_mutex);
	return rc;
}

void sim_host_config_remove(const uint64_t apm_gone[4], const uint64_t aqm_gone[4],
			    const uint64_t adm_gone[4])
{
	unsigned long apm[4], aqm[4], adm[4], cur[4];
	struct ap_config_info old_info, new_info;
	unsigned int apqn, n = 0;
	unsigned int *removed;
	int i;

	for (i = 0; i < 4; i++) {
		apm[i] = apm_gone[i];
		aqm[i] = aqm_gone[i];
		adm[i] = adm_gone ? adm_gone[i] : 0;
		/* a usage domain that leaves takes its control domain along */
		adm[i] |= aqm[i];
		cur[i] = __atomic_load_n(&H.adm[i], __ATOMIC_ACQUIRE) & ~adm[i];
	}
	removed = calloc(NQ, sizeof(*removed));
	if (!removed)
		return;
	mutex_lock(&ap_scan_bus_mutex);
	/* ap_scan_bus(): a new QCI answer, the drivers' on_config_changed() */
	ap_qci(&old_info);
	mask_store(H.adm, cur);
	for (i = 0; i < 4; i++) {
		unsigned long a = __atomic_load_n(&H.cfg_apm[i], __ATOMIC_ACQUIRE) & ~apm[i];
		unsigned long d = __atomic_load_n(&H.cfg_aqm[i], __ATOMIC_ACQUIRE) & ~aqm[i];

		__atomic_store_n(&H.cfg_apm[i], a, __ATOMIC_RELEASE);
		__atomic_store_n(&H.cfg_aqm[i], d, __ATOMIC_RELEASE);
	}
	ap_qci(&new_info);
	if (H.drv && H.drv->on_config_changed)
		H.drv->on_config_changed(&new_info, &old_info);
	/* ap_scan_adapter(): the devices go away; remove() for those of apmatrix */
	mutex_lock(&ap_perms_mutex);
	for (apqn = 0; apqn < NQ; apqn++) {
		struct simq *q = &H.q[apqn];

		if (!q->exists || !(test_bit_inv(apqn >> 8, apm) || test_bit_inv(apqn & 0xff, aqm)))
			continue;
		if (QDRV(q) == SIM_DRV_APMATRIX)
			removed[n++] = apqn;
		/* a deconfigured adapter or domain keeps nothing: when it is
		 * configured again, the machine has reset it */
		pthread_mutex_lock(&H.pq_lock);
		q->exists = false;
		q->resetting = false;
		q->guest_data = 0;
		q->owed = q->owed_zapped = false;
		qhist(q, "deconfigured");
		pthread_mutex_unlock(&H.pq_lock);
		q->changed = true;
	}
	mutex_unlock(&ap_perms_mutex);
	/* the queue devices go: remove() for those of the driver */
	for (apqn = 0; apqn < n; apqn++) {
		drv_remove(removed[apqn]);
		mutex_lock(&ap_perms_mutex);
		SET_QDRV(&H.q[removed[apqn]], SIM_DRV_NONE);
		mutex_unlock(&ap_perms_mutex);
	}
	if (H.drv && H.drv->on_scan_complete)
		H.drv->on_scan_complete(&new_info, &old_info);
	mutex_unlock(&ap_scan_bus_mutex);
	free(removed);
}

int sim_host_unbind(unsigned int apid, unsigned int apqi)
{
	unsigned int apqn = apqn_of(apid & 0xff, apqi & 0xff);
	struct simq *q = &H.q[apqn];
	enum sim_driver was;

	mutex_lock(&ap_perms_mutex);
	was = q->exists ? QDRV(q) : SIM_DRV_NONE;
	mutex_unlock(&ap_perms_mutex);
	if (was == SIM_DRV_NONE)
		return -ENODEV;
	/* device_release_driver() -> the driver's remove(), then the bus's ZAPQ */
	if (was == SIM_DRV_APMATRIX)
		drv_remove(apqn);
	bus_queue_reset(apqn);
	mutex_lock(&ap_perms_mutex);
	SET_QDRV(q, SIM_DRV_NONE);
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
	else if (QDRV(q) != SIM_DRV_NONE)
		rc = -EBUSY;
	else if ((drv == SIM_DRV_CEX4QUEUE) != default_owned(apid & 0xff, apqi & 0xff))
		rc = -ENODEV;	/* the AP bus refuses a probe against the masks */
	else if (drv == SIM_DRV_APMATRIX && !H.drv)
		rc = -ENODEV;	/* no such driver */
	else if (q->fail_bind) {
		q->fail_bind = false;
		rc = -ENOMEM;	/* the driver's probe() failed: bind_store() says so */
	} else {
		SET_QDRV(q, drv);
		q->changed = true;
	}
	mutex_unlock(&ap_perms_mutex);
	if (!rc && drv == SIM_DRV_APMATRIX)
		drv_probe(apqn_of(apid & 0xff, apqi & 0xff));
	return rc;
}

void sim_host_set_reset_mode(unsigned int apid, unsigned int apqi,
			     enum sim_reset_mode mode, unsigned int polls)
{
	struct simq *q = &H.q[apqn_of(apid & 0xff, apqi & 0xff)];

	pthread_mutex_lock(&H.pq_lock);
	qhist(q, "mode %d", mode);
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
	st->lock_violations = shim_violations();
	st->violations += st->lock_violations;
	st->module_refs = __atomic_load_n(&__this_module.refcnt, __ATOMIC_SEQ_CST);
}

void shim_set_lock_bound(unsigned int ms);
unsigned long shim_lock_waits_over(unsigned long *max_us, const char **cls);

void sim_host_set_lock_bound(unsigned int ms)
{
	shim_set_lock_bound(ms);
}

unsigned long sim_host_lock_waits_over(unsigned long *max_us, const char **cls)
{
	return shim_lock_waits_over(max_us, cls);
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

/*
 * The machine's view of the CRYCBs: H.crycb_owner says which VM's CRYCB has
 * each APQN. When the masks change: no APQN may be in two CRYCBs, and a
 * queue that joins a CRYCB must not be under reset nor hold another
 * guest's data. apm/aqm NULL: the CRYCB is cleared (or the VM is gone).
 */
static void crycb_update(struct sim_vm *vm, const unsigned long *apm,
			 const unsigned long *aqm, unsigned int na, unsigned int nd)
{
	unsigned long a, d, old_apm[4], old_aqm[4];
	unsigned int apqn, nk = 0;
	unsigned short kapqn[64];
	unsigned char kstate[64];
	bool joined;
	pid_t pid;

	/* KVM's view of the queues, for the history (before pq_lock: the
	 * owner table's lock is never taken under it) */
	if (apm && bitmap_weight(apm, na) * bitmap_weight(aqm, nd) <= 64)
		for_each_set_bit_inv(a, apm, na)
			for_each_set_bit_inv(d, aqm, nd) {
				kapqn[nk] = (unsigned short)apqn_of(a, d);
				kstate[nk++] = (unsigned char)kvm_s390_ap_matrix_queue_state(apqn_of(a, d), &pid);
			}
	pthread_mutex_lock(&H.pq_lock);
	if (vm->dying) {
		/* kvm_arch_destroy_vm(): a late CRYCB write reaches no guest */
		pthread_mutex_unlock(&H.pq_lock);
		return;
	}
	memcpy(old_apm, vm->mir_apm, sizeof(old_apm));
	memcpy(old_aqm, vm->mir_aqm, sizeof(old_aqm));
	for_each_set_bit_inv(a, old_apm, 256)
		for_each_set_bit_inv(d, old_aqm, 256)
			if (H.crycb_owner[apqn_of(a, d)] == vm->id) {
				H.crycb_owner[apqn_of(a, d)] = 0;
				if (!apm || !(test_bit_inv(a, apm) && test_bit_inv(d, aqm))) {
					qhist(&H.q[apqn_of(a, d)], "leaves vm%d", vm->id);
					H.q[apqn_of(a, d)].owed = H.q[apqn_of(a, d)].exists;
					H.q[apqn_of(a, d)].owed_zapped = false;
				}
			}
	memset(vm->mir_apm, 0, sizeof(vm->mir_apm));
	memset(vm->mir_aqm, 0, sizeof(vm->mir_aqm));
	if (!apm) {
		pthread_mutex_unlock(&H.pq_lock);
		return;
	}
	for_each_set_bit_inv(a, apm, na)
		set_bit_inv(a, vm->mir_apm);
	for_each_set_bit_inv(d, aqm, nd)
		set_bit_inv(d, vm->mir_aqm);
	for_each_set_bit_inv(a, vm->mir_apm, 256) {
		for_each_set_bit_inv(d, vm->mir_aqm, 256) {
			struct simq *q = &H.q[apqn_of(a, d)];

			apqn = apqn_of(a, d);
			joined = !(test_bit_inv(a, old_apm) && test_bit_inv(d, old_aqm));
			if (H.crycb_owner[apqn] && H.crycb_owner[apqn] != vm->id)
				INVARIANT(inv_two_crycbs, "%02lx.%04lx in the CRYCBs of vm%d and vm%d",
					  a, d, H.crycb_owner[apqn], vm->id);
			if (joined && q->owed) {
				unsigned int k;

				for (k = 0; k < nk; k++)
					if (kapqn[k] == apqn)
						qhist(q, "joining vm%d by %s (kvm %d)", vm->id,
						      cur_vm ? "its ioctl" : "a worker", kstate[k]);
				INVARIANT(inv_claim_unreset, "%02lx.%04lx joined vm%d's CRYCB before the reset after its last guest completed",
					  a, d, vm->id);
				qhist_dump(q, apqn);
			}
			if (q->guest_data && q->guest_data != vm->id) {
				STAT_INC(leaks);
				sim_violation("queue %02lx.%04lx given to vm%d with vm%d's data (not reset)",
					      a, d, vm->id, q->guest_data);
				qhist_dump(q, apqn);
			}
			if (joined) {
				unsigned int k;
				int ks = -1;

				for (k = 0; k < nk; k++)
					if (kapqn[k] == apqn)
						ks = kstate[k];
				qhist(q, "joins vm%d by %s (kvm %d)", vm->id,
				      cur_vm ? "its ioctl" : "a worker", ks);
			}
			H.crycb_owner[apqn] = vm->id;
			if (q->exists)
				q->guest_data = vm->id;
		}
	}
	pthread_mutex_unlock(&H.pq_lock);
}

void sim_vm_guest_activity(struct sim_vm *vm)
{
	unsigned long a, d;

	pthread_mutex_lock(&H.pq_lock);
	for_each_set_bit_inv(a, vm->mir_apm, 256)
		for_each_set_bit_inv(d, vm->mir_aqm, 256)
			if (H.q[apqn_of(a, d)].exists && H.crycb_owner[apqn_of(a, d)] == vm->id)
				H.q[apqn_of(a, d)].guest_data = vm->id;
	pthread_mutex_unlock(&H.pq_lock);
}

/* something on the host holds ap_perms_mutex for ms (an apmask write or
 * an AP probe that takes long), from a thread of its own */
static void *hold_perms(void *arg)
{
	unsigned int ms = (unsigned int)(uintptr_t)arg;

	mutex_lock(&ap_perms_mutex);
	usleep(ms * 1000);
	mutex_unlock(&ap_perms_mutex);
	return NULL;
}

int sim_host_hold_perms(unsigned int ms)
{
	pthread_t th;

	if (pthread_create(&th, NULL, hold_perms, (void *)(uintptr_t)ms))
		return -EAGAIN;
	pthread_detach(th);
	usleep(1000);		/* it has the lock before the caller goes on */
	return 0;
}

/* vfio_ap's side (patch 0006): an mdev is attached to the VM under
 * kvm->lock (its pqap_hook set), refused if the VM holds an AP matrix */
static crypto_hook sim_vfio_ap_hook;

int sim_vm_vfio_ap(struct sim_vm *vm, bool attach)
{
	int rc = 0;

	mutex_lock(&vm->kvm.lock);
	if (!attach)
		vm->kvm.arch.crypto.pqap_hook = NULL;
	else if (READ_ONCE(vm->kvm.arch.crypto.ap_matrix))
		rc = -EEXIST;
	else if (vm->kvm.arch.crypto.pqap_hook)
		rc = -EBUSY;
	else
		vm->kvm.arch.crypto.pqap_hook = &sim_vfio_ap_hook;
	mutex_unlock(&vm->kvm.lock);
	return rc;
}

void sim_vm_hold_kvm_lock(struct sim_vm *vm, unsigned int ms)
{
	mutex_lock(&vm->kvm.lock);
	usleep(ms * 1000);	/* the VMM's own wait: not msleep's lock check */
	mutex_unlock(&vm->kvm.lock);
}

void kvm_arch_crypto_set_masks(struct kvm *kvm, unsigned long *apm,
			       unsigned long *aqm, unsigned long *adm)
{
	struct sim_vm *vm = kvm->sim;
	struct kvm_s390_crypto_cb *crycb = kvm->arch.crypto.crycb;
	unsigned int na = 256, nd = 256;

	lockdep_assert_held(&kvm->lock);
	/* a delay before kvm_s390_vcpu_block_all() (the caller preempted on
	 * its way here): the guest still runs with the old masks */
	if (__atomic_load_n(&H.prekick_us, __ATOMIC_RELAXED))
		usleep(__atomic_load_n(&H.prekick_us, __ATOMIC_RELAXED));
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
	crycb_update(vm, apm, aqm, na, nd);
	/* the guest does not run from block_all() on, so the machine's view
	 * changes at once; the round itself takes a while (under kvm->lock) */
	if (__atomic_load_n(&H.kick_us, __ATOMIC_RELAXED))
		usleep(__atomic_load_n(&H.kick_us, __ATOMIC_RELAXED));
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
	crycb_update(vm, NULL, NULL, 0, 0);
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
	kvm_s390_ap_matrix_init_vm(&vm->kvm);
	/* held across the SET's bounded reset wait, by design (the contract:
	 * a SET's hand-over finishes before the next SET on the VM begins) */
	vm->kvm.arch.crypto.ap_matrix_mutex.sleepable = true;
	/* the VMM: kvm_create_vm() records its creator */
	vm->kvm.userspace_pid = task_pid_nr(current);
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
	/* the vCPUs are gone: the guest no longer reaches its queues */
	crycb_update(vm, NULL, NULL, 0, 0);
	pthread_mutex_lock(&H.pq_lock);
	vm->dying = true;
	pthread_mutex_unlock(&H.pq_lock);
	/* kvm_arch_destroy_vm() */
	cur_vm = vm;
	kvm_s390_ap_matrix_destroy(&vm->kvm);
	cur_vm = NULL;
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
	if (attr == KVM_S390_VM_CRYPTO_SET_AP_MATRIX) {
		cur_vm = vm;
		rc = kvm_s390_ap_matrix_set(&vm->kvm, &a);
		cur_vm = NULL;
		return rc;
	}
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

/* ---- the calling task, files ------------------------------------------- */

struct sim_task *sim_task_enter(const struct sim_cred *c, int hup_fd)
{
	struct task_struct *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	shim_task_enter(t, c->pid, c->uid, c->gid, c->cap_eff, c->init_ns, hup_fd);
	return (struct sim_task *)t;
}

void sim_task_leave(struct sim_task *st)
{
	struct task_struct *t = (struct task_struct *)st;

	if (!t)
		return;
	shim_task_leave(t);
	free(t);
}

void sim_task_install(struct sim_task *st, int n, struct sim_file *f)
{
	shim_task_install((struct task_struct *)st, n, (struct file *)f);
}

struct sim_file *sim_task_take(struct sim_task *st, int n)
{
	struct task_struct *t = (struct task_struct *)st;
	struct file *f;

	if (n < 0 || n >= SHIM_MAX_FDS)
		return NULL;
	f = t->fds[n];
	t->fds[n] = NULL;
	return (struct sim_file *)f;
}

struct sim_file *sim_file_other(void)
{
	return (struct sim_file *)shim_other_file();
}

struct sim_file *sim_file_get(struct sim_file *f)
{
	return f ? (struct sim_file *)get_file((struct file *)f) : NULL;
}

void sim_file_put(struct sim_file *f)
{
	if (f)
		fput((struct file *)f);
}

const char *sim_file_name(const struct sim_file *f)
{
	const char *n = ((const struct file *)f)->anon_name;

	return n ? n : "";
}

unsigned long sim_file_ino(const struct sim_file *f)
{
	return ((const struct file *)f)->f_inode.i_ino;
}

size_t sim_file_fdinfo(struct sim_file *f, char *buf, size_t len)
{
	return shim_show_fdinfo((struct file *)f, buf, len);
}

long sim_dev_apmatrix_ioctl(unsigned int cmd, void *payload)
{
	struct miscdevice *misc = shim_misc_find("apmatrix");
	struct file *f;
	long rc;

	if (!misc)
		return -ENODEV;
	/* misc_open(): a file of the device, private_data the miscdevice */
	f = anon_inode_getfile(misc->name, misc->fops, misc, O_RDWR);
	if (IS_ERR(f))
		return PTR_ERR(f);
	rc = 0;
	if (misc->fops->open)
		rc = misc->fops->open(file_inode(f), f);
	if (!rc)
		rc = misc->fops->unlocked_ioctl ?
		     misc->fops->unlocked_ioctl(f, cmd, (unsigned long)(uintptr_t)payload) : -ENOTTY;
	fput(f);
	return rc;
}

/* the KUnit tunables of ap_matrix.c (CONFIG_KUNIT is on in the sim build) */
void sim_host_set_reset_timing(int interval_ms, int polls)
{
	if (interval_ms >= 0)
		kvm_s390_ap_matrix_tunables.interval_ms = (unsigned int)interval_ms;
	if (polls >= 0)
		kvm_s390_ap_matrix_tunables.polls = (unsigned int)polls;
}

void sim_host_set_worker_polls(int polls)
{
	if (polls >= 0)
		kvm_s390_ap_matrix_tunables.worker_polls = (unsigned int)polls;
}

void sim_host_flush(void)
{
	kvm_s390_ap_matrix_flush();
}
