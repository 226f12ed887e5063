/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lockprobe: how long a lock is held, in the bench-set-lock build only.
 *
 * apmatrix's side: the simulated host's AP bus lock (ap_perms_mutex, what
 * ap_matrix_drv.c's ops->lock() takes) and ap_matrix.c's ap_matrix_lock
 * are shim mutexes; bench-set-lock is linked with -Wl,--wrap for the shim's
 * mutex_lock, mutex_lock_killable, mutex_trylock and mutex_unlock, so every
 * acquisition and release of them, from whatever file, goes through
 * lockprobe.c (neither ap_matrix.c nor the shim is changed). vfio_ap's
 * side: the model's ap_perms_mutex and mdevs_lock, whose lock and unlock
 * calls in vfio-ap-model.c call lockprobe_acquired()/_released() when it
 * is built with BENCH_LOCK_PROBE.
 *
 * A probe counts only while armed, and only the arming thread's holds: the
 * measured call, not the setup, the giving back of the queues, or another
 * thread. Per hold it adds up the wall time (CLOCK_MONOTONIC) and the
 * thread's CPU time from the acquisition's return to the release's call,
 * and, when told to (lockprobe_callgrind()), turns callgrind's collection
 * on at the acquisition and off at the release: under
 * valgrind --tool=callgrind --collect-atstart=no the instructions counted
 * are then exactly those executed while the lock was held (less the clock
 * reads, which lie outside the toggles; plus the probe's own few
 * instructions, measured by lockprobe_floor()).
 */
#ifndef BENCH_LOCKPROBE_H
#define BENCH_LOCKPROBE_H

#include <stdbool.h>
#include <stdint.h>

struct lockprobe {
	const char *name;
	bool cg;		/* toggle callgrind's collection at acquire/release */
	bool held;
	unsigned int holds;	/* acquisitions while armed, since the last reset */
	unsigned int errors;	/* hook called on a lock the thread did not (or did) hold */
	uint64_t t0, c0;	/* at the acquisition */
	uint64_t wall_ns, cpu_ns;	/* summed over the holds */
};

/* apmatrix's locks (the shim mutexes) and the vfio_ap model's */
extern struct lockprobe lockprobe_bus, lockprobe_inner, lockprobe_vfio_bus, lockprobe_vfio_inner;

/* count the calling thread's holds from now on / stop counting */
void lockprobe_arm(void);
void lockprobe_disarm(void);
void lockprobe_reset(struct lockprobe *p);
/* which probe toggles callgrind's collection: "bus", "inner" or NULL */
int lockprobe_callgrind(const char *which);

void lockprobe_acquired(struct lockprobe *p);
void lockprobe_released(struct lockprobe *p);

/* one empty hold of ap_perms_mutex with the probe armed: what the probe
 * itself adds to a hold (its bookkeeping; the lock calls' own) */
void lockprobe_empty_hold(void);

#endif
