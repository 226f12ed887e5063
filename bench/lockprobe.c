// SPDX-License-Identifier: GPL-2.0
/* lockprobe: see lockprobe.h. Built against the shim headers (struct mutex). */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <linux/mutex.h>
#include "lockprobe.h"

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_TOGGLE_COLLECT do { } while (0)
#endif

extern struct mutex ap_perms_mutex;

struct lockprobe lockprobe_bus = { .name = "ap_perms_mutex" };
struct lockprobe lockprobe_inner = { .name = "ap_matrix_lock" };
struct lockprobe lockprobe_vfio_bus = { .name = "vfio_ap model: ap_perms_mutex" };
struct lockprobe lockprobe_vfio_inner = { .name = "vfio_ap model: mdevs_lock" };

static bool armed;
static pthread_t armer;
/* ap_matrix_lock is static in ap_matrix.c: known by its lock class name */
static struct mutex *inner_mutex;

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void lockprobe_arm(void)
{
	armer = pthread_self();
	__atomic_store_n(&armed, true, __ATOMIC_RELEASE);
}

void lockprobe_disarm(void)
{
	__atomic_store_n(&armed, false, __ATOMIC_RELEASE);
}

void lockprobe_reset(struct lockprobe *p)
{
	p->holds = 0;
	p->wall_ns = 0;
	p->cpu_ns = 0;
}

int lockprobe_callgrind(const char *which)
{
	lockprobe_bus.cg = lockprobe_vfio_bus.cg = which && !strcmp(which, "bus");
	lockprobe_inner.cg = lockprobe_vfio_inner.cg = which && !strcmp(which, "inner");
	return !which || lockprobe_bus.cg || lockprobe_inner.cg ? 0 : -1;
}

static bool mine(void)
{
	return __atomic_load_n(&armed, __ATOMIC_ACQUIRE) && pthread_equal(armer, pthread_self());
}

void lockprobe_acquired(struct lockprobe *p)
{
	if (!mine())
		return;
	if (p->held) {
		p->errors++;
		return;
	}
	p->held = true;
	p->holds++;
	p->c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	p->t0 = clock_ns(CLOCK_MONOTONIC);
	if (p->cg)
		CALLGRIND_TOGGLE_COLLECT;
}

void lockprobe_released(struct lockprobe *p)
{
	uint64_t t;

	if (!p->held)	/* taken before the probe was armed, or by another thread */
		return;
	if (p->cg)
		CALLGRIND_TOGGLE_COLLECT;
	t = clock_ns(CLOCK_MONOTONIC);
	p->cpu_ns += clock_ns(CLOCK_THREAD_CPUTIME_ID) - p->c0;
	p->wall_ns += t - p->t0;
	p->held = false;
}

/* the shim mutex a hook is about, or NULL: only the two apmatrix locks */
static struct lockprobe *probe_of(struct mutex *m)
{
	if (m == &ap_perms_mutex)
		return &lockprobe_bus;
	if (m == inner_mutex)
		return &lockprobe_inner;
	if (!inner_mutex && m->name && !strcmp(m->name, "ap_matrix_lock")) {
		inner_mutex = m;
		return &lockprobe_inner;
	}
	return NULL;
}

static void acquired(struct mutex *m)
{
	struct lockprobe *p;

	if (!mine() || !(p = probe_of(m)))
		return;
	/* the hook must sit inside the hold: the lock is this thread's now */
	if (!shim_mutex_held_by_me(m))
		p->errors++;
	lockprobe_acquired(p);
}

static void releasing(struct mutex *m)
{
	struct lockprobe *p;

	if (!(p = probe_of(m)) || !p->held)
		return;
	lockprobe_released(p);	/* first: the check below is outside the hold's count */
	if (!shim_mutex_held_by_me(m))
		p->errors++;
}

/* the linker's --wrap: references to mutex_lock() etc. come here */
void __real_mutex_lock(struct mutex *m);
int __real_mutex_lock_killable(struct mutex *m);
int __real_mutex_trylock(struct mutex *m);
void __real_mutex_unlock(struct mutex *m);
void __wrap_mutex_lock(struct mutex *m);
int __wrap_mutex_lock_killable(struct mutex *m);
int __wrap_mutex_trylock(struct mutex *m);
void __wrap_mutex_unlock(struct mutex *m);

void __wrap_mutex_lock(struct mutex *m)
{
	__real_mutex_lock(m);
	acquired(m);
}

int __wrap_mutex_lock_killable(struct mutex *m)
{
	int rc = __real_mutex_lock_killable(m);

	if (!rc)
		acquired(m);
	return rc;
}

int __wrap_mutex_trylock(struct mutex *m)
{
	int rc = __real_mutex_trylock(m);

	if (rc)
		acquired(m);
	return rc;
}

void __wrap_mutex_unlock(struct mutex *m)
{
	releasing(m);
	__real_mutex_unlock(m);
}

void lockprobe_empty_hold(void)
{
	__wrap_mutex_lock(&ap_perms_mutex);
	__wrap_mutex_unlock(&ap_perms_mutex);
}
