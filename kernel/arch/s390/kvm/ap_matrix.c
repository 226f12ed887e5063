// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_S390_VM_CRYPTO_SET_AP_MATRIX: hand AP queues to a guest without a
 * mediated device.
 *
 * A VMM sets the whole AP matrix of its guest (adapters, usage domains,
 * control domains) with one VM attribute.  The request is checked against
 * the host's AP configuration, the guest's CRYCB format, the caller's
 * authority (a grant or CAP_SYS_ADMIN) and the queues that other guests
 * hold, and then written into the guest's CRYCB.  A queue that leaves a
 * guest is zeroized (ZAPQ) before anybody else may have it.
 *
 * kvm.ko does not depend on ap.ko: the AP bus side (queue ownership, host
 * configuration, ZAPQ, TAPQ) is reached through struct kvm_s390_ap_host_ops,
 * registered by the ap_matrix_drv driver that lives beside the AP bus.
 * Without registered operations, resets use the PQAP inlines of <asm/ap.h>.
 *
 * Authority: adding a usage APQN or a control domain that the VM does not
 * already hold needs a grant covering it (an anon-inode file created here,
 * for the driver's /dev/apmatrix) or CAP_SYS_ADMIN.  Keeping, dropping and
 * resetting what the VM holds needs neither.
 *
 * Who holds what is kept per adapter, as domain bitmaps (struct
 * ap_matrix_adapter): the domains some guest claims (a guest's claim is its
 * matrix, plus the matrix it is installing), the domains whose queue has a
 * marker, and the guests claiming domains of the adapter.  Checking and
 * claiming an Na x Nd request costs O(Na) word operations; only a queue
 * that changes hands costs something per queue (its marker and its ZAPQ).
 * Claims of different guests never overlap: a queue is claimed only if no
 * guest claims it and it has no marker.
 *
 * A marker (an unsigned long in its adapter's @markers storage, its
 * APQN's bit set in the adapter's @marked) says that the queue left a guest
 * and is being reset (RESETTING, or RESETTING_GONE if it also left the
 * driver or the host meanwhile), or that its reset failed (FAILED).  A
 * marker wins over a claim: the owner table entry of an APQN
 * (ap_matrix_entry()) is its marker, else the guest claiming it, else
 * nothing.  Only a completed reset
 * clears a marker; unbinding a queue does not.  A marker's reset is driven
 * by exactly one party: the SET or VM destruction that created it, or the
 * reset worker (AP_MATRIX_WORKER), and only that party issues ZAPQ/TAPQ for
 * it, re-checking the entry under ap_matrix_lock first.  A guest's own
 * queues are reset (RESET flag) only while the table says they are the
 * guest's.
 *
 * Locks, outermost first:
 *   kvm->arch.crypto.ap_matrix_mutex (per VM: serializes SETs, killable;
 *   held across the SET's bounded reset wait)
 *     -> ap_perms_mutex (ops->lock(), killable; the AP bus's)
 *          -> ap_matrix_lock
 *     -> kvm->lock (killable in a SET)
 *          -> ap_matrix_lock
 *          -> vCPU blocking in kvm_arch_crypto_set_masks()
 * ap_matrix_lock (this file: ops pointer, per-adapter bitmaps, holder
 * lists and marker storage, guest list and matrices) is innermost: nothing
 * is waited for while holding it, and nothing is allocated under it
 * (lockdep is told so when the AP driver registers).
 *
 * Marker storage: an adapter gets its @markers array (AP_MATRIX_IDS
 * entries, 2 KiB) from the first SET that claims a domain of it; the SET
 * allocates it (one allocation for all the adapters of the request that
 * have none, every slot used) with no lock held, once a round of the AP
 * locks found the request claimable (a refused request allocates none),
 * and installs it under ap_matrix_lock with the claim in the next round.
 * A queue can only leave a guest (get a marker) on an adapter some guest
 * claimed, so marking never allocates: not in remove() (AP device lock),
 * not in on_config_changed() (ap_scan_bus_mutex).  Storage stays until
 * kvm.ko goes or the AP driver releases every queue: 256 x 2 KiB at most,
 * shared by all guests, so not charged to the VMM that came first.
 * ap_perms_mutex and kvm->lock are never held together: a SET claims the
 * queues under ap_perms_mutex and ap_matrix_lock, drops both, then installs
 * the masks under kvm->lock; if a fatal signal arrives while it waits for
 * kvm->lock, the claim is rolled back.  No lock but the per-VM mutex is held
 * while a SET waits for resets.  The AP bus calls in_use() under
 * ap_perms_mutex, remove() (queue_removed()) under the device lock and
 * on_config_changed() (config_removed()) under ap_scan_bus_mutex: they take
 * only ap_matrix_lock; the CRYCB rewrite, the resets and the release are
 * left to work items, and the queues are RESETTING meanwhile (EBUSY for a
 * SET, in use for the AP bus).
 *
 * A queue taken from a guest behind its back waits for that guest's CRYCB
 * rewrite (AP_MATRIX_CRYCB marker naming the guest): a per-VM delayed work
 * takes kvm->lock with mutex_trylock() (retrying later: a VMM may hold its
 * kvm->lock for as long as it likes, which delays only its own queues),
 * writes the CRYCB and only then hands the queues that are not in what it
 * wrote to the reset worker.  The reset worker (one delayed work, no
 * kvm->lock) issues ZAPQ for the queues handed to it and polls them with
 * TAPQ every interval_ms, up to polls + worker_polls polls; a queue whose
 * reset does not complete by then is FAILED.  FAILED queues are not in
 * use for the AP bus: an administrator recovers one by giving it back to
 * the host's default drivers (the AP bus resets it) and then to the
 * apmatrix driver, whose probe() resets it again.
 */

#define KMSG_COMPONENT "kvm-s390"
#define pr_fmt(fmt) KMSG_COMPONENT ": " fmt

#include <kunit/visibility.h>
#include <linux/anon_inodes.h>
#include <linux/bitops.h>
#include <linux/capability.h>
#include <linux/jiffies.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kvm_host.h>
#include <linux/list.h>
#include <linux/lockdep.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/ratelimit.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <asm/ap.h>
#include <asm/apmatrix.h>
#include <asm/kvm_ap_matrix.h>

#include "kvm-s390.h"
#include "ap_matrix.h"

static_assert(sizeof(struct kvm_s390_ap_matrix) == 136);
static_assert(offsetof(struct kvm_s390_ap_matrix, apm) == 0);
static_assert(offsetof(struct kvm_s390_ap_matrix, aqm) == 32);
static_assert(offsetof(struct kvm_s390_ap_matrix, adm) == 64);
static_assert(offsetof(struct kvm_s390_ap_matrix, flags) == 96);
static_assert(offsetof(struct kvm_s390_ap_matrix, grant_fd) == 100);
static_assert(offsetof(struct kvm_s390_ap_matrix, reserved) == 104);
static_assert(sizeof(struct apmatrix_grant) == 136);
static_assert(offsetof(struct apmatrix_grant, flags) == 96);

#define AP_MATRIX_IDS		256
#define AP_MATRIX_QUEUES	(AP_MATRIX_IDS * AP_MATRIX_IDS)
#define AP_MATRIX_WORDS		BITS_TO_LONGS(AP_MATRIX_IDS)
#define AP_MATRIX_APQN(apid, apqi)	((apid) << 8 | (apqi))
#define AP_MATRIX_APID(apqn)	(((apqn) >> 8) & 0xff)
#define AP_MATRIX_APQI(apqn)	((apqn) & 0xff)

/* CRYCB formats 0 and 1 hold APIDs 0..63 and APQIs 0..15 */
#define AP_MATRIX_FMT01_MAX_APID	63U
#define AP_MATRIX_FMT01_MAX_APQI	15U

#define AP_MATRIX_FLAGS	(KVM_S390_AP_MATRIX_VALIDATE_ONLY | \
			 KVM_S390_AP_MATRIX_RESET | \
			 KVM_S390_AP_MATRIX_GRANT)

/*
 * Architected PQAP response codes used below (the AP bus has them in its
 * private drivers/s390/crypto/ap_bus.h).
 */
#define AP_MATRIX_RC_NORMAL		0x00
#define AP_MATRIX_RC_Q_NOT_AVAIL	0x01
#define AP_MATRIX_RC_RESET_IN_PROGRESS	0x02
#define AP_MATRIX_RC_DECONFIGURED	0x03
#define AP_MATRIX_RC_CHECKSTOPPED	0x04
#define AP_MATRIX_RC_BUSY		0x05
#define AP_MATRIX_RC_STATE_CHANGE	0x0a
#define AP_MATRIX_RC_ASSOC_NOT_UNIQUE	0x35
#define AP_MATRIX_RC_ASSOC_FAILED	0x36

/*
 * An owner table marker (ap_matrix_entry() answers xa_mk_value() of it;
 * it is never 0) is: the kind (RESETTING, FAILED,
 * RESETTING_GONE of ap_matrix.h), AP_MATRIX_WORKER if the reset worker
 * drives the reset, AP_MATRIX_STARTED once it issued ZAPQ, the response
 * code of that ZAPQ and the number of polls so far; or, for a queue taken
 * from a guest behind its back whose CRYCB still has it, AP_MATRIX_CRYCB
 * and that guest's id: its CRYCB rewrite turns the marker into a worker's,
 * or with AP_MATRIX_FAIL (a RESET of a kept queue that did not complete)
 * into FAILED.
 */
#define AP_MATRIX_KIND		0x3UL
#define AP_MATRIX_WORKER	0x4UL
#define AP_MATRIX_STARTED	0x8UL
#define AP_MATRIX_CRYCB		0x10UL
#define AP_MATRIX_FAIL		0x20UL
#define AP_MATRIX_RC_SHIFT	8
#define AP_MATRIX_POLLS_SHIFT	16
#define AP_MATRIX_POLLS_MAX	0xffffU
#define AP_MATRIX_GUEST_SHIFT	32
#define AP_MATRIX_GUEST_MAX	0x7fffffff

/* a guest's CRYCB rewrite that found kvm->lock taken is retried this late */
#define AP_MATRIX_REWRITE_RETRY	(HZ / 50)

/* queues reset together, waiting for them with one bound */
#define AP_MATRIX_RESET_BATCH	64

struct ap_matrix_masks {
	unsigned long apm[AP_MATRIX_WORDS];
	unsigned long aqm[AP_MATRIX_WORDS];
	unsigned long adm[AP_MATRIX_WORDS];
};

static_assert(sizeof_field(struct ap_matrix_masks, apm) ==
	      sizeof_field(struct kvm_s390_ap_matrix, apm));
static_assert(sizeof_field(struct ap_matrix_masks, apm) ==
	      sizeof_field(struct apmatrix_grant, apm));

struct kvm_s390_ap_matrix_guest;

struct ap_matrix_holds;

/**
 * struct ap_matrix_hold - a guest on an adapter's holder list
 * @node: in the adapter's @holders
 * @g: the guest, which claims at least one domain of the adapter
 * @chunk: the allocation it is part of
 */
struct ap_matrix_hold {
	struct hlist_node node;
	struct kvm_s390_ap_matrix_guest *g;
	struct ap_matrix_holds *chunk;
};

/*
 * The holder list entries a claim added, allocated together (one
 * allocation per SET however many adapters it adds); freed with the last
 * of them that is still on a list (@live).
 */
struct ap_matrix_holds {
	unsigned int live;
	struct ap_matrix_hold h[];
};

/**
 * struct ap_matrix_adapter - the queues of one adapter, by domain (MSB0)
 * @held: domains claimed by a guest: the union of the guests' claims on
 *	this adapter, which never overlap
 * @marked: domains whose queue has a marker in @markers
 * @failed: those of @marked whose marker is FAILED
 * @crycb: those of @marked whose marker waits for a CRYCB rewrite
 *	(AP_MATRIX_CRYCB)
 * @holders: the guests claiming a domain of this adapter (struct
 *	ap_matrix_hold), at most one entry per guest
 * @markers: the markers, by domain (valid where @marked is set); NULL
 *	until a SET claims a domain of the adapter, then kept
 * @storage: the allocation @markers is part of (one per SET, for the
 *	adapters it gave storage to)
 *
 * Every field is protected by ap_matrix_lock.
 */
struct ap_matrix_adapter {
	unsigned long held[AP_MATRIX_WORDS];
	unsigned long marked[AP_MATRIX_WORDS];
	unsigned long failed[AP_MATRIX_WORDS];
	unsigned long crycb[AP_MATRIX_WORDS];
	struct hlist_head holders;
	unsigned long *markers;
	unsigned long *storage;
};

/*
 * Per VM state, pointed to by kvm->arch.crypto.ap_matrix once the VM was
 * first given a matrix (the pointer is set under kvm->lock, for vfio_ap).
 * All fields but kvm are protected by ap_matrix_lock.  The guest claims
 * @m and, while @installing, also @next (both apm x aqm); it is on the
 * holder list of each adapter it claims a domain of (@holds entries).
 */
struct kvm_s390_ap_matrix_guest {
	struct list_head node;		/* in ap_matrix_guests */
	struct kvm *kvm;
	struct ap_matrix_masks m;	/* the VM's matrix */
	struct ap_matrix_masks next;	/* while installing: the claimed one */
	bool installing;		/* claimed, not yet installed */
	bool dead;			/* unlisted: no more CRYCB rewrites */
	unsigned long id;		/* in AP_MATRIX_CRYCB markers */
	/* a superset of the adapters its AP_MATRIX_CRYCB markers are on */
	unsigned long crycb_apm[AP_MATRIX_WORDS];
	/* per VM: the only work that takes kvm->lock (mutex_trylock) */
	struct delayed_work rewrite;
	unsigned int holds;		/* its entries on holder lists */
};

/* what a grant file allows to add to a VM */
struct ap_matrix_grant {
	struct ap_matrix_masks m;
};

static DEFINE_MUTEX(ap_matrix_lock);
/* per APID: who claims which domain, which queues have markers */
static struct ap_matrix_adapter ap_matrix_adapters[AP_MATRIX_IDS];
/* the adapters with a marker (@marked not empty) */
static unsigned long ap_matrix_marked_apm[AP_MATRIX_WORDS];
/*
 * The adapters with marker storage; written under ap_matrix_lock, read
 * without it by a SET that decides what to allocate (rechecked under it).
 */
static unsigned long ap_matrix_stored_apm[AP_MATRIX_WORDS];
/* the slots (AP_MATRIX_IDS markers each) of marker storage allocated */
static unsigned int ap_matrix_storage_slots;
static LIST_HEAD(ap_matrix_guests);
static const struct kvm_s390_ap_host_ops *ap_matrix_ops;
/* the reset worker's position in the markers (an APQN) */
static unsigned int ap_matrix_work_cursor;

/* the last guest id given (AP_MATRIX_CRYCB markers); have they wrapped? */
static unsigned long ap_matrix_last_id;
static bool ap_matrix_ids_wrapped;
static void ap_matrix_work_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(ap_matrix_work, ap_matrix_work_fn);

/* VM_EVENT lines for refused VALIDATE_ONLY probes */
static DEFINE_RATELIMIT_STATE(ap_matrix_probe_rs, 5 * HZ, 10);

VISIBLE_IF_AP_MATRIX_TEST struct kvm_s390_ap_matrix_tunables
kvm_s390_ap_matrix_tunables = {
	.interval_ms = 20,	/* as the AP bus's AP_RESET_INTERVAL */
	.polls = 5,
	.worker_polls = 1500,
};

static const struct file_operations ap_matrix_grant_fops;

static bool ap_matrix_usage(const struct ap_matrix_masks *m,
			    unsigned int apid, unsigned int apqi)
{
	return test_bit_inv(apid, m->apm) && test_bit_inv(apqi, m->aqm);
}

static bool ap_matrix_empty(const struct ap_matrix_masks *m)
{
	return bitmap_empty(m->apm, AP_MATRIX_IDS) &&
	       bitmap_empty(m->aqm, AP_MATRIX_IDS) &&
	       bitmap_empty(m->adm, AP_MATRIX_IDS);
}

static unsigned long ap_matrix_marker(void *entry)
{
	return xa_is_value(entry) ? xa_to_value(entry) : 0;
}

/* RESETTING or RESETTING_GONE */
static bool ap_matrix_resetting(void *entry)
{
	unsigned long kind = ap_matrix_marker(entry) & AP_MATRIX_KIND;

	return kind == KVM_S390_AP_MATRIX_RESETTING ||
	       kind == KVM_S390_AP_MATRIX_RESETTING_GONE;
}

static bool ap_matrix_failed(void *entry)
{
	return (ap_matrix_marker(entry) & AP_MATRIX_KIND) ==
	       KVM_S390_AP_MATRIX_FAILED;
}

static struct kvm_s390_ap_matrix_guest *ap_matrix_guest(void *entry)
{
	return xa_is_value(entry) ? NULL : entry;
}

/* the domains of adapter @apid that @m (may be NULL) has */
static void ap_matrix_domains(const struct ap_matrix_masks *m,
			      unsigned int apid, unsigned long *aqm)
{
	if (m && test_bit_inv(apid, m->apm))
		bitmap_copy(aqm, m->aqm, AP_MATRIX_IDS);
	else
		bitmap_zero(aqm, AP_MATRIX_IDS);
}

/* the domains of adapter @apid that @g claims */
static void ap_matrix_claim_of(const struct kvm_s390_ap_matrix_guest *g,
			       unsigned int apid, unsigned long *aqm)
{
	ap_matrix_domains(&g->m, apid, aqm);
	if (g->installing && test_bit_inv(apid, g->next.apm))
		bitmap_or(aqm, aqm, g->next.aqm, AP_MATRIX_IDS);
}

static bool ap_matrix_claims(const struct kvm_s390_ap_matrix_guest *g,
			     unsigned int apid, unsigned int apqi)
{
	return ap_matrix_usage(&g->m, apid, apqi) ||
	       (g->installing && ap_matrix_usage(&g->next, apid, apqi));
}

/* what the owner table says of a queue: @g's (claimed, no marker)? */
static bool ap_matrix_owned(const struct kvm_s390_ap_matrix_guest *g,
			    unsigned int apqn)
{
	unsigned int apid = AP_MATRIX_APID(apqn), apqi = AP_MATRIX_APQI(apqn);

	lockdep_assert_held(&ap_matrix_lock);
	return !test_bit_inv(apqi, ap_matrix_adapters[apid].marked) &&
	       ap_matrix_claims(g, apid, apqi);
}

/*
 * The marker of a queue as an owner table entry (xa_mk_value() of it), NULL
 * if it has none.  Without storage (never: see ap_matrix_mark()) a marked
 * queue is FAILED.
 */
static void *ap_matrix_marker_entry(unsigned int apqn)
{
	struct ap_matrix_adapter *a =
		&ap_matrix_adapters[AP_MATRIX_APID(apqn)];
	unsigned int apqi = AP_MATRIX_APQI(apqn);

	lockdep_assert_held(&ap_matrix_lock);
	if (!test_bit_inv(apqi, a->marked))
		return NULL;
	return xa_mk_value(a->markers ? a->markers[apqi] :
			   KVM_S390_AP_MATRIX_FAILED);
}

/* the first queue from @apqn on that has a marker, or AP_MATRIX_QUEUES */
static unsigned int ap_matrix_next_marked(unsigned int apqn)
{
	unsigned int apid = apqn >> 8, apqi = AP_MATRIX_APQI(apqn);

	lockdep_assert_held(&ap_matrix_lock);
	for (; apid < AP_MATRIX_IDS;
	     apid = find_next_bit_inv(ap_matrix_marked_apm, AP_MATRIX_IDS,
				      apid + 1), apqi = 0) {
		if (!test_bit_inv(apid, ap_matrix_marked_apm))
			continue;
		apqi = find_next_bit_inv(ap_matrix_adapters[apid].marked,
					 AP_MATRIX_IDS, apqi);
		if (apqi < AP_MATRIX_IDS)
			return AP_MATRIX_APQN(apid, apqi);
	}
	return AP_MATRIX_QUEUES;
}

/*
 * The owner table entry of a queue: its marker (xa_mk_value()), else the
 * guest claiming it, else NULL.  O(guests on the adapter), at most 256.
 */
static void *ap_matrix_entry(unsigned int apqn)
{
	unsigned int apid = AP_MATRIX_APID(apqn), apqi = AP_MATRIX_APQI(apqn);
	struct ap_matrix_adapter *a = &ap_matrix_adapters[apid];
	struct ap_matrix_hold *h;

	lockdep_assert_held(&ap_matrix_lock);
	if (apqn >= AP_MATRIX_QUEUES)
		return NULL;
	if (test_bit_inv(apqi, a->marked))
		return ap_matrix_marker_entry(apqn);
	if (!test_bit_inv(apqi, a->held))
		return NULL;
	hlist_for_each_entry(h, &a->holders, node)
		if (ap_matrix_claims(h->g, apid, apqi))
			return h->g;
	WARN_ON_ONCE(1);	/* @held without a holder */
	return NULL;
}

/*
 * Set the marker of a queue.  A queue that leaves a guest gets its first
 * marker here, into its adapter's storage, which the SET that claimed the
 * queue installed: marking cannot fail and allocates nothing (it runs in
 * the AP bus's remove() and on_config_changed()).  Should the storage be
 * missing all the same, the queue is FAILED: never claimable, not in use
 * for the AP bus, which resets it when an administrator gives it back to
 * the host's default drivers.
 */
static void ap_matrix_mark(unsigned int apqn, unsigned long marker)
{
	unsigned int apid = AP_MATRIX_APID(apqn), apqi = AP_MATRIX_APQI(apqn);
	struct ap_matrix_adapter *a = &ap_matrix_adapters[apid];

	lockdep_assert_held(&ap_matrix_lock);
	__set_bit_inv(apqi, a->marked);
	__set_bit_inv(apid, ap_matrix_marked_apm);
	if (WARN_ON_ONCE(!a->markers)) {
		__set_bit_inv(apqi, a->failed);
		__clear_bit_inv(apqi, a->crycb);
		return;
	}
	a->markers[apqi] = marker;
	if ((marker & AP_MATRIX_KIND) == KVM_S390_AP_MATRIX_FAILED)
		__set_bit_inv(apqi, a->failed);
	else
		__clear_bit_inv(apqi, a->failed);
	if (marker & AP_MATRIX_CRYCB)
		__set_bit_inv(apqi, a->crycb);
	else
		__clear_bit_inv(apqi, a->crycb);
}

/* a completed reset: the queue is free (nobody claims a marked queue) */
static void ap_matrix_unmark(unsigned int apqn)
{
	struct ap_matrix_adapter *a =
		&ap_matrix_adapters[AP_MATRIX_APID(apqn)];
	unsigned int apqi = AP_MATRIX_APQI(apqn);

	lockdep_assert_held(&ap_matrix_lock);
	__clear_bit_inv(apqi, a->marked);
	__clear_bit_inv(apqi, a->failed);
	__clear_bit_inv(apqi, a->crycb);
	if (bitmap_empty(a->marked, AP_MATRIX_IDS))
		__clear_bit_inv(AP_MATRIX_APID(apqn), ap_matrix_marked_apm);
}

/*
 * @g claims no domain of adapter @apid any more: off its holder list, if it
 * is on it.  O(guests on the adapter), only when claims shrink.
 */
static void ap_matrix_unhold(struct kvm_s390_ap_matrix_guest *g,
			     unsigned int apid)
{
	struct ap_matrix_hold *h;

	hlist_for_each_entry(h, &ap_matrix_adapters[apid].holders, node) {
		if (h->g == g) {
			hlist_del(&h->node);
			if (!--h->chunk->live)
				kfree(h->chunk);
			g->holds--;
			return;
		}
	}
}

/*
 * @g's claim shrank from @m plus @next (NULL if it was not installing) to
 * what its fields say now: every queue that left the claim and has no
 * marker gets @marker (0: none, the queue is free), the adapters' @held
 * lose it and @g leaves the holder lists of adapters it claims nothing of.
 * O(adapters) word operations plus O(queues that left) with a marker.
 */
static void ap_matrix_shrink(struct kvm_s390_ap_matrix_guest *g,
			     const struct ap_matrix_masks *m,
			     const struct ap_matrix_masks *next,
			     unsigned long marker)
{
	unsigned long apm[AP_MATRIX_WORDS], before[AP_MATRIX_WORDS];
	unsigned long after[AP_MATRIX_WORDS], gone[AP_MATRIX_WORDS];
	struct ap_matrix_adapter *a;
	unsigned int apid, apqi;

	lockdep_assert_held(&ap_matrix_lock);
	bitmap_copy(apm, m->apm, AP_MATRIX_IDS);
	if (next)
		bitmap_or(apm, apm, next->apm, AP_MATRIX_IDS);
	for_each_set_bit_inv(apid, apm, AP_MATRIX_IDS) {
		a = &ap_matrix_adapters[apid];
		ap_matrix_domains(m, apid, before);
		ap_matrix_domains(next, apid, gone);
		bitmap_or(before, before, gone, AP_MATRIX_IDS);
		ap_matrix_claim_of(g, apid, after);
		if (bitmap_andnot(gone, before, after, AP_MATRIX_IDS)) {
			if (marker) {
				bitmap_andnot(before, gone, a->marked,
					      AP_MATRIX_IDS);
				for_each_set_bit_inv(apqi, before,
						     AP_MATRIX_IDS)
					ap_matrix_mark(AP_MATRIX_APQN(apid,
								      apqi),
						       marker);
			}
			bitmap_andnot(a->held, a->held, gone, AP_MATRIX_IDS);
		}
		if (bitmap_empty(after, AP_MATRIX_IDS))
			ap_matrix_unhold(g, apid);
	}
}

/* free a guest, which claims nothing any more */
static void ap_matrix_free(struct kvm_s390_ap_matrix_guest *g)
{
	unsigned int apid;

	mutex_lock(&ap_matrix_lock);
	/* never: a holder list would point to freed memory */
	for (apid = 0; WARN_ON_ONCE(g->holds) && apid < AP_MATRIX_IDS; apid++)
		ap_matrix_unhold(g, apid);
	mutex_unlock(&ap_matrix_lock);
	kfree(g);
}

static void ap_matrix_kick(void)
{
	mod_delayed_work(system_unbound_wq, &ap_matrix_work, 0);
}

/* the registered operations, pinned; NULL if none */
static const struct kvm_s390_ap_host_ops *ap_matrix_get_ops_locked(void)
{
	const struct kvm_s390_ap_host_ops *ops = ap_matrix_ops;

	lockdep_assert_held(&ap_matrix_lock);
	if (ops && !try_module_get(ops->owner))
		ops = NULL;
	return ops;
}

static const struct kvm_s390_ap_host_ops *ap_matrix_get_ops(void)
{
	const struct kvm_s390_ap_host_ops *ops;

	mutex_lock(&ap_matrix_lock);
	ops = ap_matrix_get_ops_locked();
	mutex_unlock(&ap_matrix_lock);
	return ops;
}

static void ap_matrix_put_ops(const struct kvm_s390_ap_host_ops *ops)
{
	if (ops)
		module_put(ops->owner);
}

/*
 * ZAPQ or TAPQ through the host operations or, without them (the AP driver
 * is being unloaded), with the PQAP inlines.  Without AP instructions no
 * queue exists, so nothing is left in one.
 */
static struct ap_queue_status
ap_matrix_pqap(const struct kvm_s390_ap_host_ops *ops, unsigned int apqn,
	       bool zap)
{
	struct ap_queue_status none = {
		.response_code = AP_MATRIX_RC_Q_NOT_AVAIL,
	};

	if (ops)
		return zap ? ops->zapq(apqn) : ops->tapq(apqn);
	if (!ap_instructions_available())
		return none;
	return zap ? ap_zapq(apqn, 0) : ap_tapq(apqn, NULL);
}

/*
 * Walk the queues a hand-over resets: those of @old that are not in @new
 * (they leave the guest) and, with @all, every queue of @new.  Adapter by
 * adapter: an adapter none of whose queues is reset costs a few word
 * operations, and without @all only @old's adapters are visited.
 */
struct ap_matrix_walk {
	const struct ap_matrix_masks *old, *new;
	unsigned long apm[AP_MATRIX_WORDS];
	unsigned long aqm[AP_MATRIX_WORDS];	/* this adapter's queues */
	unsigned long leave[AP_MATRIX_WORDS];	/* those that leave */
	unsigned int apid, apqi;
	bool all;
};

/* the queues of adapter w->apid that the walk resets; false if none */
static bool ap_matrix_walk_adapter(struct ap_matrix_walk *w)
{
	unsigned long keep[AP_MATRIX_WORDS];

	ap_matrix_domains(w->old, w->apid, w->leave);
	ap_matrix_domains(w->new, w->apid, keep);
	bitmap_andnot(w->leave, w->leave, keep, AP_MATRIX_IDS);
	if (w->all)
		bitmap_or(w->aqm, w->leave, keep, AP_MATRIX_IDS);
	else
		bitmap_copy(w->aqm, w->leave, AP_MATRIX_IDS);
	w->apqi = find_first_bit_inv(w->aqm, AP_MATRIX_IDS);
	return w->apqi < AP_MATRIX_IDS;
}

static void ap_matrix_walk_init(struct ap_matrix_walk *w,
				const struct ap_matrix_masks *old,
				const struct ap_matrix_masks *new, bool all)
{
	w->old = old;
	w->new = new;
	w->all = all;
	bitmap_copy(w->apm, old->apm, AP_MATRIX_IDS);
	if (all)
		bitmap_or(w->apm, w->apm, new->apm, AP_MATRIX_IDS);
	for_each_set_bit_inv(w->apid, w->apm, AP_MATRIX_IDS)
		if (ap_matrix_walk_adapter(w))
			break;
}

static bool ap_matrix_walk_next(struct ap_matrix_walk *w, unsigned int *apqn,
				bool *leaving)
{
	if (w->apid >= AP_MATRIX_IDS)
		return false;
	*apqn = AP_MATRIX_APQN(w->apid, w->apqi);
	*leaving = test_bit_inv(w->apqi, w->leave);
	w->apqi = find_next_bit_inv(w->aqm, AP_MATRIX_IDS, w->apqi + 1);
	if (w->apqi < AP_MATRIX_IDS)
		return true;
	for (w->apid = find_next_bit_inv(w->apm, AP_MATRIX_IDS, w->apid + 1);
	     w->apid < AP_MATRIX_IDS;
	     w->apid = find_next_bit_inv(w->apm, AP_MATRIX_IDS, w->apid + 1))
		if (ap_matrix_walk_adapter(w))
			break;
	return true;
}

enum ap_matrix_reset_state {
	AP_MATRIX_RESET_PENDING,
	AP_MATRIX_RESET_DONE,
	AP_MATRIX_RESET_ERROR,
	AP_MATRIX_RESET_SKIP,		/* not ours to reset (any more) */
};

struct ap_matrix_reset {
	u16 apqn;
	u8 zapq_rc;	/* response code of the last ZAPQ */
	u8 state;	/* enum ap_matrix_reset_state */
	bool keep;	/* RESET of a queue the guest keeps */
	bool started;	/* the worker: ZAPQ was issued before this round */
	u16 polls;	/* the worker: polls before this round */
};

static void ap_matrix_zapq(const struct kvm_s390_ap_host_ops *ops,
			   struct ap_matrix_reset *r)
{
	struct ap_queue_status status = ap_matrix_pqap(ops, r->apqn, true);

	r->zapq_rc = status.response_code;
	switch (status.response_code) {
	case AP_MATRIX_RC_NORMAL:
	case AP_MATRIX_RC_RESET_IN_PROGRESS:
	case AP_MATRIX_RC_BUSY:
	case AP_MATRIX_RC_STATE_CHANGE:
		r->state = AP_MATRIX_RESET_PENDING;
		break;
	case AP_MATRIX_RC_DECONFIGURED:
	case AP_MATRIX_RC_CHECKSTOPPED:
	case AP_MATRIX_RC_Q_NOT_AVAIL:
		/* the queue is gone or unusable: nothing left in it */
		r->state = AP_MATRIX_RESET_DONE;
		break;
	default:
		pr_warn_ratelimited("ZAPQ of AP queue %02x.%04x failed: rc=%u\n",
				    AP_MATRIX_APID(r->apqn),
				    AP_MATRIX_APQI(r->apqn),
				    status.response_code);
		r->state = AP_MATRIX_RESET_ERROR;
		break;
	}
}

/* one TAPQ poll of a pending reset, as vfio_ap's apq_reset_check() */
static void ap_matrix_tapq(const struct kvm_s390_ap_host_ops *ops,
			   struct ap_matrix_reset *r)
{
	struct ap_queue_status status = ap_matrix_pqap(ops, r->apqn, false);

	switch (status.response_code) {
	case AP_MATRIX_RC_NORMAL:
	case AP_MATRIX_RC_DECONFIGURED:
	case AP_MATRIX_RC_CHECKSTOPPED:
		/*
		 * If the ZAPQ found the queue busy or in a state change (e.g.
		 * being associated with a Secure Execution guest), it did not
		 * zeroize it: issue it again now that the queue has settled.
		 */
		if (r->zapq_rc == AP_MATRIX_RC_RESET_IN_PROGRESS ||
		    r->zapq_rc == AP_MATRIX_RC_BUSY ||
		    r->zapq_rc == AP_MATRIX_RC_STATE_CHANGE) {
			ap_matrix_zapq(ops, r);
			break;
		}
		r->state = AP_MATRIX_RESET_DONE;
		break;
	case AP_MATRIX_RC_RESET_IN_PROGRESS:
	case AP_MATRIX_RC_BUSY:
		break;
	case AP_MATRIX_RC_ASSOC_NOT_UNIQUE:
	case AP_MATRIX_RC_ASSOC_FAILED:
		/* a failed SE association sticks until the queue is reset */
		ap_matrix_zapq(ops, r);
		break;
	case AP_MATRIX_RC_Q_NOT_AVAIL:
		r->state = AP_MATRIX_RESET_DONE;
		break;
	default:
		pr_warn_ratelimited("TAPQ of AP queue %02x.%04x failed: rc=%u\n",
				    AP_MATRIX_APID(r->apqn),
				    AP_MATRIX_APQI(r->apqn),
				    status.response_code);
		r->state = AP_MATRIX_RESET_ERROR;
		break;
	}
}

/* wait one poll interval; a fatal signal ends the wait early */
static void ap_matrix_sleep(void)
{
	unsigned int ms = kvm_s390_ap_matrix_tunables.interval_ms;

	if (ms)
		schedule_timeout_killable(msecs_to_jiffies(ms));
	else
		cond_resched();
}

/* the bound of a reset, in polls: the SET's wait and the worker's */
static unsigned int ap_matrix_poll_limit(void)
{
	const struct kvm_s390_ap_matrix_tunables *t =
		&kvm_s390_ap_matrix_tunables;

	return min(t->polls + t->worker_polls, AP_MATRIX_POLLS_MAX);
}

/*
 * A SET or VM destruction resets a batch: re-check under ap_matrix_lock
 * that each queue is still this hand-over's to reset (a queue the guest
 * keeps: still @g's; a queue that left: still marked by this hand-over),
 * ZAPQ them, then poll them with what is left of the hand-over's short
 * bound (@polls_left polls, for all its batches together).  The wait is
 * killable: what is pending then is left to the reset worker.  Called with
 * no lock but the per-VM mutex held.
 */
static void ap_matrix_reset_sync(struct kvm_s390_ap_matrix_guest *g,
				 struct ap_matrix_reset *r, unsigned int n,
				 unsigned int *polls_left)
{
	const struct kvm_s390_ap_host_ops *ops;
	unsigned int i, pending;
	void *entry;
	bool ours;

	lockdep_assert_not_held(&ap_matrix_lock);
	mutex_lock(&ap_matrix_lock);
	for (i = 0; i < n; i++) {
		entry = ap_matrix_marker_entry(r[i].apqn);
		if (r[i].keep)
			ours = ap_matrix_owned(g, r[i].apqn);
		else
			ours = ap_matrix_resetting(entry) &&
			       !(ap_matrix_marker(entry) &
				 (AP_MATRIX_WORKER | AP_MATRIX_CRYCB));
		r[i].state = ours ? AP_MATRIX_RESET_PENDING :
				    AP_MATRIX_RESET_SKIP;
	}
	ops = ap_matrix_get_ops_locked();
	mutex_unlock(&ap_matrix_lock);

	for (i = 0; i < n; i++)
		if (r[i].state == AP_MATRIX_RESET_PENDING)
			ap_matrix_zapq(ops, &r[i]);
	while (*polls_left) {
		for (i = 0, pending = 0; i < n; i++)
			pending += r[i].state == AP_MATRIX_RESET_PENDING;
		if (!pending || fatal_signal_pending(current))
			break;
		(*polls_left)--;
		ap_matrix_sleep();
		for (i = 0; i < n; i++)
			if (r[i].state == AP_MATRIX_RESET_PENDING)
				ap_matrix_tapq(ops, &r[i]);
	}
	ap_matrix_put_ops(ops);
}

static void ap_matrix_reset_failed(struct kvm *kvm, unsigned int apqn,
				   const char *why)
{
	pr_warn_ratelimited("reset of AP queue %02x.%04x %s\n",
			    AP_MATRIX_APID(apqn), AP_MATRIX_APQI(apqn), why);
	if (kvm)
		VM_EVENT(kvm, 3, "AP queue %02x.%04x: reset %s",
			 AP_MATRIX_APID(apqn), AP_MATRIX_APQI(apqn), why);
}

/*
 * A reset that is nobody else's (a SET's or the worker's) ended a round in
 * state @r: release the queue (the reset completed), leave it to the reset
 * worker (pending, @polls polls so far, below the bound; @marker is its
 * marker now) or mark it FAILED.  Returns true if the worker has it.
 */
static bool ap_matrix_settle(struct kvm *kvm, const struct ap_matrix_reset *r,
			     unsigned long marker, unsigned int polls)
{
	lockdep_assert_held(&ap_matrix_lock);
	switch (r->state) {
	case AP_MATRIX_RESET_DONE:
		ap_matrix_unmark(r->apqn);
		return false;
	case AP_MATRIX_RESET_PENDING:
		if (polls < ap_matrix_poll_limit()) {
			marker &= AP_MATRIX_KIND;
			marker |= AP_MATRIX_WORKER | AP_MATRIX_STARTED;
			marker |= (unsigned long)r->zapq_rc << AP_MATRIX_RC_SHIFT;
			marker |= (unsigned long)polls << AP_MATRIX_POLLS_SHIFT;
			ap_matrix_mark(r->apqn, marker);
			return true;
		}
		fallthrough;
	default:
		ap_matrix_reset_failed(kvm, r->apqn, "did not complete");
		ap_matrix_mark(r->apqn, KVM_S390_AP_MATRIX_FAILED);
		return false;
	}
}

/*
 * After ap_matrix_reset_sync(): release the queues that left and whose
 * reset completed, mark those whose reset failed FAILED and leave those
 * still pending to the reset worker.  Adds the adapter of every kept queue
 * whose reset did not complete to @failed_apm.
 */
static void ap_matrix_release_sync(struct kvm_s390_ap_matrix_guest *g,
				   struct ap_matrix_reset *r, unsigned int n,
				   unsigned long *failed_apm)
{
	struct kvm *kvm = g->kvm;
	unsigned int i, polls = kvm_s390_ap_matrix_tunables.polls;
	unsigned long marker;
	bool worker = false;
	void *entry;

	polls = min(polls, AP_MATRIX_POLLS_MAX);
	mutex_lock(&ap_matrix_lock);
	for (i = 0; i < n; i++) {
		if (r[i].state == AP_MATRIX_RESET_SKIP)
			continue;
		if (r[i].keep) {
			if (r[i].state == AP_MATRIX_RESET_DONE)
				continue;
			ap_matrix_reset_failed(kvm, r[i].apqn,
					       "did not complete");
			set_bit_inv(AP_MATRIX_APID(r[i].apqn), failed_apm);
			/* failed once its adapter left the CRYCB (EIO) */
			if (ap_matrix_owned(g, r[i].apqn)) {
				ap_matrix_mark(r[i].apqn,
					       KVM_S390_AP_MATRIX_RESETTING |
					       AP_MATRIX_CRYCB | AP_MATRIX_FAIL |
					       g->id << AP_MATRIX_GUEST_SHIFT);
				set_bit_inv(AP_MATRIX_APID(r[i].apqn),
					    g->crycb_apm);
			}
			continue;
		}
		entry = ap_matrix_marker_entry(r[i].apqn);
		marker = ap_matrix_marker(entry);
		if (!ap_matrix_resetting(entry) ||
		    (marker & (AP_MATRIX_WORKER | AP_MATRIX_CRYCB)))
			continue;
		worker |= ap_matrix_settle(kvm, &r[i], marker, polls);
	}
	mutex_unlock(&ap_matrix_lock);
	if (worker)
		ap_matrix_kick();
}

/*
 * Reset the queues that left a guest (@old minus @new; with @all also every
 * queue of @new), wait for the resets with the short bound (one bound for
 * the whole hand-over, however many queues), then release the queues that
 * left.  Called with no lock but the per-VM mutex held,
 * after the new masks were written.
 */
static void ap_matrix_hand_over(struct kvm_s390_ap_matrix_guest *g,
				const struct ap_matrix_masks *old,
				const struct ap_matrix_masks *new, bool all,
				unsigned long *failed_apm)
{
	unsigned int n, apqn, polls_left = kvm_s390_ap_matrix_tunables.polls;
	struct ap_matrix_reset r[AP_MATRIX_RESET_BATCH];
	struct ap_matrix_walk w;
	bool leaving, more = true;

	ap_matrix_walk_init(&w, old, new, all);
	while (more) {
		for (n = 0; n < AP_MATRIX_RESET_BATCH; n++) {
			more = ap_matrix_walk_next(&w, &apqn, &leaving);
			if (!more)
				break;
			memset(&r[n], 0, sizeof(r[n]));
			r[n].apqn = apqn;
			r[n].keep = !leaving;
		}
		if (!n)
			break;
		ap_matrix_reset_sync(g, r, n, &polls_left);
		ap_matrix_release_sync(g, r, n, failed_apm);
	}
}

/*
 * Take the adapters, usage domains and control domains that are gone away
 * from @g (and from the matrix it is installing): its queues among them wait
 * for @g's CRYCB rewrite (queued here), which hands them to the reset worker;
 * the caller kicks the reset worker.
 */
static void ap_matrix_drop(struct kvm_s390_ap_matrix_guest *g,
			   const unsigned long *apm_gone,
			   const unsigned long *aqm_gone,
			   const unsigned long *adm_gone)
{
	struct ap_matrix_masks *ms[2] = { &g->m, NULL };
	struct ap_matrix_masks m = g->m, next = g->next;
	unsigned long marker;
	unsigned int i;

	lockdep_assert_held(&ap_matrix_lock);
	/* an unlisted guest runs no vCPU: its queues are the worker's */
	marker = KVM_S390_AP_MATRIX_RESETTING;
	if (g->dead)
		marker |= AP_MATRIX_WORKER;
	else
		marker |= AP_MATRIX_CRYCB | g->id << AP_MATRIX_GUEST_SHIFT;
	if (g->installing)
		ms[1] = &g->next;
	for (i = 0; i < ARRAY_SIZE(ms) && ms[i]; i++) {
		bitmap_andnot(ms[i]->apm, ms[i]->apm, apm_gone, AP_MATRIX_IDS);
		bitmap_andnot(ms[i]->aqm, ms[i]->aqm, aqm_gone, AP_MATRIX_IDS);
		bitmap_andnot(ms[i]->adm, ms[i]->adm, adm_gone, AP_MATRIX_IDS);
	}
	/* the queues of @g among them wait for the CRYCB rewrite */
	ap_matrix_shrink(g, &m, g->installing ? &next : NULL, marker);
	if (!g->dead) {
		bitmap_or(g->crycb_apm, g->crycb_apm, m.apm, AP_MATRIX_IDS);
		if (g->installing)
			bitmap_or(g->crycb_apm, g->crycb_apm, next.apm,
				  AP_MATRIX_IDS);
	}
	if (!g->dead)
		mod_delayed_work(system_unbound_wq, &g->rewrite, 0);
}

/*
 * The CRYCB of @g holds @m (NULL: nothing of @g): hand the queues that wait
 * for it and are not in @m to the reset worker.  Under ap_matrix_lock.
 * Returns true if it handed any.
 */
static bool ap_matrix_crycb_done(struct kvm_s390_ap_matrix_guest *g,
				 const struct ap_matrix_masks *m)
{
	unsigned int apid, apqi, apqn;
	struct ap_matrix_adapter *a;
	unsigned long marker;
	bool handed = false, left;

	lockdep_assert_held(&ap_matrix_lock);
	/* only the adapters @g has such markers on, not everybody's */
	for_each_set_bit_inv(apid, g->crycb_apm, AP_MATRIX_IDS) {
		a = &ap_matrix_adapters[apid];
		left = false;
		for_each_set_bit_inv(apqi, a->crycb, AP_MATRIX_IDS) {
			apqn = AP_MATRIX_APQN(apid, apqi);
			marker = a->markers[apqi];
			if (marker >> AP_MATRIX_GUEST_SHIFT != g->id)
				continue;
			if (m && ap_matrix_usage(m, apid, apqi)) {
				left = true;
				continue;
			}
			if (marker & AP_MATRIX_FAIL) {
				ap_matrix_mark(apqn, KVM_S390_AP_MATRIX_FAILED);
				continue;
			}
			marker &= (1UL << AP_MATRIX_GUEST_SHIFT) - 1;
			marker &= ~AP_MATRIX_CRYCB;
			ap_matrix_mark(apqn, marker | AP_MATRIX_WORKER);
			handed = true;
		}
		if (!left)
			__clear_bit_inv(apid, g->crycb_apm);
	}
	return handed;
}

/*
 * Write @g's matrix into its CRYCB, then hand the queues that left it to the
 * reset worker: only now does the guest no longer have them.  Under
 * kvm->lock.  Returns true if it handed any (the caller kicks the worker).
 */
static bool ap_matrix_write_crycb(struct kvm_s390_ap_matrix_guest *g)
{
	struct kvm *kvm = g->kvm;
	struct ap_matrix_masks m;
	bool installed, handed;

	lockdep_assert_held(&kvm->lock);
	mutex_lock(&ap_matrix_lock);
	m = g->m;
	/* a guest being given its first matrix has nothing in its CRYCB */
	installed = kvm->arch.crypto.ap_matrix == g;
	mutex_unlock(&ap_matrix_lock);
	if (installed) {
		if (ap_matrix_empty(&m))
			kvm_arch_crypto_clear_masks(kvm);
		else
			kvm_arch_crypto_set_masks(kvm, m.apm, m.aqm, m.adm);
	}
	/*
	 * What drop() took meanwhile is still in g->m's snapshot @m, or was
	 * already gone from it: only queues outside @m are handed.
	 */
	mutex_lock(&ap_matrix_lock);
	handed = ap_matrix_crycb_done(g, installed ? &m : NULL);
	mutex_unlock(&ap_matrix_lock);
	return handed;
}

/*
 * A guest's CRYCB rewrite, queued by drop().  It never waits for kvm->lock,
 * which a VMM can hold for as long as it likes: it retries later instead.
 * Only this guest's queues wait for it; the reset worker goes on with
 * everybody else's.
 */
static void ap_matrix_rewrite_fn(struct work_struct *work)
{
	struct kvm_s390_ap_matrix_guest *g =
		container_of(to_delayed_work(work),
			     struct kvm_s390_ap_matrix_guest, rewrite);
	bool handed;

	if (!mutex_trylock(&g->kvm->lock)) {
		mutex_lock(&ap_matrix_lock);
		if (!g->dead)
			queue_delayed_work(system_unbound_wq, &g->rewrite,
					   AP_MATRIX_REWRITE_RETRY);
		mutex_unlock(&ap_matrix_lock);
		return;
	}
	handed = ap_matrix_write_crycb(g);
	mutex_unlock(&g->kvm->lock);
	if (handed)
		ap_matrix_kick();
}

/* is there a reset left to the worker, or a queue waiting for a CRYCB? */
static bool ap_matrix_work_left(void)
{
	unsigned int apqn;

	lockdep_assert_held(&ap_matrix_lock);
	for (apqn = ap_matrix_next_marked(0); apqn < AP_MATRIX_QUEUES;
	     apqn = ap_matrix_next_marked(apqn + 1))
		if (ap_matrix_marker(ap_matrix_marker_entry(apqn)) &
		    (AP_MATRIX_WORKER | AP_MATRIX_CRYCB))
			return true;
	return false;
}

/* collect up to a batch of the worker's resets, from the cursor on */
static unsigned int ap_matrix_work_collect(struct ap_matrix_reset *r,
					   bool *more)
{
	unsigned int apqn, n = 0;
	unsigned long marker;

	lockdep_assert_held(&ap_matrix_lock);
	*more = false;
	for (apqn = ap_matrix_next_marked(ap_matrix_work_cursor);
	     apqn < AP_MATRIX_QUEUES;
	     apqn = ap_matrix_next_marked(apqn + 1)) {
		marker = ap_matrix_marker(ap_matrix_marker_entry(apqn));
		if (!(marker & AP_MATRIX_WORKER))
			continue;
		if (n == AP_MATRIX_RESET_BATCH) {
			*more = true;
			break;
		}
		memset(&r[n], 0, sizeof(r[n]));
		r[n].apqn = apqn;
		r[n].started = marker & AP_MATRIX_STARTED;
		r[n].zapq_rc = (marker >> AP_MATRIX_RC_SHIFT) & 0xff;
		r[n].polls = marker >> AP_MATRIX_POLLS_SHIFT;
		r[n].state = AP_MATRIX_RESET_PENDING;
		n++;
	}
	ap_matrix_work_cursor = *more ? apqn : 0;
	return n;
}

/* write back one round of the worker's resets */
static void ap_matrix_work_update(struct ap_matrix_reset *r, unsigned int n)
{
	unsigned long marker;
	unsigned int i, polls;
	void *entry;

	lockdep_assert_held(&ap_matrix_lock);
	for (i = 0; i < n; i++) {
		entry = ap_matrix_marker_entry(r[i].apqn);
		marker = ap_matrix_marker(entry);
		if (!ap_matrix_resetting(entry) || !(marker & AP_MATRIX_WORKER))
			continue;
		polls = r[i].polls + r[i].started;
		ap_matrix_settle(NULL, &r[i], marker, polls);
	}
}

/*
 * The reset worker: one round (ZAPQ or one TAPQ) of up to a batch of the
 * resets handed to it (each queue already left its guest's CRYCB); requeued
 * while anything is left.  It takes no kvm->lock.
 */
static void ap_matrix_work_fn(struct work_struct *work)
{
	struct ap_matrix_reset r[AP_MATRIX_RESET_BATCH];
	const struct kvm_s390_ap_host_ops *ops;
	unsigned int i, n;
	bool more, left;

	mutex_lock(&ap_matrix_lock);
	n = ap_matrix_work_collect(r, &more);
	ops = ap_matrix_get_ops_locked();
	mutex_unlock(&ap_matrix_lock);

	for (i = 0; i < n; i++) {
		if (r[i].started)
			ap_matrix_tapq(ops, &r[i]);
		else
			ap_matrix_zapq(ops, &r[i]);
	}
	ap_matrix_put_ops(ops);

	mutex_lock(&ap_matrix_lock);
	ap_matrix_work_update(r, n);
	left = ap_matrix_work_left();
	mutex_unlock(&ap_matrix_lock);
	if (more)
		queue_delayed_work(system_unbound_wq, &ap_matrix_work, 0);
	else if (left)
		queue_delayed_work(system_unbound_wq, &ap_matrix_work,
				   msecs_to_jiffies(kvm_s390_ap_matrix_tunables.interval_ms));
}

static void ap_matrix_flush_work(void)
{
	bool left;

	for (;;) {
		flush_delayed_work(&ap_matrix_work);
		mutex_lock(&ap_matrix_lock);
		left = ap_matrix_work_left();
		mutex_unlock(&ap_matrix_lock);
		if (!left)
			break;
		/* the worker requeued itself with a delay: let it run */
		ap_matrix_sleep();
		ap_matrix_kick();
	}
}

/*
 * Take @g off the guest list, with no vCPU of it running any more (the VM is
 * destroyed, or was never given a matrix): the queues waiting for its CRYCB
 * rewrite are the reset worker's, and the rewrite is cancelled.
 */
static void ap_matrix_unlist(struct kvm_s390_ap_matrix_guest *g)
{
	mutex_lock(&ap_matrix_lock);
	list_del(&g->node);
	g->dead = true;
	ap_matrix_crycb_done(g, NULL);
	mutex_unlock(&ap_matrix_lock);
	cancel_delayed_work_sync(&g->rewrite);
}

/*
 * Put @g on the guest list with an id no listed guest has.  Until the ids
 * wrapped once, a new id is unique without looking (O(1) however many
 * guests there are); afterwards the list is searched.
 */
static void ap_matrix_list(struct kvm_s390_ap_matrix_guest *g)
{
	struct kvm_s390_ap_matrix_guest *o;
	bool taken;

	lockdep_assert_held(&ap_matrix_lock);
	do {
		if (ap_matrix_last_id == AP_MATRIX_GUEST_MAX)
			ap_matrix_ids_wrapped = true;
		ap_matrix_last_id = ap_matrix_last_id % AP_MATRIX_GUEST_MAX + 1;
		taken = false;
		if (ap_matrix_ids_wrapped)
			list_for_each_entry(o, &ap_matrix_guests, node)
				taken |= o->id == ap_matrix_last_id;
	} while (taken);
	g->id = ap_matrix_last_id;
	list_add(&g->node, &ap_matrix_guests);
}

static const char *ap_matrix_rule_name(int rc)
{
	switch (rc) {
	case -ENODEV:
		return "out of range (ENODEV)";
	case -EPERM:
		return "not covered by a grant (EPERM)";
	case -EADDRNOTAVAIL:
		return "not available to apmatrix (EADDRNOTAVAIL)";
	case -EADDRINUSE:
		return "held by another VM (EADDRINUSE)";
	case -EBUSY:
		return "reset not finished or failed (EBUSY)";
	default:
		return "refused";
	}
}

/* VM_EVENT for a refusal; rate-limited for VALIDATE_ONLY probes */
#define AP_MATRIX_REFUSED(kvm, probe, fmt, ...)				\
	do {								\
		if (!(probe) || __ratelimit(&ap_matrix_probe_rs))	\
			VM_EVENT(kvm, 3, "AP matrix refused: " fmt,	\
				 __VA_ARGS__);				\
	} while (0)

/* the first ID of @mask above @max, or AP_MATRIX_IDS */
static unsigned int ap_matrix_beyond(const unsigned long *mask,
				     unsigned int max)
{
	if (max >= AP_MATRIX_IDS - 1)
		return AP_MATRIX_IDS;
	return find_next_bit_inv(mask, AP_MATRIX_IDS, max + 1);
}

/* ENODEV: beyond the host's configuration or the CRYCB format */
static int ap_matrix_check_range(struct kvm *kvm,
				 const struct kvm_s390_ap_host_config *cfg,
				 const struct ap_matrix_masks *m, bool probe)
{
	unsigned int max_apid = cfg->max_apid, max_apqi = cfg->max_apqi, id;
	unsigned long adm[AP_MATRIX_WORDS];

	if ((kvm->arch.crypto.crycbd & CRYCB_FORMAT_MASK) != CRYCB_FORMAT2) {
		max_apid = min(max_apid, AP_MATRIX_FMT01_MAX_APID);
		max_apqi = min(max_apqi, AP_MATRIX_FMT01_MAX_APQI);
	}
	id = ap_matrix_beyond(m->apm, max_apid);
	if (id < AP_MATRIX_IDS) {
		AP_MATRIX_REFUSED(kvm, probe, "adapter %02x %s", id,
				  ap_matrix_rule_name(-ENODEV));
		return -ENODEV;
	}
	id = ap_matrix_beyond(m->aqm, max_apqi);
	if (id < AP_MATRIX_IDS) {
		AP_MATRIX_REFUSED(kvm, probe, "domain %04x %s", id,
				  ap_matrix_rule_name(-ENODEV));
		return -ENODEV;
	}
	bitmap_andnot(adm, m->adm, cfg->adm, AP_MATRIX_IDS);
	id = find_first_bit_inv(adm, AP_MATRIX_IDS);
	if (id == AP_MATRIX_IDS)
		id = ap_matrix_beyond(m->adm, max_apqi);
	if (id < AP_MATRIX_IDS) {
		AP_MATRIX_REFUSED(kvm, probe, "control domain %04x %s", id,
				  ap_matrix_rule_name(-ENODEV));
		return -ENODEV;
	}
	return 0;
}

/*
 * EPERM: @new adds a usage APQN or a control domain that the VM does not
 * hold (@held), that the grant (may be NULL) does not cover, and the caller
 * does not have CAP_SYS_ADMIN.
 */
static int ap_matrix_check_authority(struct kvm *kvm,
				     const struct ap_matrix_masks *new,
				     const struct ap_matrix_masks *held,
				     const struct ap_matrix_grant *grant,
				     bool probe)
{
	static const unsigned long none[AP_MATRIX_WORDS];
	const unsigned long *gapm = grant ? grant->m.apm : none;
	const unsigned long *gaqm = grant ? grant->m.aqm : none;
	unsigned long cover[AP_MATRIX_WORDS], extra[AP_MATRIX_WORDS];
	unsigned long bad[AP_MATRIX_WORDS] = {};
	unsigned int apid, id, k, i;

	/*
	 * An adapter's domains are covered by what the VM holds (if it holds
	 * the adapter) and by the grant (if it covers the adapter): four
	 * cases, each checked once for all the adapters in it.
	 */
	for (k = 0; k < 4; k++) {
		for (i = 0; i < AP_MATRIX_WORDS; i++)
			cover[i] = (k & 1 ? held->aqm[i] : 0) |
				   (k & 2 ? gaqm[i] : 0);
		if (bitmap_subset(new->aqm, cover, AP_MATRIX_IDS))
			continue;
		for (i = 0; i < AP_MATRIX_WORDS; i++)
			bad[i] |= new->apm[i] &
				  (k & 1 ? held->apm[i] : ~held->apm[i]) &
				  (k & 2 ? gapm[i] : ~gapm[i]);
	}
	/* the first adapter with a domain not covered, and that domain */
	apid = find_first_bit_inv(bad, AP_MATRIX_IDS);
	if (apid < AP_MATRIX_IDS) {
		if (capable(CAP_SYS_ADMIN))
			return 0;
		bitmap_zero(cover, AP_MATRIX_IDS);
		if (test_bit_inv(apid, held->apm))
			bitmap_copy(cover, held->aqm, AP_MATRIX_IDS);
		if (test_bit_inv(apid, gapm))
			bitmap_or(cover, cover, gaqm, AP_MATRIX_IDS);
		bitmap_andnot(extra, new->aqm, cover, AP_MATRIX_IDS);
		id = find_first_bit_inv(extra, AP_MATRIX_IDS);
		AP_MATRIX_REFUSED(kvm, probe, "%02x.%04x %s", apid, id,
				  ap_matrix_rule_name(-EPERM));
		return -EPERM;
	}
	bitmap_andnot(extra, new->adm, held->adm, AP_MATRIX_IDS);
	if (grant)
		bitmap_andnot(extra, extra, grant->m.adm, AP_MATRIX_IDS);
	id = find_first_bit_inv(extra, AP_MATRIX_IDS);
	if (id < AP_MATRIX_IDS && !capable(CAP_SYS_ADMIN)) {
		AP_MATRIX_REFUSED(kvm, probe, "control domain %04x %s", id,
				  ap_matrix_rule_name(-EPERM));
		return -EPERM;
	}
	return 0;
}

/*
 * The rules from EADDRNOTAVAIL on, in order; under ops->lock() and
 * ap_matrix_lock.  @g is the VM's state, NULL if it never held a matrix.
 * Per requested adapter: its available domains (one host call), its
 * domains with a marker (EBUSY) and those another guest claims
 * (EADDRINUSE: claimed, no marker, not @g's); each error names the first
 * APQN it applies to.
 */
static int ap_matrix_check(struct kvm *kvm,
			   struct kvm_s390_ap_matrix_guest *g,
			   const struct kvm_s390_ap_host_ops *ops,
			   const struct ap_matrix_masks *m, bool probe)
{
	unsigned long avail[AP_MATRIX_WORDS], bad[AP_MATRIX_WORDS];
	unsigned long marked[AP_MATRIX_WORDS], other[AP_MATRIX_WORDS];
	static const unsigned long none[AP_MATRIX_WORDS];
	unsigned int apid, apqi, apqn, inuse = 0, busy = 0, i;
	bool has_inuse = false, has_busy = false;
	const unsigned long *mine;
	struct ap_matrix_adapter *a;
	unsigned long any;
	int rc;

	lockdep_assert_held(&ap_matrix_lock);

	if (bitmap_empty(m->aqm, AP_MATRIX_IDS))
		return 0;	/* no usage APQN */
	for_each_set_bit_inv(apid, m->apm, AP_MATRIX_IDS) {
		a = &ap_matrix_adapters[apid];
		mine = g && test_bit_inv(apid, g->m.apm) ? g->m.aqm : none;
		ops->available(apid, avail);
		for (i = 0, any = 0; i < AP_MATRIX_WORDS; i++)
			any |= m->aqm[i] & (~avail[i] | a->marked[i] |
					    (a->held[i] & ~mine[i]));
		if (likely(!any))
			continue;
		/* refused: which rule, for which domain */
		for (i = 0; i < AP_MATRIX_WORDS; i++) {
			bad[i] = m->aqm[i] & ~avail[i];
			marked[i] = m->aqm[i] & a->marked[i];
			other[i] = m->aqm[i] & a->held[i] & ~a->marked[i] &
				   ~mine[i];
		}
		apqi = find_first_bit_inv(bad, AP_MATRIX_IDS);
		if (apqi < AP_MATRIX_IDS) {
			AP_MATRIX_REFUSED(kvm, probe, "%02x.%04x %s",
					  apid, apqi,
					  ap_matrix_rule_name(-EADDRNOTAVAIL));
			return -EADDRNOTAVAIL;
		}
		apqi = find_first_bit_inv(marked, AP_MATRIX_IDS);
		if (!has_busy && apqi < AP_MATRIX_IDS) {
			busy = AP_MATRIX_APQN(apid, apqi);
			has_busy = true;
		}
		apqi = find_first_bit_inv(other, AP_MATRIX_IDS);
		if (!has_inuse && apqi < AP_MATRIX_IDS) {
			inuse = AP_MATRIX_APQN(apid, apqi);
			has_inuse = true;
		}
	}
	if (has_inuse || has_busy) {
		rc = has_inuse ? -EADDRINUSE : -EBUSY;
		apqn = has_inuse ? inuse : busy;
		AP_MATRIX_REFUSED(kvm, probe, "%02x.%04x %s",
				  AP_MATRIX_APID(apqn), AP_MATRIX_APQI(apqn),
				  ap_matrix_rule_name(rc));
		return rc;
	}
	return 0;
}

/*
 * Undo a claim that was not installed: free the queues claimed for @g->next
 * that are still @g's and not in @g->m.  Under ap_matrix_lock.
 */
static void ap_matrix_unclaim(struct kvm_s390_ap_matrix_guest *g)
{
	struct ap_matrix_masks next = g->next;

	lockdep_assert_held(&ap_matrix_lock);
	g->installing = false;
	ap_matrix_shrink(g, &g->m, &next, 0);
}

/*
 * What a claim needs allocated, allocated by ap_matrix_prepare() before
 * any AP lock is taken and consumed by ap_matrix_claim() under them.
 */
struct ap_matrix_prealloc {
	struct ap_matrix_holds *holds;	/* holder entries, or NULL */
	unsigned long add[AP_MATRIX_WORDS];	/* adapters @holds is for */
	unsigned long *storage;		/* marker storage, or NULL */
	unsigned long need[AP_MATRIX_WORDS];	/* adapters @storage is for */
};

static void ap_matrix_prealloc_free(struct ap_matrix_prealloc *p)
{
	kfree(p->holds);
	p->holds = NULL;
	bitmap_zero(p->add, AP_MATRIX_IDS);
	kvfree(p->storage);
	p->storage = NULL;
	bitmap_zero(p->need, AP_MATRIX_IDS);
}

/* the adapters of @req a claim adds @g to the holder lists of */
static void ap_matrix_new_holds(const struct ap_matrix_masks *held,
				const struct ap_matrix_masks *req,
				unsigned long *add)
{
	bitmap_copy(add, req->apm, AP_MATRIX_IDS);
	/* @g is on the holder lists of @held's adapters already */
	if (!bitmap_empty(held->aqm, AP_MATRIX_IDS))
		bitmap_andnot(add, add, held->apm, AP_MATRIX_IDS);
}

/*
 * Allocate, with no AP lock held, what claiming @req for a guest that
 * holds @held takes: one holder entry per adapter it adds to the guest,
 * and marker storage for each adapter of @req that has none yet, each in
 * one allocation however many adapters.  The holder entries are the VMM's
 * (charged to it, freed with its claims).  Marker storage outlives the VMM
 * and is shared by every guest of its adapters (bounded: 2 KiB per
 * adapter, 512 KiB in all), so it is not charged to the VMM's memory
 * cgroup: it would pin that cgroup's charge after the VMM is gone, or
 * charge a tenant for what the others use.  So it is allocated only with
 * @storage: after a round whose checks (all of them, under the AP locks)
 * passed and whose claim found storage missing; a request that is refused
 * never allocates it, however many SETs a tenant runs.  In steady state
 * (the adapters have storage, @g holds them) nothing is allocated.  The
 * adapters with storage are read without ap_matrix_lock: the claim
 * rechecks under it and asks for another round (-EAGAIN) unless this is
 * exactly what it
 * needs, so every slot of an allocation is an adapter's.
 */
static int ap_matrix_prepare(const struct ap_matrix_masks *held,
			     const struct ap_matrix_masks *req,
			     struct ap_matrix_prealloc *p, bool storage)
{
	unsigned int i, n;

	ap_matrix_prealloc_free(p);
	if (bitmap_empty(req->aqm, AP_MATRIX_IDS))
		return 0;	/* adapters without domains claim no queue */
	ap_matrix_new_holds(held, req, p->add);
	n = bitmap_weight(p->add, AP_MATRIX_IDS);
	if (n) {
		p->holds = kmalloc(sizeof(*p->holds) +
				   n * sizeof(p->holds->h[0]),
				   GFP_KERNEL_ACCOUNT);
		if (!p->holds)
			goto nomem;
	}
	for (i = 0; i < AP_MATRIX_WORDS; i++)
		p->need[i] = req->apm[i] &
			     ~READ_ONCE(ap_matrix_stored_apm[i]);
	if (!storage || bitmap_empty(p->need, AP_MATRIX_IDS))
		return 0;
	/* a marker is read only where @marked says it was written */
	n = bitmap_weight(p->need, AP_MATRIX_IDS);
	p->storage = kvmalloc_array(n * AP_MATRIX_IDS, sizeof(*p->storage),
				    GFP_KERNEL);
	if (!p->storage)
		goto nomem;
	return 0;
nomem:
	ap_matrix_prealloc_free(p);
	return -ENOMEM;
}

/*
 * Claim the queues of @g->next for @g, after ap_matrix_check() found them
 * free; under ap_matrix_lock.  Per adapter: its @held gains the domains,
 * @g joins its holder list and it gets marker storage if it has none yet,
 * all from @p: nothing is allocated here.  -EAGAIN (nothing changed) if @p
 * falls short (@g's matrix shrank or storage was released meanwhile, or
 * no storage was prepared: the first round of a claim on new adapters) or
 * holds storage for an adapter another SET gave storage to meanwhile.
 */
static int ap_matrix_claim(struct kvm_s390_ap_matrix_guest *g,
			   struct ap_matrix_prealloc *p)
{
	unsigned long add[AP_MATRIX_WORDS], need[AP_MATRIX_WORDS];
	struct ap_matrix_holds *c = p->holds;
	struct ap_matrix_adapter *a;
	struct ap_matrix_hold *h;
	unsigned int apid, n;

	lockdep_assert_held(&ap_matrix_lock);
	if (bitmap_empty(g->next.aqm, AP_MATRIX_IDS)) {
		g->installing = true;
		return 0;	/* adapters without domains claim no queue */
	}
	ap_matrix_new_holds(&g->m, &g->next, add);
	if (!bitmap_subset(add, p->add, AP_MATRIX_IDS))
		return -EAGAIN;
	if (bitmap_andnot(need, g->next.apm, ap_matrix_stored_apm,
			  AP_MATRIX_IDS)) {
		/*
		 * Exactly what was prepared: an allocation whose slots are not
		 * all installed would stay, idle, as long as one adapter uses
		 * it (up to 256 x 256 x 8 bytes), so if another SET gave some
		 * of the adapters storage meanwhile, prepare again.
		 */
		if (!p->storage || !bitmap_equal(need, p->need, AP_MATRIX_IDS))
			return -EAGAIN;
		/* slot k of the allocation for the k-th adapter of @need */
		n = 0;
		for_each_set_bit_inv(apid, need, AP_MATRIX_IDS) {
			a = &ap_matrix_adapters[apid];
			a->markers = p->storage + n++ * AP_MATRIX_IDS;
			a->storage = p->storage;
		}
		ap_matrix_storage_slots += n;
		/* read without the lock by ap_matrix_prepare() */
		for (n = 0; n < AP_MATRIX_WORDS; n++)
			WRITE_ONCE(ap_matrix_stored_apm[n],
				   ap_matrix_stored_apm[n] | need[n]);
		/* the adapters' now */
		p->storage = NULL;
	}
	g->installing = true;
	n = 0;
	for_each_set_bit_inv(apid, g->next.apm, AP_MATRIX_IDS) {
		a = &ap_matrix_adapters[apid];
		if (test_bit_inv(apid, add)) {
			h = &c->h[n++];
			h->g = g;
			h->chunk = c;
			hlist_add_head(&h->node, &a->holders);
		}
		bitmap_or(a->held, a->held, g->next.aqm, AP_MATRIX_IDS);
	}
	if (n) {
		/* the holder lists' now; entries for adapters it lost idle */
		c->live = n;
		p->holds = NULL;
	}
	g->holds += n;
	return 0;
}

/* does adapter @apid hold a claim or a marker? */
static bool ap_matrix_adapter_busy(unsigned int apid)
{
	const struct ap_matrix_adapter *a = &ap_matrix_adapters[apid];

	return !bitmap_empty(a->held, AP_MATRIX_IDS) ||
	       !bitmap_empty(a->marked, AP_MATRIX_IDS);
}

/*
 * Free the marker storage allocations none of whose adapters holds a claim
 * or a marker (all of them if @all: kvm.ko is unloaded).  Under
 * ap_matrix_lock; O(256 x 256) at most, only when the AP driver or kvm.ko
 * goes.
 */
static void ap_matrix_storage_release(bool all)
{
	unsigned int apid, i;
	unsigned long *s;
	bool busy;

	lockdep_assert_held(&ap_matrix_lock);
	for_each_set_bit_inv(apid, ap_matrix_stored_apm, AP_MATRIX_IDS) {
		s = ap_matrix_adapters[apid].storage;
		busy = false;
		for_each_set_bit_inv(i, ap_matrix_stored_apm, AP_MATRIX_IDS)
			if (ap_matrix_adapters[i].storage == s && !all)
				busy |= ap_matrix_adapter_busy(i);
		if (busy)
			continue;
		for_each_set_bit_inv(i, ap_matrix_stored_apm, AP_MATRIX_IDS) {
			if (ap_matrix_adapters[i].storage != s)
				continue;
			ap_matrix_adapters[i].storage = NULL;
			ap_matrix_adapters[i].markers = NULL;
			clear_bit_inv(i, ap_matrix_stored_apm);
			/* one slot per adapter: ap_matrix_claim() */
			ap_matrix_storage_slots--;
		}
		kvfree(s);
	}
}

/*
 * Install the claimed matrix: mark the queues that leave RESETTING, write
 * the masks.  Under kvm->lock.  Returns the matrix replaced in @old and the
 * one installed in @new (the claimed one, minus what left the host or the
 * driver meanwhile).
 */
static void ap_matrix_install(struct kvm_s390_ap_matrix_guest *g,
			      struct ap_matrix_masks *old,
			      struct ap_matrix_masks *new)
{
	struct kvm *kvm = g->kvm;

	lockdep_assert_held(&kvm->lock);
	mutex_lock(&ap_matrix_lock);
	*old = g->m;
	*new = g->next;
	g->m = *new;
	g->installing = false;
	/* what leaves: only @old's adapters, nothing for a first matrix */
	ap_matrix_shrink(g, old, NULL, KVM_S390_AP_MATRIX_RESETTING);
	/* published under kvm->lock: vfio_ap checks it there */
	WRITE_ONCE(kvm->arch.crypto.ap_matrix, g);
	mutex_unlock(&ap_matrix_lock);

	if (ap_matrix_empty(new))
		kvm_arch_crypto_clear_masks(kvm);
	else
		kvm_arch_crypto_set_masks(kvm, new->apm, new->aqm, new->adm);
}

/* EEXIST: the VM's AP configuration belongs to vfio_ap */
static int ap_matrix_check_vfio(struct kvm *kvm)
{
	int rc;

	rc = mutex_lock_killable(&kvm->lock);
	if (rc)
		return rc;
	rc = kvm->arch.crypto.pqap_hook ? -EEXIST : 0;
	mutex_unlock(&kvm->lock);
	return rc;
}

/*
 * The VM holds the empty matrix: it no longer holds an AP matrix at all, so
 * vfio_ap may have the VM's AP configuration.  Under the per-VM mutex; the
 * pointer is cleared under kvm->lock, where vfio_ap checks it (if a fatal
 * signal interrupts the wait, the VM keeps the empty matrix).  The CRYCB
 * was written empty and nothing of @g was added since: no queue waits for
 * a rewrite of it any more.
 */
static void ap_matrix_forget(struct kvm_s390_ap_matrix_guest *g)
{
	struct kvm *kvm = g->kvm;
	bool empty;

	if (mutex_lock_killable(&kvm->lock))
		return;
	mutex_lock(&ap_matrix_lock);
	empty = ap_matrix_empty(&g->m) && !g->installing;
	if (empty)
		WRITE_ONCE(kvm->arch.crypto.ap_matrix, NULL);
	mutex_unlock(&ap_matrix_lock);
	mutex_unlock(&kvm->lock);
	if (!empty)
		return;
	VM_EVENT(kvm, 3, "%s", "AP matrix released (empty matrix)");
	ap_matrix_unlist(g);
	ap_matrix_kick();
	ap_matrix_free(g);
}

/* the SET from EEXIST on; under the per-VM mutex */
static int ap_matrix_set_locked(struct kvm *kvm,
				const struct kvm_s390_ap_host_ops *ops,
				const struct ap_matrix_masks *req,
				const struct ap_matrix_grant *grant, u32 flags)
{
	bool probe = flags & KVM_S390_AP_MATRIX_VALIDATE_ONLY;
	struct kvm_s390_ap_matrix_guest *g = kvm->arch.crypto.ap_matrix;
	unsigned long failed_apm[AP_MATRIX_WORDS] = {};
	static const unsigned long none[AP_MATRIX_WORDS];
	struct ap_matrix_masks old, new, held = {};
	struct ap_matrix_prealloc pre = {};
	struct kvm_s390_ap_host_config cfg;
	bool fresh = false;
	int rc;

	rc = ap_matrix_check_vfio(kvm);
	if (rc)
		return rc;
	/*
	 * ENODEV and EPERM need none of the AP locks, so a refused request
	 * does not contend them (and capable() runs under none): the host
	 * configuration is a copy, and what the VM holds changes only under
	 * the per-VM mutex or shrinks (drop(); a queue dropped meanwhile is
	 * still EBUSY until its reset completed).
	 */
	ops->config(&cfg);
	if (g) {
		mutex_lock(&ap_matrix_lock);
		held = g->m;
		mutex_unlock(&ap_matrix_lock);
	}
	rc = ap_matrix_check_range(kvm, &cfg, req, probe);
	if (!rc)
		rc = ap_matrix_check_authority(kvm, req, &held, grant, probe);
	if (rc)
		return rc;

	if (!g && !probe && !ap_matrix_empty(req)) {
		g = kzalloc(sizeof(*g), GFP_KERNEL_ACCOUNT);
		if (!g)
			return -ENOMEM;
		g->kvm = kvm;
		INIT_DELAYED_WORK(&g->rewrite, ap_matrix_rewrite_fn);
		fresh = true;
	}

	/*
	 * What the claim needs is allocated before any AP lock; marker
	 * storage only once a round's checks passed (a refused request
	 * allocates none).
	 */
	if (!probe && g)
		rc = ap_matrix_prepare(&held, req, &pre, false);
	while (!rc) {
		rc = ops->lock();
		if (rc)
			break;
		mutex_lock(&ap_matrix_lock);
		rc = ap_matrix_check(kvm, fresh ? NULL : g, ops, req, probe);
		if (rc || probe || !g) {
			/* refused, a probe, or nothing held and nothing to hold */
			mutex_unlock(&ap_matrix_lock);
			ops->unlock();
			goto out_free;
		}
		g->next = *req;
		rc = ap_matrix_claim(g, &pre);
		if (!rc && fresh)
			ap_matrix_list(g);
		held = g->m;
		mutex_unlock(&ap_matrix_lock);
		ops->unlock();
		if (rc != -EAGAIN)
			break;
		/* storage missing, @g's matrix shrank or storage went: again */
		rc = ap_matrix_prepare(&held, req, &pre, true);
	}
	ap_matrix_prealloc_free(&pre);
	if (rc) {
		if (fresh)
			kfree(g);
		return rc;
	}

	/* the AP locks are dropped: install under kvm->lock */
	rc = mutex_lock_killable(&kvm->lock);
	if (!rc && kvm->arch.crypto.pqap_hook) {
		mutex_unlock(&kvm->lock);
		rc = -EEXIST;
	}
	if (rc) {
		mutex_lock(&ap_matrix_lock);
		ap_matrix_unclaim(g);
		mutex_unlock(&ap_matrix_lock);
		goto out_unlist;
	}
	ap_matrix_install(g, &old, &new);
	mutex_unlock(&kvm->lock);
	VM_EVENT(kvm, 3, "AP matrix set (flags %x)", flags);

	ap_matrix_hand_over(g, &old, &new, flags & KVM_S390_AP_MATRIX_RESET,
			    failed_apm);
	if (bitmap_empty(failed_apm, AP_MATRIX_IDS)) {
		if (ap_matrix_empty(&new))
			ap_matrix_forget(g);
		return 0;
	}

	/* EIO: the adapters of the queues whose reset failed leave the VM */
	VM_EVENT(kvm, 3, "%s",
		 "AP matrix: reset failed, adapters removed (EIO)");
	mutex_lock(&ap_matrix_lock);
	ap_matrix_drop(g, failed_apm, none, none);
	mutex_unlock(&ap_matrix_lock);
	/* rewrite now if we can; else drop() queued the rewrite */
	if (!mutex_lock_killable(&kvm->lock)) {
		if (ap_matrix_write_crycb(g))
			ap_matrix_kick();
		mutex_unlock(&kvm->lock);
	}
	return -EIO;

out_unlist:
	if (fresh) {
		ap_matrix_unlist(g);
		/* reset what left the host meanwhile (it never ran in it) */
		ap_matrix_kick();
	}
out_free:
	ap_matrix_prealloc_free(&pre);
	if (fresh)
		ap_matrix_free(g);
	return rc;
}

/**
 * kvm_s390_ap_matrix_set_matrix - set a VM's AP matrix
 * @kvm: the VM
 * @req: the request, already copied from userspace
 * @grant: the file @req->grant_fd refers to, NULL if none
 *
 * Return: 0, or the errno of the first rule the request breaks.
 */
VISIBLE_IF_AP_MATRIX_TEST int
kvm_s390_ap_matrix_set_matrix(struct kvm *kvm,
			      const struct kvm_s390_ap_matrix *req,
			      struct file *grant)
{
	const struct ap_matrix_grant *authority = NULL;
	const struct kvm_s390_ap_host_ops *ops;
	struct ap_matrix_masks new;
	unsigned int i;
	int rc;

	if (req->flags & ~AP_MATRIX_FLAGS)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(req->reserved); i++)
		if (req->reserved[i])
			return -EINVAL;
	if (req->flags & KVM_S390_AP_MATRIX_GRANT) {
		if (!grant)
			return -EBADF;
		if (grant->f_op != &ap_matrix_grant_fops)
			return -EINVAL;
		authority = grant->private_data;
	} else if (req->grant_fd) {
		return -EINVAL;
	}
	memcpy(new.apm, req->apm, sizeof(new.apm));
	memcpy(new.aqm, req->aqm, sizeof(new.aqm));
	memcpy(new.adm, req->adm, sizeof(new.adm));

	ops = ap_matrix_get_ops();
	if (!ops)
		return -EOPNOTSUPP;
	rc = mutex_lock_killable(&kvm->arch.crypto.ap_matrix_mutex);
	if (!rc) {
		rc = ap_matrix_set_locked(kvm, ops, &new, authority,
					  req->flags);
		mutex_unlock(&kvm->arch.crypto.ap_matrix_mutex);
	}
	ap_matrix_put_ops(ops);
	return rc;
}

int kvm_s390_ap_matrix_set(struct kvm *kvm, struct kvm_device_attr *attr)
{
	struct kvm_s390_ap_matrix req;

	if (attr->attr != KVM_S390_VM_CRYPTO_SET_AP_MATRIX)
		return -ENXIO;
	if (copy_from_user(&req, u64_to_user_ptr(attr->addr), sizeof(req)))
		return -EFAULT;
	if (!(req.flags & KVM_S390_AP_MATRIX_GRANT) || req.grant_fd < 0)
		return kvm_s390_ap_matrix_set_matrix(kvm, &req, NULL);

	/* the grant file is held across the whole SET */
	CLASS(fd, grant)(req.grant_fd);
	return kvm_s390_ap_matrix_set_matrix(kvm, &req, fd_file(grant));
}
EXPORT_SYMBOL_IF_KUNIT(kvm_s390_ap_matrix_set);

int kvm_s390_ap_matrix_get(struct kvm *kvm, struct kvm_device_attr *attr)
{
	struct kvm_s390_ap_matrix_guest *g;
	struct kvm_s390_ap_matrix out;

	if (attr->attr != KVM_S390_VM_CRYPTO_SET_AP_MATRIX)
		return -ENXIO;
	memset(&out, 0, sizeof(out));
	mutex_lock(&ap_matrix_lock);
	g = READ_ONCE(kvm->arch.crypto.ap_matrix);
	if (g) {
		memcpy(out.apm, g->m.apm, sizeof(out.apm));
		memcpy(out.aqm, g->m.aqm, sizeof(out.aqm));
		memcpy(out.adm, g->m.adm, sizeof(out.adm));
	}
	mutex_unlock(&ap_matrix_lock);
	if (copy_to_user(u64_to_user_ptr(attr->addr), &out, sizeof(out)))
		return -EFAULT;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(kvm_s390_ap_matrix_get);

/*
 * HAS answers 0 exactly when a SET would not answer EOPNOTSUPP: both ask
 * whether the registered operations can be pinned.
 */
int kvm_s390_ap_matrix_has(void)
{
	const struct kvm_s390_ap_host_ops *ops = ap_matrix_get_ops();

	ap_matrix_put_ops(ops);
	return ops ? 0 : -ENXIO;
}
EXPORT_SYMBOL_IF_KUNIT(kvm_s390_ap_matrix_has);

void kvm_s390_ap_matrix_init_vm(struct kvm *kvm)
{
	mutex_init(&kvm->arch.crypto.ap_matrix_mutex);
}
EXPORT_SYMBOL_IF_KUNIT(kvm_s390_ap_matrix_init_vm);

/* VM teardown: reset and release every queue the guest held */
void kvm_s390_ap_matrix_destroy(struct kvm *kvm)
{
	struct kvm_s390_ap_matrix_guest *g = kvm->arch.crypto.ap_matrix;
	struct ap_matrix_masks old, none = {};
	unsigned long failed_apm[AP_MATRIX_WORDS] = {};

	if (!g)
		return;
	ap_matrix_unlist(g);
	mutex_lock(&ap_matrix_lock);
	old = g->m;
	g->m = none;
	ap_matrix_shrink(g, &old, NULL, KVM_S390_AP_MATRIX_RESETTING);
	kvm->arch.crypto.ap_matrix = NULL;
	VM_EVENT(kvm, 3, "%s", "AP matrix released (VM destroyed)");
	mutex_unlock(&ap_matrix_lock);

	/* what waited for the CRYCB rewrite is the worker's now */
	ap_matrix_kick();
	ap_matrix_hand_over(g, &old, &none, false, failed_apm);
	ap_matrix_free(g);
}
EXPORT_SYMBOL_IF_KUNIT(kvm_s390_ap_matrix_destroy);

/* kvm.ko is unloaded: no reset is left behind */
void kvm_s390_ap_matrix_exit(void)
{
	unsigned int apid;

	ap_matrix_flush_work();
	cancel_delayed_work_sync(&ap_matrix_work);
	/* failed queues' markers: nobody resets them any more */
	mutex_lock(&ap_matrix_lock);
	for (apid = 0; apid < AP_MATRIX_IDS; apid++) {
		bitmap_zero(ap_matrix_adapters[apid].marked, AP_MATRIX_IDS);
		bitmap_zero(ap_matrix_adapters[apid].failed, AP_MATRIX_IDS);
		bitmap_zero(ap_matrix_adapters[apid].crycb, AP_MATRIX_IDS);
	}
	bitmap_zero(ap_matrix_marked_apm, AP_MATRIX_IDS);
	ap_matrix_storage_release(true);
	mutex_unlock(&ap_matrix_lock);
}

/*
 * Nothing may allocate under ap_matrix_lock: the AP bus's remove() and
 * on_config_changed() take it.  Reclaim does not take it; this tells
 * lockdep that it may (as icc_init() does for icc_bw_lock), so that a
 * blocking __GFP_FS allocation (GFP_KERNEL, __GFP_NOFAIL or not) under
 * ap_matrix_lock is a lock inversion that lockdep reports wherever it
 * happens, not only when reclaim runs.  GFP_NOFS/GFP_NOIO allocations
 * are not seen.  No-op without CONFIG_LOCKDEP.
 */
static void ap_matrix_lockdep_no_alloc(void)
{
	fs_reclaim_acquire(GFP_KERNEL);
	might_lock(&ap_matrix_lock);
	fs_reclaim_release(GFP_KERNEL);
}

/**
 * kvm_s390_ap_matrix_register - register the AP bus side
 * @ops: the host operations
 *
 * Also tells lockdep, once per registration, that nothing may allocate
 * under ap_matrix_lock (whether the driver's probe() took the lock before
 * does not matter to lockdep).
 *
 * Return: 0, or -EBUSY if operations are already registered.
 */
int kvm_s390_ap_matrix_register(const struct kvm_s390_ap_host_ops *ops)
{
	int rc = 0;

	ap_matrix_lockdep_no_alloc();
	mutex_lock(&ap_matrix_lock);
	if (ap_matrix_ops)
		rc = -EBUSY;
	else
		ap_matrix_ops = ops;
	mutex_unlock(&ap_matrix_lock);
	return rc;
}
EXPORT_SYMBOL_NS_GPL(kvm_s390_ap_matrix_register, KVM_S390_AP_MATRIX);

/**
 * kvm_s390_ap_matrix_unregister - unregister the AP bus side
 * @ops: the host operations registered before
 *
 * From now on HAS answers -ENXIO and a SET -EOPNOTSUPP; resets use the
 * PQAP inlines.  The driver unregisters before it lets its queues go, so
 * that no SET claims a queue while it leaves.  Users of @ops pin its
 * module, so nobody calls @ops once the module's exit runs.
 */
void kvm_s390_ap_matrix_unregister(const struct kvm_s390_ap_host_ops *ops)
{
	mutex_lock(&ap_matrix_lock);
	if (ap_matrix_ops == ops)
		ap_matrix_ops = NULL;
	mutex_unlock(&ap_matrix_lock);
}
EXPORT_SYMBOL_NS_GPL(kvm_s390_ap_matrix_unregister, KVM_S390_AP_MATRIX);

/**
 * kvm_s390_ap_matrix_release_all - take every queue from every guest
 *
 * Called by the AP driver's module exit after it unregistered its
 * operations and before it unregisters from the AP bus, while the AP bus
 * still asks its in_use(): every guest loses all its adapters (as if each
 * queue were removed), and this returns once every CRYCB was rewritten and
 * every queue that left was reset (released) or given up as failed (kept
 * failed; after the unload nothing protects a failed queue any more).  It
 * waits for each guest's kvm->lock: exit cannot fail.
 */
void kvm_s390_ap_matrix_release_all(void)
{
	static const unsigned long none[AP_MATRIX_WORDS];
	unsigned long all[AP_MATRIX_WORDS];
	struct kvm_s390_ap_matrix_guest *g;

	bitmap_fill(all, AP_MATRIX_IDS);
	mutex_lock(&ap_matrix_lock);
	list_for_each_entry(g, &ap_matrix_guests, node) {
		if (bitmap_empty(g->m.apm, AP_MATRIX_IDS) &&
		    !(g->installing &&
		      !bitmap_empty(g->next.apm, AP_MATRIX_IDS)))
			continue;
		ap_matrix_drop(g, all, none, none);
		VM_EVENT(g->kvm, 3, "%s",
			 "AP matrix: AP driver unloaded, adapters unplugged");
	}
	mutex_unlock(&ap_matrix_lock);
	ap_matrix_flush_work();
	/* no SET runs any more: the storage goes but for FAILED markers */
	mutex_lock(&ap_matrix_lock);
	ap_matrix_storage_release(false);
	mutex_unlock(&ap_matrix_lock);
}
EXPORT_SYMBOL_NS_GPL(kvm_s390_ap_matrix_release_all, KVM_S390_AP_MATRIX);

/**
 * kvm_s390_ap_matrix_in_use - are any of these queues held by a guest?
 * @apm: adapters
 * @aqm: usage domains
 *
 * Called by the AP driver's in_use() with ap_perms_mutex held.  A queue whose
 * reset failed is not in use: giving it back to the host's default drivers
 * is how an administrator recovers it (the AP bus resets it).
 *
 * Return: true if an APQN of @apm x @aqm is assigned to a guest or resetting.
 */
bool kvm_s390_ap_matrix_in_use(unsigned long *apm, unsigned long *aqm)
{
	unsigned long used[AP_MATRIX_WORDS];
	struct ap_matrix_adapter *a;
	unsigned int apid;
	bool in_use = false;

	mutex_lock(&ap_matrix_lock);
	for_each_set_bit_inv(apid, apm, AP_MATRIX_IDS) {
		a = &ap_matrix_adapters[apid];
		/* claimed or marked, but not failed */
		bitmap_or(used, a->held, a->marked, AP_MATRIX_IDS);
		bitmap_andnot(used, used, a->failed, AP_MATRIX_IDS);
		if (bitmap_intersects(used, aqm, AP_MATRIX_IDS)) {
			in_use = true;
			break;
		}
	}
	mutex_unlock(&ap_matrix_lock);
	return in_use;
}
EXPORT_SYMBOL_NS_GPL(kvm_s390_ap_matrix_in_use, KVM_S390_AP_MATRIX);

/**
 * kvm_s390_ap_matrix_queue_probed - a queue was bound to the AP matrix driver
 * @apqn: the queue
 *
 * Called by the AP driver's probe().  A queue whose reset failed is reset
 * again, by the reset worker, and becomes free only once that reset
 * completed.  A queue that left the driver during its reset is back.
 */
void kvm_s390_ap_matrix_queue_probed(unsigned int apqn)
{
	unsigned long marker;
	bool kick = false;
	void *entry;

	mutex_lock(&ap_matrix_lock);
	entry = ap_matrix_entry(apqn);
	marker = ap_matrix_marker(entry);
	if (ap_matrix_failed(entry)) {
		ap_matrix_mark(apqn, KVM_S390_AP_MATRIX_RESETTING |
			       AP_MATRIX_WORKER);
		kick = true;
	} else if (ap_matrix_resetting(entry)) {
		ap_matrix_mark(apqn, (marker & ~AP_MATRIX_KIND) |
			       KVM_S390_AP_MATRIX_RESETTING);
	}
	mutex_unlock(&ap_matrix_lock);
	if (kick)
		ap_matrix_kick();
}
EXPORT_SYMBOL_NS_GPL(kvm_s390_ap_matrix_queue_probed, KVM_S390_AP_MATRIX);

/**
 * kvm_s390_ap_matrix_queue_removed - a queue left the AP matrix driver
 * @apqn: the queue
 *
 * Called by the AP driver's remove() (the AP bus holds the device lock),
 * after the queue stopped being available.  The guest holding the queue
 * loses its whole adapter (a guest's matrix is adapters x domains), as
 * vfio_ap unplugs it; the reset worker rewrites its CRYCB, then resets and
 * releases every queue that left.  A queue being reset stays so; a queue
 * whose reset failed stays failed.
 */
void kvm_s390_ap_matrix_queue_removed(unsigned int apqn)
{
	unsigned long apm[AP_MATRIX_WORDS] = {};
	static const unsigned long none[AP_MATRIX_WORDS];
	struct kvm_s390_ap_matrix_guest *g;
	bool kick = false;
	void *entry;

	mutex_lock(&ap_matrix_lock);
	entry = ap_matrix_entry(apqn);
	if (ap_matrix_resetting(entry)) {
		ap_matrix_mark(apqn, (ap_matrix_marker(entry) &
				      ~AP_MATRIX_KIND) |
			       KVM_S390_AP_MATRIX_RESETTING_GONE);
	} else if (entry && !xa_is_value(entry)) {
		g = ap_matrix_guest(entry);
		set_bit_inv(AP_MATRIX_APID(apqn), apm);
		ap_matrix_drop(g, apm, none, none);
		VM_EVENT(g->kvm, 3,
			 "AP queue %02x.%04x removed: adapter unplugged",
			 AP_MATRIX_APID(apqn), AP_MATRIX_APQI(apqn));
		kick = true;
	}
	mutex_unlock(&ap_matrix_lock);
	if (kick)
		ap_matrix_kick();
}
EXPORT_SYMBOL_NS_GPL(kvm_s390_ap_matrix_queue_removed, KVM_S390_AP_MATRIX);

/**
 * kvm_s390_ap_matrix_config_removed - IDs left the host's AP configuration
 * @apm_gone: adapters that left
 * @aqm_gone: usage domains that left
 * @adm_gone: control domains that left
 *
 * Called by the AP driver when the AP configuration changed (the AP bus
 * holds ap_scan_bus_mutex).  Every guest loses them; the reset worker
 * rewrites the CRYCBs, then resets and releases the queues that left.
 */
void kvm_s390_ap_matrix_config_removed(unsigned long *apm_gone,
				       unsigned long *aqm_gone,
				       unsigned long *adm_gone)
{
	struct kvm_s390_ap_matrix_guest *g;
	unsigned int apqn;
	bool kick = false;
	void *entry;

	mutex_lock(&ap_matrix_lock);
	for (apqn = ap_matrix_next_marked(0); apqn < AP_MATRIX_QUEUES;
	     apqn = ap_matrix_next_marked(apqn + 1)) {
		entry = ap_matrix_marker_entry(apqn);
		if (!ap_matrix_resetting(entry) ||
		    !(test_bit_inv(AP_MATRIX_APID(apqn), apm_gone) ||
		      test_bit_inv(AP_MATRIX_APQI(apqn), aqm_gone)))
			continue;
		ap_matrix_mark(apqn, (ap_matrix_marker(entry) &
				      ~AP_MATRIX_KIND) |
			       KVM_S390_AP_MATRIX_RESETTING_GONE);
	}
	list_for_each_entry(g, &ap_matrix_guests, node) {
		if (!bitmap_intersects(g->m.apm, apm_gone, AP_MATRIX_IDS) &&
		    !bitmap_intersects(g->m.aqm, aqm_gone, AP_MATRIX_IDS) &&
		    !bitmap_intersects(g->m.adm, adm_gone, AP_MATRIX_IDS) &&
		    !(g->installing &&
		      (bitmap_intersects(g->next.apm, apm_gone,
					 AP_MATRIX_IDS) ||
		       bitmap_intersects(g->next.aqm, aqm_gone,
					 AP_MATRIX_IDS) ||
		       bitmap_intersects(g->next.adm, adm_gone,
					 AP_MATRIX_IDS))))
			continue;
		ap_matrix_drop(g, apm_gone, aqm_gone, adm_gone);
		VM_EVENT(g->kvm, 3, "%s",
			 "AP matrix: IDs left the host configuration");
		kick = true;
	}
	mutex_unlock(&ap_matrix_lock);
	if (kick)
		ap_matrix_kick();
}
EXPORT_SYMBOL_NS_GPL(kvm_s390_ap_matrix_config_removed, KVM_S390_AP_MATRIX);

/**
 * kvm_s390_ap_matrix_queue_state - what the owner table says of a queue
 * @apqn: the queue
 * @pid: set to the VMM's pid (the task that created the VM) if in use;
 *	may be NULL
 *
 * For the AP driver's per-queue sysfs attribute apmatrix_state.
 *
 * Return: the queue's state.
 */
enum kvm_s390_ap_queue_state
kvm_s390_ap_matrix_queue_state(unsigned int apqn, pid_t *pid)
{
	enum kvm_s390_ap_queue_state state = KVM_S390_AP_QUEUE_FREE;
	struct kvm_s390_ap_matrix_guest *g;
	void *entry;

	mutex_lock(&ap_matrix_lock);
	entry = ap_matrix_entry(apqn);
	if (ap_matrix_failed(entry)) {
		state = KVM_S390_AP_QUEUE_RESET_FAILED;
	} else if (ap_matrix_resetting(entry)) {
		state = KVM_S390_AP_QUEUE_RESETTING;
	} else if (entry) {
		g = ap_matrix_guest(entry);
		state = KVM_S390_AP_QUEUE_IN_USE;
		if (pid)
			*pid = g->kvm->userspace_pid;
	}
	mutex_unlock(&ap_matrix_lock);
	return state;
}
EXPORT_SYMBOL_NS_GPL(kvm_s390_ap_matrix_queue_state, KVM_S390_AP_MATRIX);

static int ap_matrix_grant_release(struct inode *inode, struct file *file)
{
	kfree(file->private_data);
	return 0;
}

static void ap_matrix_grant_show_fdinfo(struct seq_file *m, struct file *file)
{
	const struct ap_matrix_grant *grant = file->private_data;

	seq_printf(m, "apm:\t0x%016lx%016lx%016lx%016lx\n", grant->m.apm[0],
		   grant->m.apm[1], grant->m.apm[2], grant->m.apm[3]);
	seq_printf(m, "aqm:\t0x%016lx%016lx%016lx%016lx\n", grant->m.aqm[0],
		   grant->m.aqm[1], grant->m.aqm[2], grant->m.aqm[3]);
	seq_printf(m, "adm:\t0x%016lx%016lx%016lx%016lx\n", grant->m.adm[0],
		   grant->m.adm[1], grant->m.adm[2], grant->m.adm[3]);
}

static const struct file_operations ap_matrix_grant_fops = {
	.owner = THIS_MODULE,
	.release = ap_matrix_grant_release,
	.show_fdinfo = ap_matrix_grant_show_fdinfo,
	.llseek = noop_llseek,
};

/**
 * kvm_s390_ap_matrix_grant_open - create a grant file
 * @req: the grant's matrix
 *
 * Return: the file, or an ERR_PTR.
 */
VISIBLE_IF_AP_MATRIX_TEST struct file *
kvm_s390_ap_matrix_grant_open(const struct apmatrix_grant *req)
{
	const struct kvm_s390_ap_host_ops *ops;
	struct kvm_s390_ap_host_config cfg;
	struct ap_matrix_grant *grant;
	struct file *file;
	unsigned int i;

	if (req->flags)
		return ERR_PTR(-EINVAL);
	for (i = 0; i < ARRAY_SIZE(req->reserved); i++)
		if (req->reserved[i])
			return ERR_PTR(-EINVAL);
	grant = kzalloc(sizeof(*grant), GFP_KERNEL_ACCOUNT);
	if (!grant)
		return ERR_PTR(-ENOMEM);
	memcpy(grant->m.apm, req->apm, sizeof(grant->m.apm));
	memcpy(grant->m.aqm, req->aqm, sizeof(grant->m.aqm));
	memcpy(grant->m.adm, req->adm, sizeof(grant->m.adm));
	/* a grant that covers nothing is a mistake */
	if ((bitmap_empty(grant->m.apm, AP_MATRIX_IDS) ||
	     bitmap_empty(grant->m.aqm, AP_MATRIX_IDS)) &&
	    bitmap_empty(grant->m.adm, AP_MATRIX_IDS)) {
		file = ERR_PTR(-EINVAL);
		goto out_free;
	}

	ops = ap_matrix_get_ops();
	if (!ops) {
		file = ERR_PTR(-ENODEV);
		goto out_free;
	}
	ops->config(&cfg);
	ap_matrix_put_ops(ops);
	if (ap_matrix_beyond(grant->m.apm, cfg.max_apid) < AP_MATRIX_IDS ||
	    ap_matrix_beyond(grant->m.aqm, cfg.max_apqi) < AP_MATRIX_IDS ||
	    !bitmap_subset(grant->m.adm, cfg.adm, AP_MATRIX_IDS)) {
		file = ERR_PTR(-ENODEV);
		goto out_free;
	}

	file = anon_inode_getfile("[apmatrix-grant]", &ap_matrix_grant_fops,
				  grant, O_RDONLY);
	if (!IS_ERR(file))
		return file;
out_free:
	kfree(grant);
	return file;
}

/**
 * kvm_s390_ap_matrix_grant_create - create a grant file descriptor
 * @req: the grant's matrix, copied from userspace by the AP driver
 *
 * For the AP driver's /dev/apmatrix ioctl APMATRIX_CREATE_GRANT.  A grant
 * claims nothing: it allows its holder to add the usage APQNs (apm x aqm)
 * and control domains (adm) of @req to a VM.
 *
 * Return: a new close-on-exec file descriptor, -EINVAL (flags or reserved
 * fields non-zero, a matrix covering nothing), -ENODEV (an ID beyond the
 * host's AP configuration, a control domain the host does not have),
 * -ENOMEM or -EMFILE.
 */
int kvm_s390_ap_matrix_grant_create(const struct apmatrix_grant *req)
{
	struct file *file;
	int fd;

	file = kvm_s390_ap_matrix_grant_open(req);
	if (IS_ERR(file))
		return PTR_ERR(file);
	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		fput(file);
		return fd;
	}
	fd_install(fd, file);
	return fd;
}
EXPORT_SYMBOL_NS_GPL(kvm_s390_ap_matrix_grant_create, KVM_S390_AP_MATRIX);

#if IS_ENABLED(CONFIG_KVM_S390_AP_MATRIX_KUNIT_TEST)
const struct kvm_s390_ap_host_ops *
kvm_s390_ap_matrix_swap_ops(const struct kvm_s390_ap_host_ops *ops)
{
	const struct kvm_s390_ap_host_ops *old;

	mutex_lock(&ap_matrix_lock);
	old = ap_matrix_ops;
	ap_matrix_ops = ops;
	mutex_unlock(&ap_matrix_lock);
	return old;
}

void *kvm_s390_ap_matrix_owner(unsigned int apqn)
{
	struct kvm_s390_ap_matrix_guest *g;
	void *entry;

	mutex_lock(&ap_matrix_lock);
	entry = ap_matrix_entry(apqn);
	if (xa_is_value(entry)) {
		entry = xa_mk_value(ap_matrix_marker(entry) & AP_MATRIX_KIND);
	} else if (entry) {
		g = ap_matrix_guest(entry);
		entry = g->kvm;
	}
	mutex_unlock(&ap_matrix_lock);
	return entry;
}

void kvm_s390_ap_matrix_flush(void)
{
	ap_matrix_flush_work();
}

void kvm_s390_ap_matrix_lockdep_no_alloc(void)
{
	ap_matrix_lockdep_no_alloc();
}

unsigned int kvm_s390_ap_matrix_storage(void)
{
	unsigned int n;

	mutex_lock(&ap_matrix_lock);
	n = ap_matrix_storage_slots;
	mutex_unlock(&ap_matrix_lock);
	return n;
}

bool kvm_s390_ap_matrix_idle(void)
{
	unsigned int apid;
	bool idle;

	ap_matrix_flush_work();
	mutex_lock(&ap_matrix_lock);
	idle = list_empty(&ap_matrix_guests) &&
	       bitmap_empty(ap_matrix_marked_apm, AP_MATRIX_IDS);
	for (apid = 0; apid < AP_MATRIX_IDS; apid++)
		idle &= bitmap_empty(ap_matrix_adapters[apid].held,
				     AP_MATRIX_IDS) &&
			bitmap_empty(ap_matrix_adapters[apid].marked,
				     AP_MATRIX_IDS) &&
			hlist_empty(&ap_matrix_adapters[apid].holders);
	mutex_unlock(&ap_matrix_lock);
	return idle;
}
#endif
