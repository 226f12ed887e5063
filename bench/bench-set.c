// SPDX-License-Identifier: GPL-2.0
/*
 * bench-set - cost of one SET as the number of VMs grows, on the simulated
 * host running the real ap_matrix.c (in process: no socket in the way).
 *
 *   bench-set set NVMS ITERS        median wall time (ns) of one claiming SET
 *                                   of 1 adapter x 6 domains, with NVMS other
 *                                   VMs each holding 1 x 6 of a 256x256 host;
 *                                   then the same check done the vfio_ap way
 *                                   (vfio_ap_mdev_verify_no_sharing: a list walk
 *                                   ANDing against every other mdev's matrix)
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

/*
 * The vfio_ap way, modelled on vfio_ap_mdev_verify_no_sharing() (6.12
 * drivers/s390/crypto/vfio_ap_ops.c l.913-951): walk the list of every
 * mdev (each a separate allocation: struct ap_matrix_mdev starts with a
 * struct vfio_device, so list node and matrix sit far apart from the next
 * mdev's), clear two scratch bitmaps, and AND the new apm, then aqm,
 * against that mdev's with the kernel's out-of-line __bitmap_and().
 */
struct mdev_like {
	char vdev[512];			/* struct vfio_device comes first */
	struct mdev_like *next;		/* node in matrix_dev->mdev_list */
	struct { uint64_t apm[4], aqm[4], adm[4]; } matrix;
	char rest[256];			/* shadow_apcb, qtable, ... */
};

__attribute__((noinline)) static int bitmap_and_ool(uint64_t *dst, const uint64_t *a,
						    const uint64_t *b, unsigned int nbits)
{
	unsigned int k, lim = nbits / 64;
	uint64_t result = 0;

	for (k = 0; k < lim; k++)
		result |= (dst[k] = a[k] & b[k]);
	return result != 0;
}

__attribute__((noinline)) int measured_vfio(const struct mdev_like *list,
					    const struct kmatrix *m)
{
	uint64_t apm[4], aqm[4];
	const struct mdev_like *o;

	for (o = list; o; o = o->next) {
		memset(apm, 0, sizeof(apm));
		memset(aqm, 0, sizeof(aqm));
		if (!bitmap_and_ool(apm, m->apm, o->matrix.apm, 256))
			continue;
		if (!bitmap_and_ool(aqm, m->aqm, o->matrix.aqm, 256))
			continue;
		return -1;	/* -EADDRINUSE */
	}
	return 0;
}

static struct mdev_like *mdev_list(const struct kmatrix *all, unsigned int n)
{
	struct mdev_like *head = NULL, *o;
	unsigned int i;

	for (i = n; i-- > 0;) {
		o = calloc(1, sizeof(*o));
		if (!o)
			exit(2);
		memcpy(o->matrix.apm, all[i].apm, sizeof(o->matrix.apm));
		memcpy(o->matrix.aqm, all[i].aqm, sizeof(o->matrix.aqm));
		o->next = head;
		head = o;
	}
	return head;
}

static void mdev_list_free(struct mdev_like *o)
{
	struct mdev_like *next;

	for (; o; o = next) {
		next = o->next;
		free(o);
	}
}

static int bench_set(unsigned int n, unsigned int iters)
{
	struct sim_vm **vms = calloc(n + 1, sizeof(*vms));
	struct kmatrix *all = calloc(n + 1, sizeof(*all));
	struct kmatrix mine, empty;
	struct mdev_like *mdevs;
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
	mdevs = mdev_list(all, n);
	for (i = 0; i < iters; i++) {
		t0 = now_ns();
		sink += measured_vfio(mdevs, &mine);
		t[i] = now_ns() - t0;
	}
	mdev_list_free(mdevs);
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
