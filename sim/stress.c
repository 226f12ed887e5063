// SPDX-License-Identifier: GPL-2.0
/*
 * apsim-stress - the real ap_matrix.c under concurrent load on the
 * simulated host (in process, like bench-set: no socket in the way).
 *
 *   apsim-stress [--seconds S] [--vmms N] [--threads T] [--seed X]
 *                [--slow F] [--race] [--kick-us US] [--prekick-us US]
 *
 * N VMMs, each a VM driven by T threads at once (as QEMU's vCPU and
 * monitor threads may issue the VM ioctl concurrently), do random SET,
 * SET with RESET, VALIDATE_ONLY, the empty matrix, GET and the VM's
 * destruction (the last close of its fd) on a host of 8 adapters x 8
 * domains. Every other VMM is unprivileged (no capability) and holds a
 * grant of its own for part of the host, passed with most of its SETs;
 * one ioctl in 20 comes from a client that dies before it is served (a
 * fatal signal: EINTR if it has to wait for a lock). Meanwhile the AP bus injects host events: adapters and domains
 * leave and come back, queues are unbound and bound again, apmask writes
 * give adapters to the host and take them back, resets turn slow or stuck
 * for a while, and "vCPU" threads hold a VM's kvm->lock as a long vCPU
 * ioctl does.
 *
 * The machine (simhost.c) checks throughout that no APQN is in two
 * CRYCBs, that KVM never zeroizes a queue another VM or the host's drivers
 * hold, that no queue joins a CRYCB or goes back to the host before its
 * reset completed (nor with another guest's data), and the shims check the
 * lock order (lockdep-lite), sleeping with a lock held and every WARN.
 * An unprivileged VM's CRYCB must always lie within its grant, EPERM is an
 * answer only for an unprivileged VMM and EINTR only for a dying one.
 * This program checks that no caller waits for an AP lock (ap_scan_bus,
 * ap_perms, ap_matrix) longer than the lock bound, and that no ioctl or
 * host event takes longer than the operation bound (a VMM's own
 * kvm->lock hold plus the reset waits). --slow F multiplies the bounds
 * (for ThreadSanitizer's slowdown).
 *
 * At the end it prints the operations and every invariant's count, and
 * exits 0 only when all are 0. --race adds a data race of its own (an
 * unlocked counter) so a ThreadSanitizer build shows it reports races.
 * --kick-us makes every CRYCB change take that long (vCPUs leaving SIE),
 * which widens the windows between deciding a matrix and writing it;
 * --prekick-us delays the start of every round (the caller preempted on
 * its way to block the vCPUs, the guest running with the old masks).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "simhost.h"

#define GROUP_CRYPTO 2
#define ATTR_SET_AP_MATRIX 6
#define F_VALIDATE_ONLY 0x1u
#define F_RESET 0x2u
#define F_GRANT 0x4u
/* uapi asm/apmatrix.h: APMATRIX_CREATE_GRANT, struct apmatrix_grant */
#define APMATRIX_CREATE_GRANT ((1U << 30) | (136U << 16) | (0xB9U << 8) | 0x01U)
struct grant_req {
	uint64_t apm[4], aqm[4], adm[4];
	uint32_t flags, reserved[9];
};
_Static_assert(sizeof(struct grant_req) == 136, "grant size");
/* the fd number the grant has in an unprivileged VMM's tasks */
#define GRANT_FD 7

/* struct kvm_s390_ap_matrix (136 bytes) */
struct kmatrix {
	uint64_t apm[4], aqm[4], adm[4];
	uint32_t flags;
	int32_t grant_fd;
	uint32_t reserved[8];
};
_Static_assert(sizeof(struct kmatrix) == 136, "payload size");

/* the host: adapters A0 .. A0 + NA - 1 x domains 0 .. ND - 1 */
#define A0 0x10
#define NA 8
#define ND 8
#define MAX_VMMS 32

/* reset wait of ap_matrix.c in the run: TAPQ every 1 ms, 20 polls */
#define RESET_INTERVAL_MS 1
#define RESET_POLLS 20
/* how long a "vCPU" holds its VM's kvm->lock */
#define KVM_HOLD_MS 200

static struct {
	unsigned int seconds, nvmms, threads, slow;
	unsigned long seed;
	bool race;
	unsigned int lock_bound_ms, op_bound_ms, kick_us, prekick_us;
} opt = { .seconds = 20, .nvmms = 6, .threads = 2, .slow = 1, .seed = 0 };

struct vmm {
	pthread_rwlock_t rw;	/* read: an ioctl on the VM fd; write: its last close */
	struct sim_vm *vm;
	int id;
	bool unpriv;		/* no CAP_SYS_ADMIN: needs its grant to add */
	struct sim_file *grant;
	struct grant_req g;	/* what the grant covers */
};

static struct vmm vmms[MAX_VMMS];
static atomic_bool stop;

/* ---- counts ------------------------------------------------------------ */

enum op { OP_SET, OP_RESET, OP_VALIDATE, OP_EMPTY, OP_GET, OP_DESTROY, OP_N };
static const char *const op_name[OP_N] = {
	"set", "set+reset", "validate-only", "empty", "get", "destroy",
};

enum ev {
	EV_REMOVE_ADAPTER, EV_REMOVE_DOMAIN, EV_UNBIND, EV_MASK_GIVE, EV_MASK_TAKE,
	EV_RESET_SLOW, EV_RESET_STUCK, EV_KVM_HOLD, EV_N
};
static const char *const ev_name[EV_N] = {
	"adapter removed", "domain removed", "queue unbound", "apmask give-back",
	"apmask take", "reset slow", "reset stuck", "kvm->lock held",
};

/* the answers the contract allows for a valid request from a VMM */
static const int known_errno[] = {
	0, EADDRNOTAVAIL, EADDRINUSE, EBUSY, EIO, EINTR, ENODEV, EPERM,
};
#define NERR (sizeof(known_errno) / sizeof(known_errno[0]))

static atomic_ulong op_count[OP_N], op_result[OP_N][NERR], op_unexpected[OP_N];
static atomic_ulong op_max_us[OP_N], op_over[OP_N];
static atomic_ulong ev_count[EV_N], ev_busy, ev_max_us, ev_over;
static atomic_ulong beyond_grant, dying_ops;
static unsigned long racy_counter;	/* --race: written without a lock on purpose */

static unsigned long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long)ts.tv_sec * 1000000UL + (unsigned long)ts.tv_nsec / 1000;
}

static void atomic_max(atomic_ulong *m, unsigned long v)
{
	unsigned long cur = atomic_load(m);

	while (v > cur && !atomic_compare_exchange_weak(m, &cur, v))
		;
}

static unsigned int rnd(unsigned long *s, unsigned int n)
{
	/* xorshift64 */
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return n ? (unsigned int)(*s % n) : 0;
}

static void set_id(uint64_t *m, unsigned int id)
{
	m[id / 64] |= 1ULL << (63 - id % 64);
}

static void sleep_ms(unsigned int ms)
{
	usleep(ms * 1000);
}

/* ---- VMM threads --------------------------------------------------------- */

static void random_matrix(unsigned long *s, struct kmatrix *m)
{
	unsigned int i, n;

	memset(m, 0, sizeof(*m));
	n = 1 + rnd(s, 2);
	for (i = 0; i < n; i++)
		set_id(m->apm, A0 + rnd(s, NA));
	n = 1 + rnd(s, 3);
	for (i = 0; i < n; i++)
		set_id(m->aqm, rnd(s, ND));
	if (rnd(s, 2))
		set_id(m->adm, rnd(s, 4));
}

/* most of an unprivileged VMM's requests stay within its grant */
static void within_grant(struct kmatrix *m, const struct grant_req *g)
{
	unsigned int i;

	for (i = 0; i < 4; i++) {
		m->apm[i] &= g->apm[i];
		m->aqm[i] &= g->aqm[i];
		m->adm[i] &= g->adm[i];
	}
}

static void record(enum op op, int rc, unsigned long us, const struct vmm *v, bool dying)
{
	unsigned int i;

	/* EPERM only without authority, EINTR only for a client that died */
	if ((rc == -EPERM && !v->unpriv) || (rc == -EINTR && !dying))
		rc = -rc - 100000;

	atomic_fetch_add(&op_count[op], 1);
	for (i = 0; i < NERR; i++)
		if (-rc == known_errno[i])
			break;
	if (i < NERR) {
		atomic_fetch_add(&op_result[op][i], 1);
	} else {
		atomic_fetch_add(&op_unexpected[op], 1);
		fprintf(stderr, "apsim-stress: %s answered %d: not an answer the contract allows "
			"(%s VMM%s)\n", op_name[op], rc < -100000 ? -(rc + 100000) : rc,
			v->unpriv ? "unprivileged" : "privileged", dying ? ", dying client" : "");
	}
	atomic_max(&op_max_us[op], us);
	if (us > opt.op_bound_ms * 1000UL) {
		atomic_fetch_add(&op_over[op], 1);
		fprintf(stderr, "apsim-stress: %s took %lu ms (bound %u ms)\n",
			op_name[op], us / 1000, opt.op_bound_ms);
	}
}

/* an unprivileged VM's CRYCB lies within its grant at every moment */
static void check_within_grant(const struct vmm *v)
{
	struct sim_masks c;
	unsigned int i;
	bool apie;

	if (!v->unpriv)
		return;
	sim_vm_crycb(v->vm, &c, &apie);
	for (i = 0; i < 4; i++) {
		if ((c.apm[i] & ~v->g.apm[i]) || (c.aqm[i] & ~v->g.aqm[i]) ||
		    (c.adm[i] & ~v->g.adm[i])) {
			atomic_fetch_add(&beyond_grant, 1);
			fprintf(stderr, "apsim-stress: vm%d (unprivileged) holds what its grant does not cover\n",
				sim_vm_id(v->vm));
			return;
		}
	}
}

/* an unprivileged VMM's grant: 3 adapters x 4 domains and 2 control
 * domains of the host, created as root on /dev/apmatrix */
static void make_grant(struct vmm *v, unsigned long *s)
{
	struct sim_cred root = { .pid = 9999, .cap_eff = ~0ULL, .init_ns = true };
	struct sim_task *t;
	unsigned int i;
	long fd;

	memset(&v->g, 0, sizeof(v->g));
	for (i = 0; i < 3; i++)
		set_id(v->g.apm, A0 + rnd(s, NA));
	for (i = 0; i < 4; i++)
		set_id(v->g.aqm, rnd(s, ND));
	set_id(v->g.adm, rnd(s, 4));
	set_id(v->g.adm, rnd(s, 4));
	t = sim_task_enter(&root, -1);
	fd = sim_dev_apmatrix_ioctl(APMATRIX_CREATE_GRANT, &v->g, O_RDWR);
	v->grant = fd >= 0 ? sim_task_take(t, (int)fd) : NULL;
	sim_task_leave(t);
	if (!v->grant) {
		fprintf(stderr, "apsim-stress: creating a grant failed: %ld\n", fd);
		exit(1);
	}
}

static void *vmm_thread(void *arg)
{
	struct vmm *v = &vmms[(uintptr_t)arg / opt.threads];
	unsigned long s = opt.seed * 7919 + (uintptr_t)arg * 104729 + 1, t0;
	struct kmatrix m, got;
	struct sim_cred cred;
	struct sim_task *t;
	int rc, sp[2];
	bool dying;
	enum op op;
	unsigned int r;

	while (!atomic_load(&stop)) {
		r = rnd(&s, 100);
		op = r < 40 ? OP_SET : r < 55 ? OP_RESET : r < 70 ? OP_VALIDATE :
		     r < 80 ? OP_EMPTY : r < 97 ? OP_GET : OP_DESTROY;
		if (opt.race)
			racy_counter++;
		if (op == OP_DESTROY) {
			/* the last close of the VM fd: no ioctl is in flight */
			pthread_rwlock_wrlock(&v->rw);
			t0 = now_us();
			sim_vm_destroy(v->vm);
			v->vm = sim_vm_create(rnd(&s, 4) ? 2 : 1);
			record(op, v->vm ? 0 : -ENOMEM, now_us() - t0, v, false);
			pthread_rwlock_unlock(&v->rw);
			continue;
		}
		random_matrix(&s, &m);
		if (v->unpriv && rnd(&s, 5))
			within_grant(&m, &v->g);
		if (op == OP_RESET)
			m.flags = F_RESET;
		else if (op == OP_VALIDATE)
			m.flags = F_VALIDATE_ONLY;
		else if (op == OP_EMPTY)
			memset(&m, 0, sizeof(m));
		/* the ioctl runs as the VMM's task: its credentials, its grant
		 * (passed with most SETs), and one in 20 clients dies first */
		dying = rnd(&s, 20) == 0;
		cred.pid = 10000 + (int)((uintptr_t)arg);
		cred.uid = cred.gid = v->unpriv ? 65534 : 0;
		cred.cap_eff = v->unpriv ? 0 : ~0ULL;
		cred.init_ns = true;
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp))
			continue;
		if (dying) {
			close(sp[1]);
			sp[1] = -1;
			atomic_fetch_add(&dying_ops, 1);
		}
		t = sim_task_enter(&cred, sp[0]);
		if (v->grant && rnd(&s, 10)) {
			sim_task_install(t, GRANT_FD, v->grant);
			m.flags |= F_GRANT;
			m.grant_fd = GRANT_FD;
		}
		pthread_rwlock_rdlock(&v->rw);
		t0 = now_us();
		if (op == OP_GET)
			rc = sim_vm_get_attr(v->vm, GROUP_CRYPTO, ATTR_SET_AP_MATRIX, &got);
		else
			rc = sim_vm_set_attr(v->vm, GROUP_CRYPTO, ATTR_SET_AP_MATRIX, &m);
		record(op, rc, now_us() - t0, v, dying);
		/* the guest runs and uses its queues */
		sim_vm_guest_activity(v->vm);
		check_within_grant(v);
		pthread_rwlock_unlock(&v->rw);
		sim_task_leave(t);
		close(sp[0]);
		if (sp[1] >= 0)
			close(sp[1]);
		if (rnd(&s, 4) == 0)
			sleep_ms(1);
	}
	return NULL;
}

/* a vCPU ioctl that holds kvm->lock for a while */
static void *vcpu_thread(void *arg)
{
	unsigned long s = opt.seed * 31 + 17;
	struct vmm *v;

	(void)arg;
	while (!atomic_load(&stop)) {
		sleep_ms(150 + rnd(&s, 200));
		if (atomic_load(&stop))
			break;
		v = &vmms[rnd(&s, opt.nvmms)];
		pthread_rwlock_rdlock(&v->rw);
		sim_vm_hold_kvm_lock(v->vm, KVM_HOLD_MS);
		pthread_rwlock_unlock(&v->rw);
		atomic_fetch_add(&ev_count[EV_KVM_HOLD], 1);
	}
	return NULL;
}

/* ---- the AP bus: host events --------------------------------------------- */

enum undo_kind { U_ADAPTER, U_DOMAIN, U_BIND, U_RESET_MODE };
struct undo {
	enum undo_kind kind;
	unsigned int a, d;
	unsigned long due;
};

static bool present_a[NA], present_d[ND];

static void add_queues(unsigned int ai, unsigned int di, bool row)
{
	unsigned int i;

	for (i = 0; i < (row ? ND : NA); i++) {
		unsigned int a = row ? ai : i, d = row ? i : di;

		if (present_a[a] && present_d[d])
			sim_host_add_queue_default(A0 + a, d);
	}
}

/* the host's control domains: those of the usage domains present, and the
 * rest of 0..84 (a domain that leaves takes its control domain along) */
static void set_control_domains(void)
{
	uint64_t adm[4] = { 0 };
	unsigned int d;

	for (d = 0; d <= 84; d++)
		if (d >= ND || present_d[d])
			set_id(adm, d);
	sim_host_set_control_domains(adm);
}

static void do_undo(const struct undo *u)
{
	uint64_t apm[4] = { 0 };

	(void)apm;
	switch (u->kind) {
	case U_ADAPTER:
		present_a[u->a] = true;
		add_queues(u->a, 0, true);
		break;
	case U_DOMAIN:
		present_d[u->d] = true;
		add_queues(0, u->d, false);
		set_control_domains();
		break;
	case U_BIND:
		/* back to the driver its side of the masks names */
		if (sim_host_bind(A0 + u->a, u->d, SIM_DRV_APMATRIX) == -ENODEV)
			sim_host_bind(A0 + u->a, u->d, SIM_DRV_CEX4QUEUE);
		break;
	case U_RESET_MODE:
		sim_host_set_reset_mode(A0 + u->a, u->d, SIM_RESET_NORMAL, 0);
		break;
	}
}

static void timed_event(enum ev ev, unsigned long t0)
{
	unsigned long us = now_us() - t0;

	atomic_fetch_add(&ev_count[ev], 1);
	atomic_max(&ev_max_us, us);
	if (us > opt.op_bound_ms * 1000UL) {
		atomic_fetch_add(&ev_over, 1);
		fprintf(stderr, "apsim-stress: host event '%s' took %lu ms (bound %u ms)\n",
			ev_name[ev], us / 1000, opt.op_bound_ms);
	}
}

static void *bus_thread(void *arg)
{
	unsigned long s = opt.seed * 131 + 7, t0;
	struct undo undo[64];
	unsigned int nundo = 0, i, a, d, r, na, nd;
	uint64_t apm[4], aqm[4];
	struct sim_queue_info qi;
	char text[32];
	int rc;

	(void)arg;
	while (!atomic_load(&stop)) {
		sleep_ms(2 + rnd(&s, 4));
		/* what comes back now */
		for (i = 0; i < nundo; ) {
			if (undo[i].due <= now_us()) {
				do_undo(&undo[i]);
				undo[i] = undo[--nundo];
			} else {
				i++;
			}
		}
		if (nundo >= 60)
			continue;
		for (na = 0, i = 0; i < NA; i++)
			na += present_a[i];
		for (nd = 0, i = 0; i < ND; i++)
			nd += present_d[i];
		a = rnd(&s, NA);
		d = rnd(&s, ND);
		r = rnd(&s, 100);
		t0 = now_us();
		if (r < 10 && present_a[a] && na > NA / 2) {
			memset(apm, 0, sizeof(apm));
			memset(aqm, 0, sizeof(aqm));
			set_id(apm, A0 + a);
			sim_host_config_remove(apm, aqm, NULL);
			present_a[a] = false;
			undo[nundo++] = (struct undo){ U_ADAPTER, a, 0, now_us() + 5000 + rnd(&s, 30000) };
			timed_event(EV_REMOVE_ADAPTER, t0);
		} else if (r < 16 && present_d[d] && nd > ND / 2) {
			memset(apm, 0, sizeof(apm));
			memset(aqm, 0, sizeof(aqm));
			set_id(aqm, d);
			sim_host_config_remove(apm, aqm, NULL);
			present_d[d] = false;
			undo[nundo++] = (struct undo){ U_DOMAIN, 0, d, now_us() + 5000 + rnd(&s, 30000) };
			timed_event(EV_REMOVE_DOMAIN, t0);
		} else if (r < 36) {
			sim_host_queue_info(A0 + a, d, &qi);
			if (!qi.exists || qi.driver == SIM_DRV_NONE)
				continue;
			if (sim_host_unbind(A0 + a, d))
				continue;
			undo[nundo++] = (struct undo){ U_BIND, a, d, now_us() + 2000 + rnd(&s, 20000) };
			timed_event(EV_UNBIND, t0);
		} else if (r < 60) {
			/* apmask: '+' gives the adapter back to the host (the in_use
			 * veto may refuse it), '-' takes it for guests again */
			bool give = rnd(&s, 2);

			snprintf(text, sizeof(text), "%c0x%x", give ? '+' : '-', A0 + a);
			rc = sim_host_mask_write(0, text);
			if (rc == -EBUSY)
				atomic_fetch_add(&ev_busy, 1);
			else if (rc)
				fprintf(stderr, "apsim-stress: apmask write %s: %d\n", text, rc);
			timed_event(give ? EV_MASK_GIVE : EV_MASK_TAKE, t0);
		} else if (r < 80) {
			bool stuck = rnd(&s, 3) == 0;

			sim_host_set_reset_mode(A0 + a, d, stuck ? SIM_RESET_NEVER : SIM_RESET_SLOW,
						3 + rnd(&s, 10));
			undo[nundo++] = (struct undo){ U_RESET_MODE, a, d,
						       now_us() + 2000 + rnd(&s, 40000) };
			atomic_fetch_add(&ev_count[stuck ? EV_RESET_STUCK : EV_RESET_SLOW], 1);
		}
	}
	/* everything comes back, resets finish */
	for (i = 0; i < nundo; i++)
		do_undo(&undo[i]);
	return NULL;
}

/* ---- main ---------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr, "usage: apsim-stress [--seconds S] [--vmms N] [--threads T] [--seed X] "
		"[--slow F] [--race] [--kick-us US] [--prekick-us US]\n");
	exit(2);
}

static void setup_host(void)
{
	uint64_t apmask[4], aqmask[4];
	unsigned int a, d;

	if (sim_host_init(255, 84)) {
		fprintf(stderr, "apsim-stress: sim_host_init failed\n");
		exit(1);
	}
	/* adapters A0..A0+5 set aside for guests, the last two the host's */
	memset(apmask, 0xff, sizeof(apmask));
	memset(aqmask, 0xff, sizeof(aqmask));
	for (a = 0; a < NA - 2; a++)
		apmask[(A0 + a) / 64] &= ~(1ULL << (63 - (A0 + a) % 64));
	sim_host_load_masks(apmask, aqmask);
	for (a = 0; a < NA; a++) {
		present_a[a] = true;
		for (d = 0; d < ND; d++) {
			present_d[d] = true;
			sim_host_add_queue_default(A0 + a, d);
		}
	}
	sim_host_for_each_changed(NULL, NULL);
	if (sim_host_register()) {
		fprintf(stderr, "apsim-stress: registering the host operations failed\n");
		exit(1);
	}
	sim_host_set_reset_timing(RESET_INTERVAL_MS, RESET_POLLS);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "vmms", required_argument, NULL, 'n' },
		{ "threads", required_argument, NULL, 't' },
		{ "seed", required_argument, NULL, 'x' },
		{ "slow", required_argument, NULL, 'f' },
		{ "race", no_argument, NULL, 'r' },
		{ "kick-us", required_argument, NULL, 'k' },
		{ "prekick-us", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	pthread_t th[MAX_VMMS * 8 + 2];
	unsigned long total = 0, bad = 0, lock_over, lock_max_us, t_start;
	const char *lock_cls = NULL;
	unsigned int i, j, nth = 0;
	struct sim_stats st;
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': opt.seconds = (unsigned int)atoi(optarg); break;
		case 'n': opt.nvmms = (unsigned int)atoi(optarg); break;
		case 't': opt.threads = (unsigned int)atoi(optarg); break;
		case 'x': opt.seed = strtoul(optarg, NULL, 0); break;
		case 'f': opt.slow = (unsigned int)atoi(optarg); break;
		case 'r': opt.race = true; break;
		case 'k': opt.kick_us = (unsigned int)atoi(optarg); break;
		case 'p': opt.prekick_us = (unsigned int)atoi(optarg); break;
		default: usage();
		}
	}
	if (optind != argc || !opt.seconds || !opt.nvmms || opt.nvmms > MAX_VMMS ||
	    !opt.threads || opt.threads > 8 || !opt.slow)
		usage();
	if (!opt.seed)
		opt.seed = (unsigned long)time(NULL);
	/* an AP lock is held only for bookkeeping: 100 ms is already long */
	opt.lock_bound_ms = 100 * opt.slow;
	/* an ioctl may wait for its own VM's kvm->lock (a vCPU holds it up to
	 * KVM_HOLD_MS) and for a reset wait or two */
	opt.op_bound_ms = (KVM_HOLD_MS + 4 * RESET_POLLS * RESET_INTERVAL_MS + 500) * opt.slow;

	setup_host();
	sim_host_set_lock_bound(opt.lock_bound_ms);
	sim_host_set_kick_delay(opt.kick_us);
	sim_host_set_prekick_delay(opt.prekick_us);
	for (i = 0; i < opt.nvmms; i++) {
		unsigned long gs = opt.seed * 17 + i + 1;

		pthread_rwlock_init(&vmms[i].rw, NULL);
		vmms[i].vm = sim_vm_create(i % 3 ? 2 : 1);
		if (!vmms[i].vm)
			return 1;
		vmms[i].unpriv = i % 2;
		if (vmms[i].unpriv)
			make_grant(&vmms[i], &gs);
	}
	printf("apsim-stress: %u s, %u VMMs x %u threads, host %02x-%02x x 0000-%04x, seed %lu\n",
	       opt.seconds, opt.nvmms, opt.threads, A0, A0 + NA - 1, ND - 1, opt.seed);
	fflush(stdout);
	t_start = now_us();
	for (i = 0; i < opt.nvmms * opt.threads; i++)
		pthread_create(&th[nth++], NULL, vmm_thread, (void *)(uintptr_t)i);
	pthread_create(&th[nth++], NULL, bus_thread, NULL);
	pthread_create(&th[nth++], NULL, vcpu_thread, NULL);
	sleep(opt.seconds);
	atomic_store(&stop, true);
	for (i = 0; i < nth; i++) {
		struct timespec dl;

		/* every caller returns within the operation bound, or is stuck */
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += opt.op_bound_ms / 1000 + 5;
		if (pthread_timedjoin_np(th[i], NULL, &dl)) {
			sim_host_stats(&st);
			printf("apsim-stress: a thread did not return %u s after the end: "
			       "callers blocked (deadlock?); lock violations %lu\nresult: FAIL\n",
			       opt.op_bound_ms / 1000 + 5, st.lock_violations);
			fflush(stdout);
			_exit(1);
		}
	}
	for (i = 0; i < opt.nvmms; i++) {
		sim_vm_destroy(vmms[i].vm);
		sim_file_put(vmms[i].grant);
		pthread_rwlock_destroy(&vmms[i].rw);
	}
	sim_host_flush();

	sim_host_stats(&st);
	lock_over = sim_host_lock_waits_over(&lock_max_us, &lock_cls);
	printf("\noperations in %.1f s:\n", (double)(now_us() - t_start) / 1e6);
	for (i = 0; i < OP_N; i++) {
		printf("  %-14s %7lu:", op_name[i], atomic_load(&op_count[i]));
		total += atomic_load(&op_count[i]);
		for (j = 0; j < NERR; j++)
			if (atomic_load(&op_result[i][j]))
				printf(" %s %lu", known_errno[j] ? strerrorname_np(known_errno[j]) : "ok",
				       atomic_load(&op_result[i][j]));
		printf("; longest %lu ms\n", atomic_load(&op_max_us[i]) / 1000);
	}
	printf("  %-14s %7lu (%lu from clients that died first)\n", "total", total,
	       atomic_load(&dying_ops));
	printf("host events:\n");
	for (i = 0; i < EV_N; i++)
		printf("  %-18s %6lu\n", ev_name[i], atomic_load(&ev_count[i]));
	printf("  (apmask give-backs refused by the in_use veto: %lu; longest event %lu ms)\n",
	       atomic_load(&ev_busy), atomic_load(&ev_max_us) / 1000);
	printf("  ZAPQ %lu, TAPQ %lu, vCPU kick rounds %lu\n", st.zaps, st.tapqs, st.kicks);

	printf("invariants (violations):\n");
#define INV(label, n) do { unsigned long __n = (n); bad += __n; printf("  %-58s %lu\n", label, __n); } while (0)
	INV("APQN in two CRYCBs", st.inv_two_crycbs);
	INV("ZAPQ of a queue another VM holds", st.inv_zap_other_vm);
	INV("ZAPQ of a queue the host's drivers hold", st.inv_zap_host);
	INV("queue claimed before its reset completed", st.inv_claim_unreset);
	INV("queue reached a guest with another guest's data", st.leaks);
	INV("queue returned to the host before its reset completed", st.inv_host_unreset);
	INV("lock order, lock held while sleeping, lockdep, WARN", st.lock_violations);
	INV("unprivileged VM holding what its grant does not cover", atomic_load(&beyond_grant));
	{
		unsigned long n = 0;

		for (i = 0; i < OP_N; i++)
			n += atomic_load(&op_unexpected[i]);
		INV("answer the contract does not allow", n);
		n = atomic_load(&ev_over);
		for (i = 0; i < OP_N; i++)
			n += atomic_load(&op_over[i]);
		INV("ioctl or host event longer than the operation bound", n);
	}
	INV("AP lock waits longer than the lock bound", lock_over);
	printf("  (bounds: lock wait %u ms, operation %u ms; longest AP lock wait %lu ms on %s)\n",
	       opt.lock_bound_ms, opt.op_bound_ms, lock_max_us / 1000, lock_cls ? lock_cls : "-");
	INV("VMs left / driver module pins", st.vms + (unsigned long)st.module_refs);
	if (opt.race)
		printf("racy counter: %lu\n", racy_counter);
	printf("result: %s\n", bad ? "FAIL" : "PASS");
	/* --race: only ThreadSanitizer's verdict counts (its exit code 66) */
	return bad && !opt.race ? 1 : 0;
}
