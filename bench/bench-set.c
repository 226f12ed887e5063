// SPDX-License-Identifier: GPL-2.0
/*
 * bench-set - what it costs to give a guest Na x Nd queues, apmatrix's way
 * and vfio_ap's way, with N other guests holding queues of the same host.
 *
 *   bench-set point NA ND NVMS ITERS [both|apmatrix|vfio]
 *
 * The host: 256 adapters x 256 domains (APXA's limit; see run.sh for why),
 * all 65,536 queues present and set aside for guests (apmask = aqmask = 0).
 * The N other guests each hold 2 adapters x 1 domain (the domain also as
 * control domain), placed domain by domain across the adapter pairs and
 * never on the request's queues. The request: adapters 256-NA..255 x
 * domains 0..ND-1, the same domains as control domains, claimed by a
 * running guest that holds nothing.
 *
 * apmatrix: one KVM_S390_VM_CRYPTO_SET_AP_MATRIX on the simulated host,
 *   in process (the real kernel/arch/s390/kvm/ap_matrix.c), as dispatched
 *   by kvm-s390.c, from the copy of the 136-byte request on.
 * vfio_ap: one write of "apm,aqm,adm" to the guest's mdev's ap_config, in
 *   the model of Linux 6.12's path (vfio-ap-model.c), from kernfs's copy
 *   of the text on; the N others are mdevs of the same model.
 * Both install the masks with the same simulated kvm_arch_crypto_set_masks().
 *
 * After each measured call the guest's CRYCB is checked to hold exactly
 * the request (a side that did nothing would not pass), then it is taken
 * back outside the measurement. Before the measured calls apmatrix's
 * guest claims the request once and gives it back, unmeasured: a SET
 * that is the first ever to claim an adapter on the host allocates the
 * adapter's marker storage (once per adapter per host, ap_matrix.c), and
 * the table is of the steady state; BENCH_FIRST_CLAIM=1 skips that round,
 * so that one call (iters 1) is the first claim (bench/run.sh prints it
 * apart). Prints "key value" lines: the median wall
 * time and the median CPU time of the thread (less the cost of reading the
 * clocks) in ns, the number of timed calls (they stop after ~1 s of
 * measured time), and the vCPU kick rounds of one call. Under callgrind
 * (--instr-atstart=no --collect-atstart=no --toggle-collect=measured_*)
 * only the measured loops are instrumented and the measured calls counted;
 * with both sides, apmatrix's counts are dumped (OUT.1) before vfio_ap's
 * setup, and vfio_ap's are the final ones (OUT).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "simhost.h"
#include "bench-kvm.h"
#include "vfio-ap-model.h"
#ifdef BENCH_LOCK_PROBE
#include "lockprobe.h"
#endif

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_START_INSTRUMENTATION do { } while (0)
#define CALLGRIND_STOP_INSTRUMENTATION do { } while (0)
#define CALLGRIND_DUMP_STATS_AT(s) do { } while (0)
#endif

/* newer simulators finish a released queue's reset in a worker: wait for
 * it between measurements where the simulator has one */
void sim_host_flush(void) __attribute__((weak));

static void settle(void)
{
	if (sim_host_flush)
		sim_host_flush();
}

#define GROUP_CRYPTO 2
#define ATTR_SET_AP_MATRIX 6
#define BUDGET_NS 1000000000ULL

struct kmatrix {		/* struct kvm_s390_ap_matrix, 136 bytes */
	uint64_t apm[4], aqm[4], adm[4];
	uint32_t flags, reserved[9];
};

static void set_id(uint64_t *m, unsigned int id)
{
	m[id / 64] |= 1ULL << (63 - id % 64);
}

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/* CPU time of this thread: what a call cost while it ran, not the time it
 * waited for a CPU on a busy machine */
static uint64_t cpu_ns(void)
{
	return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

/* the median cost of reading both clocks around nothing, taken off the
 * CPU times (reading the thread clock is a syscall) */
static uint64_t cpu_overhead;

static int cmp_u64(const void *a, const void *b);

static void calibrate(void)
{
	uint64_t t[101], c0;
	int i;

	for (i = 0; i < 101; i++) {
		c0 = cpu_ns();
		(void)now_ns();
		(void)now_ns();
		t[i] = cpu_ns() - c0;
	}
	qsort(t, 101, sizeof(t[0]), cmp_u64);
	cpu_overhead = t[50];
}

#ifdef BENCH_LOCK_PROBE
/*
 * bench-set-lock: the time each measured call holds the AP bus lock and
 * the inner lock (lockprobe.h), summed over its holds, per call. The
 * floor: the median of an empty hold of ap_perms_mutex with the probe
 * armed (the probe's own clock reads and calls), taken off per hold.
 */
static uint64_t floor_wall, floor_cpu;
static void die(const char *what);

struct lockrec {
	uint64_t *wall, *cpu;
	unsigned int holds;	/* of the first call; every call must agree */
	bool varies;
};

static void lock_floor(void)
{
	uint64_t w[101], c[101];
	bool cg = lockprobe_bus.cg;
	int i;

	lockprobe_bus.cg = false;	/* not counted under callgrind: see floor_ir() */
	for (i = 0; i < 101; i++) {
		lockprobe_reset(&lockprobe_bus);
		lockprobe_arm();
		lockprobe_empty_hold();
		lockprobe_disarm();
		w[i] = lockprobe_bus.wall_ns;
		c[i] = lockprobe_bus.cpu_ns;
	}
	qsort(w, 101, sizeof(w[0]), cmp_u64);
	qsort(c, 101, sizeof(c[0]), cmp_u64);
	floor_wall = w[50];
	floor_cpu = c[50];
	lockprobe_reset(&lockprobe_bus);
	lockprobe_bus.cg = cg;
}

static void lockrec_init(struct lockrec *r, unsigned int iters)
{
	r->wall = calloc(iters, sizeof(*r->wall));
	r->cpu = calloc(iters, sizeof(*r->cpu));
	r->holds = 0;
	r->varies = false;
	if (!r->wall || !r->cpu)
		die("out of memory");
}

static void lock_begin(struct lockprobe *a, struct lockprobe *b)
{
	lockprobe_reset(a);
	lockprobe_reset(b);
	lockprobe_arm();
}

static void lockrec_take(struct lockrec *r, const struct lockprobe *p, unsigned int i)
{
	uint64_t fw = (uint64_t)p->holds * floor_wall, fc = (uint64_t)p->holds * floor_cpu;

	if (p->held)
		die("lock probe: a lock is still held after the call");
	if (i == 0)
		r->holds = p->holds;
	else if (p->holds != r->holds)
		r->varies = true;
	r->wall[i] = p->wall_ns > fw ? p->wall_ns - fw : 0;
	r->cpu[i] = p->cpu_ns > fc ? p->cpu_ns - fc : 0;
}

static void lockrec_report(const char *key, struct lockrec *r, unsigned int n)
{
	qsort(r->wall, n, sizeof(*r->wall), cmp_u64);
	qsort(r->cpu, n, sizeof(*r->cpu), cmp_u64);
	printf("%s_holds %u%s\n%s_ns %llu\n%s_cpu_ns %llu\n", key, r->holds, r->varies ? "+" : "",
	       key, (unsigned long long)r->wall[n / 2], key, (unsigned long long)r->cpu[n / 2]);
	free(r->wall);
	free(r->cpu);
}

static void lock_errors(void)
{
	printf("probe_errors %u\n", lockprobe_bus.errors + lockprobe_inner.errors +
	       lockprobe_vfio_bus.errors + lockprobe_vfio_inner.errors);
}
#endif

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void die(const char *what)
{
	fprintf(stderr, "bench-set: %s\n", what);
	exit(1);
}

static void host(void)
{
	uint64_t zero[4] = { 0 };
	unsigned int a, d;

	if (sim_host_init(255, 255))
		die("sim_host_init failed");
	sim_host_load_masks(zero, zero);	/* nothing with the default drivers */
	for (a = 0; a < 256; a++)
		for (d = 0; d < 256; d++)
			sim_host_add_queue(a, d, SIM_DRV_APMATRIX);
	sim_host_for_each_changed(NULL, NULL);
	if (sim_host_register())
		die("sim_host_register failed");
	sim_host_set_reset_timing(0, 50);	/* resets answer at once: no sleeping */
}

/*
 * The other guests: adapter pair p (2p, 2p+1) and domain d, taken domain
 * by domain across the pairs, skipping the request's queues. Returns how
 * many fit (the host's capacity beside the request, if less than n).
 */
static unsigned int others(unsigned int na, unsigned int nd, unsigned int n, struct kmatrix *out)
{
	unsigned int d, p, k = 0;

	for (d = 0; d < 256 && k < n; d++)
		for (p = 0; p < 128 && k < n; p++) {
			if (2 * p + 1 >= 256 - na && d < nd)
				continue;
			memset(&out[k], 0, sizeof(out[k]));
			set_id(out[k].apm, 2 * p);
			set_id(out[k].apm, 2 * p + 1);
			set_id(out[k].aqm, d);
			set_id(out[k].adm, d);
			k++;
		}
	return k;
}

static void request(unsigned int na, unsigned int nd, struct kmatrix *m)
{
	unsigned int i;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < na; i++)
		set_id(m->apm, 255 - i);
	for (i = 0; i < nd; i++) {
		set_id(m->aqm, i);
		set_id(m->adm, i);
	}
}

static void check_crycb(struct sim_vm *vm, const struct kmatrix *want, const char *side)
{
	struct sim_masks got;
	bool apie;

	sim_vm_crycb(vm, &got, &apie);
	if (memcmp(got.apm, want->apm, 32) || memcmp(got.aqm, want->aqm, 32) ||
	    memcmp(got.adm, want->adm, 32)) {
		fprintf(stderr, "bench-set: %s: the guest's CRYCB is not the request\n", side);
		exit(1);
	}
}

__attribute__((noinline)) int measured_apmatrix(struct sim_vm *vm, struct kmatrix *m)
{
	return sim_vm_set_attr(vm, GROUP_CRYPTO, ATTR_SET_AP_MATRIX, m);
}

__attribute__((noinline)) long measured_vfio(struct vfio_model *vm, struct vfio_mdev *mdev,
					     const char *buf, size_t len)
{
	return (long)vfio_model_ap_config_write(vm, mdev, buf, len);
}

static void report(const char *side, uint64_t *t, uint64_t *c, unsigned int n,
		   unsigned long kicks)
{
	uint64_t cpu;

	qsort(t, n, sizeof(*t), cmp_u64);
	qsort(c, n, sizeof(*c), cmp_u64);
	cpu = c[n / 2] > cpu_overhead ? c[n / 2] - cpu_overhead : 0;
	printf("%s_ns %llu\n%s_cpu_ns %llu\n%s_iters %u\n%s_kicks %lu\n", side,
	       (unsigned long long)t[n / 2], side, (unsigned long long)cpu, side, n, side, kicks);
}

static unsigned long sim_kicks(void)
{
	struct sim_stats st;

	sim_host_stats(&st);
	return st.kicks;
}

static void side_apmatrix(const struct kmatrix *all, unsigned int n, struct kmatrix *mine,
			  unsigned int iters)
{
	uint64_t *t = calloc(iters, sizeof(*t)), *c = calloc(iters, sizeof(*c)), t0, c0, spent = 0;
	struct kmatrix empty;
	struct sim_vm *vm;
	unsigned long k0, kicks = 0;
	unsigned int i, done = 0;
	const char *first;
#ifdef BENCH_LOCK_PROBE
	struct lockrec bus, inner;
#endif

	if (!t || !c)
		die("out of memory");
	for (i = 0; i < n; i++) {
		vm = sim_vm_create(2);
		if (!vm || sim_vm_set_attr(vm, GROUP_CRYPTO, ATTR_SET_AP_MATRIX, (void *)&all[i]))
			die("apmatrix: setting up the other guests failed");
	}
	vm = sim_vm_create(2);
	if (!vm)
		die("out of memory");
	memset(&empty, 0, sizeof(empty));
	settle();
	first = getenv("BENCH_FIRST_CLAIM");
	if (!first || strcmp(first, "1")) {
		/* the adapters' marker storage, as on a host that ran a while */
		if (sim_vm_set_attr(vm, GROUP_CRYPTO, ATTR_SET_AP_MATRIX, (void *)mine) ||
		    sim_vm_set_attr(vm, GROUP_CRYPTO, ATTR_SET_AP_MATRIX, &empty))
			die("apmatrix: the unmeasured first claim failed");
		settle();
	}
#ifdef BENCH_LOCK_PROBE
	lockrec_init(&bus, iters);
	lockrec_init(&inner, iters);
#endif
	CALLGRIND_START_INSTRUMENTATION;
	for (i = 0; i < iters && (i == 0 || spent < BUDGET_NS); i++) {
		k0 = sim_kicks();
#ifdef BENCH_LOCK_PROBE
		lock_begin(&lockprobe_bus, &lockprobe_inner);
#endif
		c0 = cpu_ns();
		t0 = now_ns();
		if (measured_apmatrix(vm, mine))
			die("apmatrix: the SET failed");
		t[i] = now_ns() - t0;
		c[i] = cpu_ns() - c0;
#ifdef BENCH_LOCK_PROBE
		lockprobe_disarm();
		lockrec_take(&bus, &lockprobe_bus, i);
		lockrec_take(&inner, &lockprobe_inner, i);
#endif
		spent += t[i];
		if (i == 0)
			kicks = sim_kicks() - k0;
		done++;
		check_crycb(vm, mine, "apmatrix");
		if (sim_vm_set_attr(vm, GROUP_CRYPTO, ATTR_SET_AP_MATRIX, &empty))
			die("apmatrix: giving the queues back failed");
		settle();
	}
	CALLGRIND_STOP_INSTRUMENTATION;
	report("apmatrix", t, c, done, kicks);
#ifdef BENCH_LOCK_PROBE
	lockrec_report("apmatrix_lock", &bus, done);
	lockrec_report("apmatrix_inner", &inner, done);
#endif
	sim_vm_destroy(vm);	/* it holds nothing now: the others stay for the host */
	free(t);
	free(c);
}

static void side_vfio(const struct kmatrix *all, unsigned int n, const struct kmatrix *mine,
		      unsigned int iters)
{
	uint64_t *t = calloc(iters, sizeof(*t)), *c = calloc(iters, sizeof(*c)), t0, c0, spent = 0;
	uint64_t zero[4] = { 0 };
	struct vfio_model *vm = vfio_model_create(255, 255);
	struct vfio_mdev *mdev;
	struct sim_vm *guest;
	unsigned long k0, kicks = 0, installs = 0, i0;
	unsigned int i, done = 0;
	char text[256];
	size_t len;
	long rc;
#ifdef BENCH_LOCK_PROBE
	struct lockrec bus, inner;

	lockrec_init(&bus, iters);
	lockrec_init(&inner, iters);
#endif

	if (!t || !c || !vm)
		die("out of memory");
	for (i = 0; i < n; i++)
		if (!vfio_model_add_mdev(vm, all[i].apm, all[i].aqm, all[i].adm, NULL))
			die("out of memory");
	guest = sim_vm_create(2);
	if (!guest)
		die("out of memory");
	mdev = vfio_model_add_mdev(vm, zero, zero, zero, bench_kvm_of(guest));
	if (!mdev)
		die("out of memory");
	/* what ap_config_show() prints and a management tool writes back */
	len = (size_t)snprintf(text, sizeof(text),
			       "0x%016llx%016llx%016llx%016llx,0x%016llx%016llx%016llx%016llx,"
			       "0x%016llx%016llx%016llx%016llx\n",
			       (unsigned long long)mine->apm[0], (unsigned long long)mine->apm[1],
			       (unsigned long long)mine->apm[2], (unsigned long long)mine->apm[3],
			       (unsigned long long)mine->aqm[0], (unsigned long long)mine->aqm[1],
			       (unsigned long long)mine->aqm[2], (unsigned long long)mine->aqm[3],
			       (unsigned long long)mine->adm[0], (unsigned long long)mine->adm[1],
			       (unsigned long long)mine->adm[2], (unsigned long long)mine->adm[3]);
	CALLGRIND_START_INSTRUMENTATION;
	for (i = 0; i < iters && (i == 0 || spent < BUDGET_NS); i++) {
		k0 = sim_kicks();
		i0 = vfio_model_installs(vm);
#ifdef BENCH_LOCK_PROBE
		lock_begin(&lockprobe_vfio_bus, &lockprobe_vfio_inner);
#endif
		c0 = cpu_ns();
		t0 = now_ns();
		rc = measured_vfio(vm, mdev, text, len);
		t[i] = now_ns() - t0;
		c[i] = cpu_ns() - c0;
#ifdef BENCH_LOCK_PROBE
		lockprobe_disarm();
		lockrec_take(&bus, &lockprobe_vfio_bus, i);
		lockrec_take(&inner, &lockprobe_vfio_inner, i);
#endif
		spent += t[i];
		if (rc != (long)len) {
			fprintf(stderr, "bench-set: vfio_ap model: ap_config write returned %ld\n", rc);
			exit(1);
		}
		if (i == 0) {
			kicks = sim_kicks() - k0;
			installs = vfio_model_installs(vm) - i0;
		}
		done++;
		check_crycb(guest, mine, "vfio_ap model");
		vfio_model_mdev_clear(vm, mdev);
	}
	if (kicks != installs)
		die("vfio_ap model: installs and kicks disagree");
	report("vfio", t, c, done, kicks);
#ifdef BENCH_LOCK_PROBE
	lockrec_report("vfio_lock", &bus, done);
	lockrec_report("vfio_inner", &inner, done);
#endif
	vfio_model_free(vm);
	sim_vm_destroy(guest);
	free(t);
	free(c);
}

static int point(unsigned int na, unsigned int nd, unsigned int n, unsigned int iters,
		 const char *side)
{
	struct kmatrix *all = calloc(n ? n : 1, sizeof(*all)), mine;
	unsigned int fit;

	if (!all || !iters || !na || !nd || na > 256 || nd > 256)
		die("bad arguments");
	fit = others(na, nd, n, all);
	if (fit < n) {
		fprintf(stderr, "bench-set: only %u guests of 2 x 1 fit beside a %u x %u request\n",
			fit, na, nd);
		return 3;
	}
	request(na, nd, &mine);
	calibrate();
	host();
#ifdef BENCH_LOCK_PROBE
	lock_floor();
	printf("lock_floor_ns %llu\nlock_floor_cpu_ns %llu\n", (unsigned long long)floor_wall,
	       (unsigned long long)floor_cpu);
#endif
	if (!strcmp(side, "both") || !strcmp(side, "apmatrix"))
		side_apmatrix(all, n, &mine, iters);
	/* under callgrind: what was counted so far is apmatrix's (OUT.1) */
	if (!strcmp(side, "both"))
		CALLGRIND_DUMP_STATS_AT("apmatrix");
	if (!strcmp(side, "both") || !strcmp(side, "vfio"))
		side_vfio(all, n, &mine, iters);
#ifdef BENCH_LOCK_PROBE
	lock_errors();
#endif
	free(all);
	return 0;
}

#ifdef BENCH_LOCK_PROBE
/* bench-set-lock floor N, under callgrind with BENCH_LOCK_CG=bus: N empty
 * holds of ap_perms_mutex, the instructions the probe adds to a hold */
static int floor_ir(unsigned int n)
{
	unsigned int i;

	if (!n || !lockprobe_bus.cg)
		die("floor: N > 0 and BENCH_LOCK_CG=bus");
	host();
	CALLGRIND_START_INSTRUMENTATION;
	for (i = 0; i < n; i++) {
		lockprobe_arm();
		lockprobe_empty_hold();
		lockprobe_disarm();
	}
	CALLGRIND_STOP_INSTRUMENTATION;
	printf("floor_iters %u\nfloor_holds %u\n", n, lockprobe_bus.holds);
	return 0;
}
#endif

int main(int argc, char **argv)
{
	const char *side = argc == 7 ? argv[6] : "both";

#ifdef BENCH_LOCK_PROBE
	/* which lock's holds callgrind counts: BENCH_LOCK_CG=bus|inner */
	if (lockprobe_callgrind(getenv("BENCH_LOCK_CG")))
		die("BENCH_LOCK_CG is bus or inner");
	if (argc == 3 && !strcmp(argv[1], "floor"))
		return floor_ir((unsigned int)atoi(argv[2]));
#endif

	if ((argc == 6 || argc == 7) && !strcmp(argv[1], "point") &&
	    (!strcmp(side, "both") || !strcmp(side, "apmatrix") || !strcmp(side, "vfio")))
		return point((unsigned int)atoi(argv[2]), (unsigned int)atoi(argv[3]),
			     (unsigned int)atoi(argv[4]), (unsigned int)atoi(argv[5]), side);
	fprintf(stderr, "usage: bench-set point NA ND NVMS ITERS [both|apmatrix|vfio]\n");
	return 2;
}
