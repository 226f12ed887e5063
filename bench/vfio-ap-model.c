// SPDX-License-Identifier: GPL-2.0
/*
 * A model of what one write to a vfio_ap mediated device's `ap_config`
 * attribute costs in Linux 6.12 (drivers/s390/crypto/vfio_ap_ops.c,
 * ap_bus.c, arch/s390/kvm/kvm-s390.c), written for this bench from a
 * reading of that code: same data structures (linked lists, the AP bus's
 * queue hash table, each mdev's queue hash table, 256-bit bitmaps handled
 * with the kernel's out-of-line bitmap routines), same steps in the same
 * order, same locks, same algorithmic costs. What it leaves out is said
 * where it is left out.
 *
 * The path, for a write of "apm,aqm,adm" (three 256-bit hex masks):
 *  - kernfs: copy of the user buffer into a kernel buffer, the open
 *    file's mutex (the syscall itself is outside the measurement, as it
 *    is for apmatrix's ioctl);
 *  - ap_config_store(): a bounded duplicate of the text; ap_perms_mutex,
 *    then guests_lock, the guest's kvm->lock, mdevs_lock; the old matrix
 *    saved; three masks parsed digit by digit (ap_hex2bitmap); the added
 *    and removed adapters and domains computed;
 *  - validation with the new matrix installed in the mdev: the
 *    default-driver ownership check (ap_apqn_in_matrix_owned_by_def_drv:
 *    every APID, and for each one both masks hold, every APQI), then
 *    vfio_ap_mdev_verify_no_sharing(): a walk of the list of every mdev,
 *    clearing two scratch bitmaps and AND-ing the new APM, and if that
 *    meets, the new AQM, against each; then the overflow check (every set
 *    bit of the three masks against the limits);
 *  - unplug and unlink of removed adapters and domains (none when a
 *    guest gets queues it did not have, which is what the bench measures);
 *  - link of the added adapters, then of the added domains: for each APQN
 *    of the added rows and columns vfio_ap_find_queue(), which is
 *    ap_get_qdev(), a walk of the AP bus's whole queue hash table (every
 *    queue device of the host, bucket by bucket, until the APQN is found,
 *    under ap_queues_lock, with a device reference taken and dropped),
 *    then a look-up in the mdev's own queue hash table and an insert;
 *  - vfio_ap_mdev_filter_matrix(): the shadow APCB rebuilt from the matrix
 *    and the host's configuration, each APQN of it looked up in the mdev's
 *    queue table to see it is bound and passable; the control domains
 *    likewise;
 *  - if the shadow changed: kvm_arch_crypto_set_masks() on the guest (the
 *    simulator's, the very one apmatrix's SET calls) and the reset of the
 *    queues of adapters filtered out (none here: every queue is bound).
 *
 * Not modelled: the work of the syscall and of kernfs beyond the copy and
 * its mutex, the queue resets when queues leave a guest (they are
 * excluded on both sides: the bench measures a claim), the dev_warn()s of
 * a refused write. Queue devices are struct ap_queue sized (each holds a
 * struct device), so the hash walk touches memory as the kernel's does.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench-kvm.h"
#include "vfio-ap-model.h"

/* bench-set-lock's probe of the two locks (lockprobe.h); nothing otherwise */
#ifdef BENCH_LOCK_PROBE
#include "lockprobe.h"
#define PROBE_ACQUIRED(p) lockprobe_acquired(&(p))
#define PROBE_RELEASED(p) lockprobe_released(&(p))
#else
#define PROBE_ACQUIRED(p) do { } while (0)
#define PROBE_RELEASED(p) do { } while (0)
#endif

#define NBITS 256
#define NLONGS (NBITS / 64)
#define NOINLINE __attribute__((noinline))

/* ---- lists and hash tables (include/linux/list.h, hashtable.h) ----------- */

struct hnode {
	struct hnode *next, **pprev;
};

struct hhead {
	struct hnode *first;
};

struct lnode {
	struct lnode *next, *prev;
};

#define owner_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

static void hnode_add_head(struct hnode *n, struct hhead *h)
{
	n->next = h->first;
	if (n->next)
		n->next->pprev = &n->next;
	h->first = n;
	n->pprev = &h->first;
}

static void hnode_del(struct hnode *n)
{
	*n->pprev = n->next;
	if (n->next)
		n->next->pprev = n->pprev;
	n->next = NULL;
	n->pprev = NULL;
}

static void lnode_init(struct lnode *l)
{
	l->next = l->prev = l;
}

static void lnode_add_head(struct lnode *n, struct lnode *head)
{
	n->next = head->next;
	n->prev = head;
	head->next->prev = n;
	head->next = n;
}

static void lnode_add_tail(struct lnode *n, struct lnode *head)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

static void lnode_del(struct lnode *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = NULL;
}

/* hash_min() of a 32-bit key into 2^8 buckets: the multiplicative hash */
static unsigned int bucket8(uint32_t key)
{
	return (key * 0x61C88647u) >> 24;
}

/* ---- bitmaps (lib/bitmap.c, arch/s390 bitops and find) ------------------- */

/* set_bit()/clear_bit() are atomic (interlocked-access on s390) */
static void set_bit_inv(unsigned long nr, unsigned long *map)
{
	__atomic_fetch_or(&map[nr / 64], 1UL << (63 - nr % 64), __ATOMIC_RELAXED);
}

static void clear_bit_inv(unsigned long nr, unsigned long *map)
{
	__atomic_fetch_and(&map[nr / 64], ~(1UL << (63 - nr % 64)), __ATOMIC_RELAXED);
}

static bool test_bit_inv(unsigned long nr, const unsigned long *map)
{
	return (map[nr / 64] >> (63 - nr % 64)) & 1;
}

/* arch/s390/lib/find.c: the first set bit, in MSB-0 order, at or after off */
NOINLINE static unsigned long find_next_bit_inv(const unsigned long *map, unsigned long size,
						unsigned long off)
{
	unsigned long w, word;

	if (off >= size)
		return size;
	word = off / 64;
	w = map[word] & (~0UL >> (off % 64));
	while (!w) {
		if (++word * 64 >= size)
			return size;
		w = map[word];
	}
	off = word * 64 + (unsigned long)__builtin_clzl(w);
	return off < size ? off : size;
}

NOINLINE static unsigned long find_first_bit_inv(const unsigned long *map, unsigned long size)
{
	return find_next_bit_inv(map, size, 0);
}

#define for_each_set_bit_inv(bit, map, size)					\
	for ((bit) = find_first_bit_inv((map), (size)); (bit) < (size);		\
	     (bit) = find_next_bit_inv((map), (size), (bit) + 1))

/* __bitmap_and() and friends: 256 bits is no "small const" bitmap, so the
 * kernel calls these out of line */
NOINLINE static bool bm_and(unsigned long *dst, const unsigned long *a, const unsigned long *b)
{
	unsigned long r = 0;
	int k;

	for (k = 0; k < NLONGS; k++)
		r |= (dst[k] = a[k] & b[k]);
	return r != 0;
}

NOINLINE static bool bm_andnot(unsigned long *dst, const unsigned long *a, const unsigned long *b)
{
	unsigned long r = 0;
	int k;

	for (k = 0; k < NLONGS; k++)
		r |= (dst[k] = a[k] & ~b[k]);
	return r != 0;
}

NOINLINE static bool bm_equal(const unsigned long *a, const unsigned long *b)
{
	int k;

	for (k = 0; k < NLONGS; k++)
		if (a[k] != b[k])
			return false;
	return true;
}

/* bitmap_empty(): find_first_bit() >= size, out of line */
NOINLINE static bool bm_empty(const unsigned long *a)
{
	int k;

	for (k = 0; k < NLONGS; k++)
		if (a[k])
			return false;
	return true;
}

/* bitmap_copy()/bitmap_zero() of a constant 256 bits: a memcpy/memset */
#define bm_copy(d, s) memcpy((d), (s), NLONGS * sizeof(unsigned long))
#define bm_zero(d) memset((d), 0, NLONGS * sizeof(unsigned long))

/* ---- locks ---------------------------------------------------------------- */

/* spin_lock_bh(): the bottom-half count, then the lock word */
struct spin {
	int word;
	int bh;
};

static void spin_lock_bh(struct spin *s)
{
	__atomic_add_fetch(&s->bh, 1, __ATOMIC_RELAXED);
	while (__atomic_exchange_n(&s->word, 1, __ATOMIC_ACQUIRE))
		;
}

static void spin_unlock_bh(struct spin *s)
{
	__atomic_store_n(&s->word, 0, __ATOMIC_RELEASE);
	__atomic_sub_fetch(&s->bh, 1, __ATOMIC_RELAXED);
}

/* ---- the data structures (ap_bus.h, vfio_ap_private.h) ------------------- */

/*
 * struct device is around 700 bytes in a distribution kernel; the part of
 * it the walk touches (none) matters less than that it spreads the queue
 * devices, so each visited node is its own cache line as in the kernel.
 */
struct model_device {
	char kobject_and_more[640];
	int refcount;			/* the kobject's kref */
	const void *driver;
	void *driver_data;
	char pm_dma_etc[64];
};

struct ap_queue_m {			/* struct ap_queue */
	struct model_device dev;	/* struct ap_device: its device ... */
	int device_type;		/* ... and type */
	struct hnode hnode;		/* in the bus's ap_queues table */
	void *card;
	struct spin lock;
	int dev_state;
	bool config, chkstop;
	uint32_t qid;
	char counters_lists_timer_sm[216];
};

struct vfio_ap_queue_m {		/* struct vfio_ap_queue */
	struct vfio_mdev *matrix_mdev;
	uint64_t saved_iova;
	int apqn;
	unsigned char saved_isc;
	struct hnode mdev_qnode;
	struct lnode reset_qnode;
	uint32_t reset_status;		/* response code of the last reset */
	char reset_work[32];
};

struct matrix_m {			/* struct ap_matrix */
	unsigned long apm_max;
	unsigned long apm[NLONGS];
	unsigned long aqm_max;
	unsigned long aqm[NLONGS];
	unsigned long adm_max;
	unsigned long adm[NLONGS];
};

struct vfio_mdev {			/* struct ap_matrix_mdev */
	char vfio_device[600];		/* struct vfio_device comes first */
	struct lnode node;		/* in matrix_dev->mdev_list */
	struct matrix_m matrix;
	struct matrix_m shadow_apcb;
	struct kvm *kvm;
	void *pqap_hook;
	void *mdev;
	struct hhead qtable[256];	/* DECLARE_HASHTABLE(queues, 8) */
	void *req_trigger;
	unsigned long apm_add[NLONGS], aqm_add[NLONGS], adm_add[NLONGS];
};

struct vfio_model {
	/* ap_bus.c */
	struct hhead ap_queues[256];	/* DEFINE_HASHTABLE(ap_queues, 8) */
	struct spin ap_queues_lock;
	pthread_mutex_t ap_perms_mutex;
	unsigned long perms_apm[NLONGS], perms_aqm[NLONGS];	/* ap_perms */
	/* matrix_dev */
	struct {
		unsigned long apm[NLONGS], aqm[NLONGS], adm[NLONGS];	/* QCI */
		unsigned int na, nd;
		bool apxa;
	} info;
	struct lnode mdev_list;
	pthread_mutex_t mdevs_lock, guests_lock;
	const void *vfio_ap_drv;
	/* the model's own bookkeeping, outside every measured path */
	struct slab *ap_queue_cache, *vfio_queue_cache;
	struct ap_queue_m **queues;	/* by APQN, for setup only */
	unsigned int nqueues;
	unsigned long installs;
};

static const char vfio_ap_driver_tag[] = "vfio_ap";

_Static_assert(sizeof(struct ap_queue_m) <= 1024, "a queue device is a kmalloc-1k object");
_Static_assert(sizeof(struct vfio_ap_queue_m) <= 128, "a vfio_ap_queue is a kmalloc-128 object");

/*
 * Where the kernel keeps these objects: kmalloc caches, objects of one size
 * class side by side in slab pages, reached through the direct mapping
 * (large pages). A queue device is a kmalloc-1k object, a vfio_ap_queue a
 * kmalloc-128 one. The model hands them out in allocation order from one
 * arena per size class, backed by transparent huge pages where the host
 * has them, so the walk of the bus's table pays cache misses, not the
 * page-table misses of a malloc heap.
 */
struct slab {
	char *base;
	size_t size, used, obj;
};

static struct slab *slab_create(size_t obj, size_t count)
{
	struct slab *s = calloc(1, sizeof(*s));
	size_t huge = 2UL << 20;

	if (!s)
		return NULL;
	s->obj = obj;
	s->size = (obj * count + huge - 1) / huge * huge;
	s->base = aligned_alloc(huge, s->size);
	if (!s->base) {
		free(s);
		return NULL;
	}
	madvise(s->base, s->size, MADV_HUGEPAGE);	/* a hint: fine if refused */
	memset(s->base, 0, s->size);
	return s;
}

static void *slab_alloc(struct slab *s)
{
	void *p;

	if (s->used + s->obj > s->size)
		return NULL;
	p = s->base + s->used;
	s->used += s->obj;
	return p;
}

static void slab_destroy(struct slab *s)
{
	if (!s)
		return;
	free(s->base);
	free(s);
}

/* ---- the AP bus ------------------------------------------------------------ */

static void get_device(struct model_device *d)
{
	__atomic_add_fetch(&d->refcount, 1, __ATOMIC_RELAXED);
}

static void put_device(struct model_device *d)
{
	if (__atomic_sub_fetch(&d->refcount, 1, __ATOMIC_RELEASE) == 0)
		abort();	/* the bus holds a reference to every queue device */
}

/* ap_get_qdev(): the whole table is walked, bucket after bucket */
NOINLINE static struct ap_queue_m *ap_get_qdev(struct vfio_model *m, uint32_t qid)
{
	struct ap_queue_m *aq;
	struct hnode *n;
	unsigned int bkt;

	spin_lock_bh(&m->ap_queues_lock);
	for (bkt = 0; bkt < 256; bkt++) {
		for (n = m->ap_queues[bkt].first; n; n = n->next) {
			aq = owner_of(n, struct ap_queue_m, hnode);
			if (aq->qid == qid) {
				get_device(&aq->dev);
				spin_unlock_bh(&m->ap_queues_lock);
				return aq;
			}
		}
	}
	spin_unlock_bh(&m->ap_queues_lock);
	return NULL;
}

/* ap_apqn_in_matrix_owned_by_def_drv(): 1 if an APQN of apm x aqm is the
 * default drivers' */
NOINLINE static int apqn_in_matrix_owned_by_def_drv(struct vfio_model *m,
						    const unsigned long *apm,
						    const unsigned long *aqm)
{
	int card, queue, rc = 0;

	for (card = 0; !rc && card < NBITS; card++) {
		if (!test_bit_inv(card, apm) || !test_bit_inv(card, m->perms_apm))
			continue;
		for (queue = 0; !rc && queue < NBITS; queue++)
			if (test_bit_inv(queue, aqm) && test_bit_inv(queue, m->perms_aqm))
				rc = 1;
	}
	return rc;
}

/* ap_hex2bitmap() */
static int hex_digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

NOINLINE static int hex2bitmap(const char *s, unsigned long *map, int bits)
{
	int i, n, v;

	if (bits & 7)
		return -EINVAL;
	if (s[0] == '0' && s[1] == 'x')
		s++;
	if (*s == 'x')
		s++;
	for (i = 0; isxdigit((unsigned char)*s) && i < bits; s++, i += 4) {
		v = hex_digit((unsigned char)*s);
		for (n = 0; n < 4; n++)
			if (v & (8 >> n))
				set_bit_inv(i + n, map);
	}
	if (*s == '\n')
		s++;
	return *s ? -EINVAL : 0;
}

/* ---- vfio_ap_ops.c ---------------------------------------------------------- */

static void matrix_init(struct vfio_model *m, struct matrix_m *mx)
{
	mx->apm_max = m->info.apxa ? m->info.na : 63;
	mx->aqm_max = m->info.apxa ? m->info.nd : 15;
	mx->adm_max = m->info.apxa ? m->info.nd : 15;
}

static void matrix_copy(struct matrix_m *dst, const struct matrix_m *src)
{
	bm_copy(dst->apm, src->apm);
	bm_copy(dst->aqm, src->aqm);
	bm_copy(dst->adm, src->adm);
}

/* vfio_ap_mdev_get_queue(): one bucket of the mdev's table */
NOINLINE static struct vfio_ap_queue_m *mdev_get_queue(struct vfio_mdev *mdev, int apqn)
{
	struct vfio_ap_queue_m *q;
	struct hnode *n;

	for (n = mdev->qtable[bucket8((uint32_t)apqn)].first; n; n = n->next) {
		q = owner_of(n, struct vfio_ap_queue_m, mdev_qnode);
		if (q->apqn == apqn)
			return q;
	}
	return NULL;
}

/* vfio_ap_find_queue(): the bus's device, if vfio_ap has it */
NOINLINE static struct vfio_ap_queue_m *find_queue(struct vfio_model *m, int apqn)
{
	struct vfio_ap_queue_m *q = NULL;
	struct ap_queue_m *aq;

	aq = ap_get_qdev(m, (uint32_t)apqn);
	if (!aq)
		return NULL;
	if (aq->dev.driver == m->vfio_ap_drv)
		q = aq->dev.driver_data;
	put_device(&aq->dev);
	return q;
}

static void link_queue(struct vfio_mdev *mdev, struct vfio_ap_queue_m *q)
{
	if (!q || mdev_get_queue(mdev, q->apqn))
		return;
	q->matrix_mdev = mdev;
	hnode_add_head(&q->mdev_qnode, &mdev->qtable[bucket8((uint32_t)q->apqn)]);
}

static void link_apqn(struct vfio_model *m, struct vfio_mdev *mdev, int apqn)
{
	link_queue(mdev, find_queue(m, apqn));
}

static void link_adapter(struct vfio_model *m, struct vfio_mdev *mdev, unsigned long apid)
{
	unsigned long apqi;

	for_each_set_bit_inv(apqi, mdev->matrix.aqm, NBITS)
		link_apqn(m, mdev, (int)(apid << 8 | apqi));
}

static void link_domain(struct vfio_model *m, struct vfio_mdev *mdev, unsigned long apqi)
{
	unsigned long apid;

	for_each_set_bit_inv(apid, mdev->matrix.apm, NBITS)
		link_apqn(m, mdev, (int)(apid << 8 | apqi));
}

/* vfio_ap_mdev_verify_no_sharing() */
NOINLINE static int verify_no_sharing(struct vfio_model *m, struct vfio_mdev *assignee,
				      const unsigned long *new_apm, const unsigned long *new_aqm)
{
	unsigned long apm[NLONGS], aqm[NLONGS];
	struct vfio_mdev *other;
	struct lnode *l;

	for (l = m->mdev_list.next; l != &m->mdev_list; l = l->next) {
		other = owner_of(l, struct vfio_mdev, node);
		if (other == assignee)
			continue;
		memset(apm, 0, sizeof(apm));
		memset(aqm, 0, sizeof(aqm));
		if (!bm_and(apm, new_apm, other->matrix.apm))
			continue;
		if (!bm_and(aqm, new_aqm, other->matrix.aqm))
			continue;
		return -EADDRINUSE;	/* (and a dev_warn per shared APQN) */
	}
	return 0;
}

static int validate_masks(struct vfio_model *m, struct vfio_mdev *mdev)
{
	if (apqn_in_matrix_owned_by_def_drv(m, mdev->matrix.apm, mdev->matrix.aqm))
		return -EADDRNOTAVAIL;
	return verify_no_sharing(m, mdev, mdev->matrix.apm, mdev->matrix.aqm);
}

static int overflow_check(struct vfio_mdev *mdev)
{
	unsigned long bit;

	for_each_set_bit_inv(bit, mdev->matrix.apm, NBITS)
		if (bit > mdev->matrix.apm_max)
			return -ENODEV;
	for_each_set_bit_inv(bit, mdev->matrix.aqm, NBITS)
		if (bit > mdev->matrix.aqm_max)
			return -ENODEV;
	for_each_set_bit_inv(bit, mdev->matrix.adm, NBITS)
		if (bit > mdev->matrix.adm_max)
			return -ENODEV;
	return 0;
}

static void update_guest_apcb(struct vfio_model *m, struct vfio_mdev *mdev)
{
	if (!mdev->kvm)
		return;
	m->installs++;
	bench_kvm_set_masks(mdev->kvm, mdev->shadow_apcb.apm, mdev->shadow_apcb.aqm,
			    mdev->shadow_apcb.adm);
}

/*
 * vfio_ap_mdev_reset_qlist(): ZAPQ and the wait for each queue. Not
 * reached by the measured claim (nothing leaves the guest); the model
 * records a normal completion and counts nothing.
 */
static void reset_qlist(struct lnode *qlist)
{
	struct vfio_ap_queue_m *q;
	struct lnode *l;

	for (l = qlist->next; l != qlist; l = l->next) {
		q = owner_of(l, struct vfio_ap_queue_m, reset_qnode);
		q->reset_status = 0;
	}
}

static struct vfio_ap_queue_m *unlink_apqn(struct vfio_mdev *mdev, unsigned long apid,
					   unsigned long apqi)
{
	struct vfio_ap_queue_m *q = mdev_get_queue(mdev, (int)(apid << 8 | apqi));

	if (q && q->mdev_qnode.pprev)
		hnode_del(&q->mdev_qnode);
	return q;
}

static void unplug_finish(struct vfio_model *m, struct vfio_mdev *mdev, struct lnode *qlist,
			  bool apcb_update)
{
	struct lnode *l, *next;

	if (apcb_update)
		update_guest_apcb(m, mdev);
	reset_qlist(qlist);
	for (l = qlist->next; l != qlist; l = next) {
		next = l->next;
		owner_of(l, struct vfio_ap_queue_m, reset_qnode)->matrix_mdev = NULL;
		lnode_del(l);
	}
}

/* vfio_ap_mdev_hot_unplug_adapters() */
static void hot_unplug_adapters(struct vfio_model *m, struct vfio_mdev *mdev,
				const unsigned long *apids)
{
	struct vfio_ap_queue_m *q;
	unsigned long apid, apqi;
	bool apcb_update = false;
	struct lnode qlist;

	lnode_init(&qlist);
	for_each_set_bit_inv(apid, apids, NBITS) {
		for_each_set_bit_inv(apqi, mdev->matrix.aqm, NBITS) {
			q = unlink_apqn(mdev, apid, apqi);
			if (q && test_bit_inv(apid, mdev->shadow_apcb.apm) &&
			    test_bit_inv(apqi, mdev->shadow_apcb.aqm))
				lnode_add_tail(&q->reset_qnode, &qlist);
		}
		if (test_bit_inv(apid, mdev->shadow_apcb.apm)) {
			clear_bit_inv(apid, mdev->shadow_apcb.apm);
			apcb_update = true;
		}
	}
	unplug_finish(m, mdev, &qlist, apcb_update);
}

/* vfio_ap_mdev_hot_unplug_domains() */
static void hot_unplug_domains(struct vfio_model *m, struct vfio_mdev *mdev,
			       const unsigned long *apqis)
{
	struct vfio_ap_queue_m *q;
	unsigned long apid, apqi;
	bool apcb_update = false;
	struct lnode qlist;

	lnode_init(&qlist);
	for_each_set_bit_inv(apqi, apqis, NBITS) {
		for_each_set_bit_inv(apid, mdev->matrix.apm, NBITS) {
			q = unlink_apqn(mdev, apid, apqi);
			if (q && test_bit_inv(apid, mdev->shadow_apcb.apm) &&
			    test_bit_inv(apqi, mdev->shadow_apcb.aqm))
				lnode_add_tail(&q->reset_qnode, &qlist);
		}
		if (test_bit_inv(apqi, mdev->shadow_apcb.aqm)) {
			clear_bit_inv(apqi, mdev->shadow_apcb.aqm);
			apcb_update = true;
		}
	}
	unplug_finish(m, mdev, &qlist, apcb_update);
}

/* _queue_passable(): bound, and its last reset ended normally (or the
 * queue is deconfigured / check-stopped) */
static bool queue_passable(const struct vfio_ap_queue_m *q)
{
	if (!q)
		return false;
	switch (q->reset_status) {
	case 0x00:	/* AP_RESPONSE_NORMAL */
	case 0x03:	/* AP_RESPONSE_DECONFIGURED */
	case 0x04:	/* AP_RESPONSE_CHECKSTOPPED */
		return true;
	default:
		return false;
	}
}

/* vfio_ap_mdev_filter_matrix() */
NOINLINE static bool filter_matrix(struct vfio_model *m, struct vfio_mdev *mdev,
				   unsigned long *apm_filtered)
{
	unsigned long prev_apm[NLONGS], prev_aqm[NLONGS];
	unsigned long apid, apqi;

	bm_copy(prev_apm, mdev->shadow_apcb.apm);
	bm_copy(prev_aqm, mdev->shadow_apcb.aqm);
	matrix_init(m, &mdev->shadow_apcb);
	bm_zero(apm_filtered);
	bm_and(mdev->shadow_apcb.apm, mdev->matrix.apm, m->info.apm);
	bm_and(mdev->shadow_apcb.aqm, mdev->matrix.aqm, m->info.aqm);
	for_each_set_bit_inv(apid, mdev->shadow_apcb.apm, NBITS) {
		for_each_set_bit_inv(apqi, mdev->shadow_apcb.aqm, NBITS) {
			if (queue_passable(mdev_get_queue(mdev, (int)(apid << 8 | apqi))))
				continue;
			/* one APQN not passable: the whole adapter goes */
			clear_bit_inv(apid, mdev->shadow_apcb.apm);
			if (test_bit_inv(apid, prev_apm))
				set_bit_inv(apid, apm_filtered);
			break;
		}
	}
	return !bm_equal(prev_apm, mdev->shadow_apcb.apm) ||
	       !bm_equal(prev_aqm, mdev->shadow_apcb.aqm);
}

/* vfio_ap_mdev_filter_cdoms() */
static bool filter_cdoms(struct vfio_model *m, struct vfio_mdev *mdev)
{
	unsigned long prev_adm[NLONGS];

	bm_copy(prev_adm, mdev->shadow_apcb.adm);
	bm_and(mdev->shadow_apcb.adm, mdev->matrix.adm, m->info.adm);
	return !bm_equal(prev_adm, mdev->shadow_apcb.adm);
}

/* reset_queues_for_apids(): the queues of filtered adapters */
static int reset_queues_for_apids(struct vfio_mdev *mdev, const unsigned long *apm_reset)
{
	struct vfio_ap_queue_m *q;
	unsigned long apid, apqi;
	struct lnode qlist;

	if (bm_empty(apm_reset))
		return 0;
	lnode_init(&qlist);
	for_each_set_bit_inv(apid, apm_reset, NBITS)
		for_each_set_bit_inv(apqi, mdev->shadow_apcb.aqm, NBITS) {
			q = mdev_get_queue(mdev, (int)(apid << 8 | apqi));
			if (q)
				lnode_add_tail(&q->reset_qnode, &qlist);
		}
	reset_qlist(&qlist);
	return 0;
}

static void get_update_locks_for_mdev(struct vfio_model *m, struct vfio_mdev *mdev)
{
	pthread_mutex_lock(&m->guests_lock);
	if (mdev->kvm)
		bench_kvm_lock(mdev->kvm);
	pthread_mutex_lock(&m->mdevs_lock);
	PROBE_ACQUIRED(lockprobe_vfio_inner);
}

static void release_update_locks_for_mdev(struct vfio_model *m, struct vfio_mdev *mdev)
{
	PROBE_RELEASED(lockprobe_vfio_inner);
	pthread_mutex_unlock(&m->mdevs_lock);
	if (mdev->kvm)
		bench_kvm_unlock(mdev->kvm);
	pthread_mutex_unlock(&m->guests_lock);
}

/* parse_bitmap(): the next ",\n"-separated field */
static int parse_bitmap(char **rest, unsigned long *map)
{
	char *field = strsep(rest, ",\n");

	if (!field)
		return -EINVAL;
	bm_zero(map);
	return hex2bitmap(field, map, NBITS);
}

#define AP_CONFIG_STRLEN (3 * (NBITS / 4 + 3))

/* ap_config_store() */
NOINLINE static ssize_t ap_config_store(struct vfio_model *m, struct vfio_mdev *mdev,
					const char *buf, size_t count)
{
	struct matrix_m m_new, m_old, m_added, m_removed;
	unsigned long apm_filtered[NLONGS];
	unsigned long bit;
	char *newbuf, *rest;
	ssize_t rc = (ssize_t)count;
	bool do_update;

	newbuf = strndup(buf, AP_CONFIG_STRLEN);	/* kstrndup() */
	if (!newbuf)
		return -ENOMEM;
	rest = newbuf;

	pthread_mutex_lock(&m->ap_perms_mutex);
	PROBE_ACQUIRED(lockprobe_vfio_bus);
	get_update_locks_for_mdev(m, mdev);

	matrix_copy(&m_old, &mdev->matrix);
	if (parse_bitmap(&rest, m_new.apm) || parse_bitmap(&rest, m_new.aqm) ||
	    parse_bitmap(&rest, m_new.adm)) {
		rc = -EINVAL;
		goto out;
	}
	bm_andnot(m_removed.apm, m_old.apm, m_new.apm);
	bm_andnot(m_removed.aqm, m_old.aqm, m_new.aqm);
	bm_andnot(m_added.apm, m_new.apm, m_old.apm);
	bm_andnot(m_added.aqm, m_new.aqm, m_old.aqm);

	/* validated in place: the new matrix goes into the mdev first */
	matrix_copy(&mdev->matrix, &m_new);
	rc = validate_masks(m, mdev);
	if (!rc)
		rc = overflow_check(mdev);
	if (rc) {
		matrix_copy(&mdev->matrix, &m_old);
		goto out;
	}
	rc = (ssize_t)count;

	/* the old matrix to unplug what goes, the new one to link what comes */
	matrix_copy(&mdev->matrix, &m_old);
	hot_unplug_adapters(m, mdev, m_removed.apm);
	hot_unplug_domains(m, mdev, m_removed.aqm);
	matrix_copy(&mdev->matrix, &m_new);

	for_each_set_bit_inv(bit, m_added.apm, NBITS)
		link_adapter(m, mdev, bit);
	for_each_set_bit_inv(bit, m_added.aqm, NBITS)
		link_domain(m, mdev, bit);

	do_update = filter_matrix(m, mdev, apm_filtered);
	do_update |= filter_cdoms(m, mdev);
	if (do_update) {
		update_guest_apcb(m, mdev);
		reset_queues_for_apids(mdev, apm_filtered);
	}
out:
	release_update_locks_for_mdev(m, mdev);
	PROBE_RELEASED(lockprobe_vfio_bus);
	pthread_mutex_unlock(&m->ap_perms_mutex);
	free(newbuf);
	return rc;
}

/* kernfs_fop_write_iter() as far as modelled: the user buffer copied into a
 * NUL-terminated kernel buffer under the open file's mutex */
static pthread_mutex_t kernfs_of_mutex = PTHREAD_MUTEX_INITIALIZER;

ssize_t vfio_model_ap_config_write(struct vfio_model *m, struct vfio_mdev *mdev,
				   const char *ubuf, size_t count)
{
	ssize_t rc;
	char *kbuf;

	if (count >= 4096)
		return -EINVAL;	/* one page, as sysfs allows */
	kbuf = malloc(count + 1);
	if (!kbuf)
		return -ENOMEM;
	memcpy(kbuf, ubuf, count);	/* copy_from_iter() */
	kbuf[count] = '\0';
	pthread_mutex_lock(&kernfs_of_mutex);
	rc = ap_config_store(m, mdev, kbuf, count);
	pthread_mutex_unlock(&kernfs_of_mutex);
	free(kbuf);
	return rc;
}

/* ---- setup (not measured) ---------------------------------------------------- */

struct vfio_model *vfio_model_create(unsigned int max_apid, unsigned int max_apqi)
{
	struct vfio_model *m;
	struct vfio_ap_queue_m *vq;
	struct ap_queue_m *aq;
	unsigned int a, d, qid;

	if (max_apid > 255 || max_apqi > 255)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	lnode_init(&m->mdev_list);
	m->queues = calloc(65536, sizeof(*m->queues));
	m->ap_queue_cache = slab_create(1024, (max_apid + 1) * (max_apqi + 1));
	m->vfio_queue_cache = slab_create(128, (max_apid + 1) * (max_apqi + 1));
	if (!m->queues || !m->ap_queue_cache || !m->vfio_queue_cache) {
		vfio_model_free(m);
		return NULL;
	}
	pthread_mutex_init(&m->ap_perms_mutex, NULL);
	pthread_mutex_init(&m->mdevs_lock, NULL);
	pthread_mutex_init(&m->guests_lock, NULL);
	m->vfio_ap_drv = vfio_ap_driver_tag;
	m->info.apxa = true;
	m->info.na = max_apid;
	m->info.nd = max_apqi;
	/* ap_perms stay 0: nothing for the default drivers */
	/* the AP bus scan: adapter by adapter, each adapter's queues in
	 * domain order, each one hashed in (at the head of its bucket) and
	 * probed by vfio_ap, which allocates its vfio_ap_queue */
	for (a = 0; a <= max_apid; a++) {
		set_bit_inv(a, m->info.apm);
		for (d = 0; d <= max_apqi; d++) {
			if (a == 0) {
				set_bit_inv(d, m->info.aqm);
				set_bit_inv(d, m->info.adm);
			}
			qid = a << 8 | d;
			aq = slab_alloc(m->ap_queue_cache);
			vq = slab_alloc(m->vfio_queue_cache);
			if (!aq || !vq) {
				vfio_model_free(m);
				return NULL;
			}
			aq->qid = qid;
			aq->dev.refcount = 1;
			aq->dev.driver = m->vfio_ap_drv;
			aq->dev.driver_data = vq;
			vq->apqn = (int)qid;
			vq->saved_isc = 0xff;
			hnode_add_head(&aq->hnode, &m->ap_queues[bucket8(qid)]);
			m->queues[qid] = aq;
			m->nqueues++;
		}
	}
	return m;
}

void vfio_model_free(struct vfio_model *m)
{
	struct lnode *l, *next;

	if (!m)
		return;
	for (l = m->mdev_list.next; l != &m->mdev_list; l = next) {
		next = l->next;
		free(owner_of(l, struct vfio_mdev, node));
	}
	slab_destroy(m->ap_queue_cache);
	slab_destroy(m->vfio_queue_cache);
	free(m->queues);
	free(m);
}

struct vfio_mdev *vfio_model_add_mdev(struct vfio_model *m, const uint64_t apm[4],
				      const uint64_t aqm[4], const uint64_t adm[4],
				      struct kvm *kvm)
{
	struct vfio_mdev *mdev = calloc(1, sizeof(*mdev));
	struct vfio_ap_queue_m *q;
	unsigned long a, d;
	int k;

	if (!mdev)
		return NULL;
	matrix_init(m, &mdev->matrix);
	matrix_init(m, &mdev->shadow_apcb);
	for (k = 0; k < NLONGS; k++) {
		mdev->matrix.apm[k] = apm[k];
		mdev->matrix.aqm[k] = aqm[k];
		mdev->matrix.adm[k] = adm[k];
	}
	for_each_set_bit_inv(a, mdev->matrix.apm, NBITS)
		for_each_set_bit_inv(d, mdev->matrix.aqm, NBITS) {
			if (!m->queues[a << 8 | d])
				continue;
			q = m->queues[a << 8 | d]->dev.driver_data;
			q->matrix_mdev = mdev;
			hnode_add_head(&q->mdev_qnode, &mdev->qtable[bucket8((uint32_t)q->apqn)]);
		}
	bm_and(mdev->shadow_apcb.apm, mdev->matrix.apm, m->info.apm);
	bm_and(mdev->shadow_apcb.aqm, mdev->matrix.aqm, m->info.aqm);
	bm_and(mdev->shadow_apcb.adm, mdev->matrix.adm, m->info.adm);
	mdev->kvm = kvm;
	lnode_add_head(&mdev->node, &m->mdev_list);	/* vfio_ap_mdev_probe() */
	return mdev;
}

void vfio_model_mdev_clear(struct vfio_model *m, struct vfio_mdev *mdev)
{
	struct vfio_ap_queue_m *q;
	struct hnode *n;
	int b;

	(void)m;
	for (b = 0; b < 256; b++)
		while ((n = mdev->qtable[b].first)) {
			q = owner_of(n, struct vfio_ap_queue_m, mdev_qnode);
			q->matrix_mdev = NULL;
			hnode_del(n);
		}
	bm_zero(mdev->matrix.apm);
	bm_zero(mdev->matrix.aqm);
	bm_zero(mdev->matrix.adm);
	bm_zero(mdev->shadow_apcb.apm);
	bm_zero(mdev->shadow_apcb.aqm);
	bm_zero(mdev->shadow_apcb.adm);
}

unsigned long vfio_model_installs(const struct vfio_model *m)
{
	return m->installs;
}
