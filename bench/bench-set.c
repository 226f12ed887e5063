// SPDX-License-Identifier: GPL-2.0
/*
 * bench-set - cost of one SET as the number of VMs grows, on the simulated
 * host running the real ap_matrix.c (in process: no socket in the way).
 *
 *   bench-set set NVMS ITERS        median wall time (ns) of one claiming SET
 *                                   of 1 adapter x 6 domains, with NVMS other
 *                                   VMs each holding 1 x 6 of a 256x256 host;
 *                                   then the same check done the vfio_ap way
 *                                   (AND against every other VM's matrix)
 *   bench-set reconf NA ND NC       KVM ioctls and vCPU kick rounds of one
 *                                   reconfiguration of NA x ND (+NC control
 *                                   domains) of a running VM
 * Under callgrind (--collect-atstart=no --toggle-collect=measured_*) only
 * the measured calls are counted. Prints "key value" lines.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "simhost.h"

#define GROUP_CRYPTO 2
#define ATTR_SET_AP_MATRIX 6

struct kmatrix {		/* struct kvm_s390_ap_matrix, 136 bytes */
	uint64_t apm[4], aqm[4], adm[4];
	uint32_t flags, reserved[9];
};

static void set_id(uint64_t *m, unsigned int id)
{
	m[id / 64] |= 1ULL << (63 - id % 64);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void host(void)
{
	uint64_t zero[4] = { 0 };
	unsigned int a, d;

	if (sim_host_init(255, 255))
		exit(1);
	sim_host_load_masks(zero, zero);	/* nothing with the default drivers */
	for (a = 0; a < 256; a++)
		for (d = 0; d < 256; d++)
			sim_host_add_queue(a, d, SIM_DRV_APMATRIX);
	sim_host_for_each_changed(NULL, NULL);
	if (sim_host_register())
		exit(1);
	sim_host_set_reset_timing(0, 50);	/* resets answer at once: no sleeping */
}

/* VM i of n: adapter i % 255, domains 6 * (i / 255) .. +5 (adapter 255 is the bench's) */
static void vm_matrix(unsigned int i, struct kmatrix *m)
{
	unsigned int d;

	memset(m, 0, sizeof(*m));
	set_id(m->apm, i % 255);
	for (d = 0; d < 6; d++)
		set_id(m->aqm, 6 * (i / 255) + d);
}

__attribute__((noinline)) int measured_apmatrix(struct sim_vm *vm, struct kmatrix *m)
{
	return sim_vm_set_attr(vm, GROUP_CRYPTO, ATTR_SET_AP_MATRIX, m);
}

/* vfio_ap_mdev_verify_no_sharing(): the new matrix against every other mdev's */
__attribute__((noinline)) int measured_vfio(const struct kmatrix *all, unsigned int n,
					    const struct kmatrix *m)
{
	unsigned int i, w;
	int ap, aq;

	for (i = 0; i < n; i++) {
		ap = aq = 0;
		for (w = 0; w < 4; w++) {
			ap |= (all[i].apm[w] & m->apm[w]) != 0;
			aq |= (all[i].aqm[w] & m->aqm[w]) != 0;
		}
		if (ap && aq)
			return -1;
	}
	return 0;
}

static int bench_set(unsigned int n, unsigned int iters)
{
	struct sim_vm **vms = calloc(n + 1, sizeof(*vms));
	struct kmatrix *all = calloc(n + 1, sizeof(*all));
	struct kmatrix mine, empty;
	uint64_t *t = calloc(iters, sizeof(*t)), t0;
	unsigned int i, d;
	volatile int sink = 0;

	if (!vms || !all || !t || n > 255 * 40)
		return 2;
	host();
	for (i = 0; i < n; i++) {
		vms[i] = sim_vm_create(2);
		vm_matrix(i, &all[i]);
		if (!vms[i] || sim_vm_set_attr(vms[i], GROUP_CRYPTO, ATTR_SET_AP_MATRIX, &all[i])) {
			fprintf(stderr, "bench-set: setting up VM %u failed\n", i);
			return 1;
		}
	}
	vms[n] = sim_vm_create(2);
	memset(&mine, 0, sizeof(mine));
	memset(&empty, 0, sizeof(empty));
	set_id(mine.apm, 255);
	for (d = 0; d < 6; d++)
		set_id(mine.aqm, d);
	for (i = 0; i < iters; i++) {
		t0 = now_ns();
		if (measured_apmatrix(vms[n], &mine))
			return 1;
		t[i] = now_ns() - t0;
		sim_vm_set_attr(vms[n], GROUP_CRYPTO, ATTR_SET_AP_MATRIX, &empty);
	}
	qsort(t, iters, sizeof(*t), cmp_u64);
	printf("apmatrix_ns %llu\n", (unsigned long long)t[iters / 2]);
	for (i = 0; i < iters; i++) {
		t0 = now_ns();
		sink += measured_vfio(all, n, &mine);
		t[i] = now_ns() - t0;
	}
	qsort(t, iters, sizeof(*t), cmp_u64);
	printf("vfio_ns %llu\n", (unsigned long long)t[iters / 2]);
	(void)sink;
	return 0;
}

static int bench_reconf(unsigned int na, unsigned int nd, unsigned int nc)
{
	struct sim_stats a, b;
	struct kmatrix m, first;
	struct sim_vm *vm;
	unsigned int i;

	host();
	vm = sim_vm_create(2);
	memset(&first, 0, sizeof(first));
	set_id(first.apm, 0);
	set_id(first.aqm, 0);
	sim_vm_set_attr(vm, GROUP_CRYPTO, ATTR_SET_AP_MATRIX, &first);	/* running guest */
	memset(&m, 0, sizeof(m));
	for (i = 0; i < na; i++)
		set_id(m.apm, 1 + i);
	for (i = 0; i < nd; i++)
		set_id(m.aqm, 1 + i);
	for (i = 0; i < nc; i++)
		set_id(m.adm, 1 + i);
	sim_host_stats(&a);
	if (sim_vm_set_attr(vm, GROUP_CRYPTO, ATTR_SET_AP_MATRIX, &m))
		return 1;
	sim_host_stats(&b);
	printf("ioctls %lu\nkicks %lu\n", b.set_calls - a.set_calls, b.kicks - a.kicks);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "set"))
		return bench_set((unsigned int)atoi(argv[2]), (unsigned int)atoi(argv[3]));
	if (argc == 5 && !strcmp(argv[1], "reconf"))
		return bench_reconf((unsigned int)atoi(argv[2]), (unsigned int)atoi(argv[3]),
				    (unsigned int)atoi(argv[4]));
	fprintf(stderr, "usage: bench-set set NVMS ITERS | reconf NA ND NC\n");
	return 2;
}
