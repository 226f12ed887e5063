// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_S390_VM_CRYPTO_SET_AP_MATRIX: hand AP queues to a guest without a
 * mediated device.
 *
 * A VMM sets the whole AP matrix of its guest (adapters, usage domains,
 * control domains) with one VM attribute.  The request is checked against
 * the host's AP configuration, the guest's CRYCB format and the queues that
 * other guests hold, and then written into the guest's CRYCB.  A queue that
 * leaves a guest is zeroized (ZAPQ) before any other guest may claim it.
 *
 * kvm.ko does not depend on ap.ko: the AP bus side (queue ownership, ZAPQ,
 * TAPQ) is reached through struct kvm_s390_ap_host_ops, registered by the
 * ap_matrix_drv driver that lives beside the AP bus.
 *
 * Kernel dependencies of this file (keep them few): mutex, xarray, list,
 * bitmap/bitops (the _inv MSB0 helpers), copy_from_user/copy_to_user,
 * kzalloc/kfree, msleep, try_module_get/module_put, VM_EVENT,
 * kvm_arch_crypto_set_masks/kvm_arch_crypto_clear_masks.  No ap.ko symbol.
 *
 * Lock order, outermost first:
 *   ap_scan_bus_mutex (AP bus)
 *     -> ap_perms_mutex (ops->lock())
 *       -> ap_matrix_lock (this file: ops pointer, owner table, guests)
 *         -> kvm->lock (one VM at a time)
 *           -> vCPU blocking inside kvm_arch_crypto_set_masks()
 * The AP driver's in_use() runs under ap_perms_mutex and takes only
 * ap_matrix_lock.  SET is dispatched from kvm_s390_vm_set_attr() before
 * kvm->lock is taken.  No lock is held while waiting for a queue reset.
 */

#define KMSG_COMPONENT "kvm-s390"
#define pr_fmt(fmt) KMSG_COMPONENT ": " fmt

#include <linux/bitops.h>
#include <linux/delay.h>
#include <linux/kvm_host.h>
#include <linux/list.h>
#include <linux/lockdep.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>
#include <kunit/visibility.h>
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

#define AP_MATRIX_IDS		256
#define AP_MATRIX_WORDS		BITS_TO_LONGS(AP_MATRIX_IDS)
#define AP_MATRIX_APQN(apid, apqi)	((apid) << 8 | (apqi))
#define AP_MATRIX_APID(apqn)	(((apqn) >> 8) & 0xff)
#define AP_MATRIX_APQI(apqn)	((apqn) & 0xff)

/* CRYCB formats 0 and 1 hold APIDs 0..63 and APQIs 0..15 */
#define AP_MATRIX_FMT01_MAX_APID	63U
#define AP_MATRIX_FMT01_MAX_APQI	15U

#define AP_MATRIX_FLAGS	(KVM_S390_AP_MATRIX_VALIDATE_ONLY | \
			 KVM_S390_AP_MATRIX_RESET)

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

/* owner table values other than a struct kvm pointer */
#define AP_MATRIX_RESETTING	xa_mk_value(KVM_S390_AP_MATRIX_RESETTING)
#define AP_MATRIX_FAILED	xa_mk_value(KVM_S390_AP_MATRIX_FAILED)
#define AP_MATRIX_RESETTING_GONE \
	xa_mk_value(KVM_S390_AP_MATRIX_RESETTING_GONE)

/* queues reset together, waiting for them with one bound */
#define AP_MATRIX_RESET_BATCH	64

struct ap_matrix_masks {
	unsigned long apm[AP_MATRIX_WORDS];
	unsigned long aqm[AP_MATRIX_WORDS];
	unsigned long adm[AP_MATRIX_WORDS];
};

static_assert(sizeof_field(struct ap_matrix_masks, apm) ==
	      sizeof_field(struct kvm_s390_ap_matrix, apm));

/* per VM state, pointed to by kvm->arch.crypto.ap_matrix */
struct kvm_s390_ap_matrix_guest {
	struct list_head node;		/* in ap_matrix_guests */
	struct kvm *kvm;
	struct ap_matrix_masks m;	/* the matrix in the CRYCB */
};

static DEFINE_MUTEX(ap_matrix_lock);
/* APQN -> owning struct kvm or one of the markers above */
static DEFINE_XARRAY(ap_matrix_owners);
static LIST_HEAD(ap_matrix_guests);
static const struct kvm_s390_ap_host_ops *ap_matrix_ops;

/* reset wait: poll TAPQ every 20 ms (as AP_RESET_INTERVAL), up to 50 times */
VISIBLE_IF_KUNIT struct kvm_s390_ap_matrix_tunables kvm_s390_ap_matrix_tunables = {
	.interval_ms = 20,
	.polls = 50,
};

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

static const struct kvm_s390_ap_host_ops *ap_matrix_get_ops(void)
{
	const struct kvm_s390_ap_host_ops *ops;

	mutex_lock(&ap_matrix_lock);
	ops = ap_matrix_ops;
	if (ops && !try_module_get(ops->owner))
		ops = NULL;
	mutex_unlock(&ap_matrix_lock);
	return ops;
}

static void ap_matrix_put_ops(const struct kvm_s390_ap_host_ops *ops)
{
	if (ops)
		module_put(ops->owner);
}

/*
 * Walk the queues a hand-over resets: those of @old that are not in @new
 * (they leave the guest) and, with @all, every queue of @new.
 */
struct ap_matrix_walk {
	const struct ap_matrix_masks *old, *new;
	unsigned long apm[AP_MATRIX_WORDS];
	unsigned long aqm[AP_MATRIX_WORDS];
	unsigned int apid, apqi;
	bool all;
};

static void ap_matrix_walk_init(struct ap_matrix_walk *w,
				const struct ap_matrix_masks *old,
				const struct ap_matrix_masks *new, bool all)
{
	w->old = old;
	w->new = new;
	w->all = all;
	bitmap_or(w->apm, old->apm, new->apm, AP_MATRIX_IDS);
	bitmap_or(w->aqm, old->aqm, new->aqm, AP_MATRIX_IDS);
	w->apid = find_first_bit_inv(w->apm, AP_MATRIX_IDS);
	w->apqi = 0;
}

static bool ap_matrix_walk_next(struct ap_matrix_walk *w, unsigned int *apqn,
				bool *leaving)
{
	bool in_old, in_new;

	for (; w->apid < AP_MATRIX_IDS;
	     w->apid = find_next_bit_inv(w->apm, AP_MATRIX_IDS, w->apid + 1),
	     w->apqi = 0) {
		for (w->apqi = find_next_bit_inv(w->aqm, AP_MATRIX_IDS, w->apqi);
		     w->apqi < AP_MATRIX_IDS;
		     w->apqi = find_next_bit_inv(w->aqm, AP_MATRIX_IDS,
						 w->apqi + 1)) {
			in_old = ap_matrix_usage(w->old, w->apid, w->apqi);
			in_new = ap_matrix_usage(w->new, w->apid, w->apqi);
			if ((in_old && !in_new) || (w->all && in_new)) {
				*apqn = AP_MATRIX_APQN(w->apid, w->apqi);
				*leaving = in_old && !in_new;
				w->apqi++;
				return true;
			}
		}
	}
	return false;
}

enum ap_matrix_reset_state {
	AP_MATRIX_RESET_PENDING,
	AP_MATRIX_RESET_DONE,
	AP_MATRIX_RESET_ERROR,
};

struct ap_matrix_reset {
	u16 apqn;
	u8 zapq_rc;	/* response code of the last ZAPQ */
	u8 state;	/* enum ap_matrix_reset_state */
	bool leaving;	/* the queue left the guest: release it afterwards */
};

static void ap_matrix_zapq(const struct kvm_s390_ap_host_ops *ops,
			   struct ap_matrix_reset *r)
{
	struct ap_queue_status status = ops->zapq(r->apqn);

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
		pr_warn("ZAPQ of AP queue %02x.%04x failed: rc=%u\n",
			AP_MATRIX_APID(r->apqn), AP_MATRIX_APQI(r->apqn),
			status.response_code);
		r->state = AP_MATRIX_RESET_ERROR;
		break;
	}
}

/* one TAPQ poll of a pending reset, as vfio_ap's apq_reset_check() */
static void ap_matrix_tapq(const struct kvm_s390_ap_host_ops *ops,
			   struct ap_matrix_reset *r)
{
	struct ap_queue_status status = ops->tapq(r->apqn);

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
		pr_warn("TAPQ of AP queue %02x.%04x failed: rc=%u\n",
			AP_MATRIX_APID(r->apqn), AP_MATRIX_APQI(r->apqn),
			status.response_code);
		r->state = AP_MATRIX_RESET_ERROR;
		break;
	}
}

/* ZAPQ every queue, then poll them with one bound; called with no lock */
static void ap_matrix_reset_batch(const struct kvm_s390_ap_host_ops *ops,
				  struct ap_matrix_reset *r, unsigned int n)
{
	const struct kvm_s390_ap_matrix_tunables *t =
		&kvm_s390_ap_matrix_tunables;
	unsigned int i, poll, pending;

	lockdep_assert_not_held(&ap_matrix_lock);
	if (!ops) {
		/* no AP driver: nothing can reach the queues */
		for (i = 0; i < n; i++)
			r[i].state = AP_MATRIX_RESET_DONE;
		return;
	}
	for (i = 0; i < n; i++)
		ap_matrix_zapq(ops, &r[i]);
	for (poll = 0; poll < t->polls; poll++) {
		for (i = 0, pending = 0; i < n; i++)
			pending += r[i].state == AP_MATRIX_RESET_PENDING;
		if (!pending)
			break;
		if (t->interval_ms)
			msleep(t->interval_ms);
		else
			cond_resched();
		for (i = 0; i < n; i++)
			if (r[i].state == AP_MATRIX_RESET_PENDING)
				ap_matrix_tapq(ops, &r[i]);
	}
}

/* release the queues whose reset finished, mark the others FAILED */
static void ap_matrix_release_batch(struct kvm *kvm,
				    struct ap_matrix_reset *r, unsigned int n)
{
	unsigned int i, apid, apqi;
	void *entry;

	mutex_lock(&ap_matrix_lock);
	for (i = 0; i < n; i++) {
		apid = AP_MATRIX_APID(r[i].apqn);
		apqi = AP_MATRIX_APQI(r[i].apqn);
		if (r[i].state != AP_MATRIX_RESET_DONE) {
			pr_warn("reset of AP queue %02x.%04x did not finish\n",
				apid, apqi);
			if (kvm)
				VM_EVENT(kvm, 3,
					 "AP queue %02x.%04x: reset did not finish",
					 apid, apqi);
		}
		if (!r[i].leaving)
			continue;
		entry = xa_load(&ap_matrix_owners, r[i].apqn);
		/* a queue that left the driver or host meanwhile is free */
		if (entry == AP_MATRIX_RESETTING_GONE)
			xa_erase(&ap_matrix_owners, r[i].apqn);
		if (entry != AP_MATRIX_RESETTING)
			continue;
		if (r[i].state == AP_MATRIX_RESET_DONE)
			xa_erase(&ap_matrix_owners, r[i].apqn);
		else
			xa_store(&ap_matrix_owners, r[i].apqn, AP_MATRIX_FAILED,
				 GFP_KERNEL);
	}
	mutex_unlock(&ap_matrix_lock);
}

/*
 * Reset the queues that left a guest (@old minus @new; with @all also every
 * queue of @new), wait for the resets with a bound, then release the queues
 * that left.  Called with no lock held, after the new masks were written.
 * @kvm is only used for VM_EVENT lines and may be NULL.
 */
static void ap_matrix_hand_over(struct kvm *kvm,
				const struct kvm_s390_ap_host_ops *ops,
				const struct ap_matrix_masks *old,
				const struct ap_matrix_masks *new, bool all)
{
	struct ap_matrix_reset r[AP_MATRIX_RESET_BATCH];
	struct ap_matrix_walk w;
	unsigned int n, apqn;
	bool leaving, more = true;

	ap_matrix_walk_init(&w, old, new, all);
	while (more) {
		for (n = 0; n < AP_MATRIX_RESET_BATCH; n++) {
			more = ap_matrix_walk_next(&w, &apqn, &leaving);
			if (!more)
				break;
			r[n].apqn = apqn;
			r[n].leaving = leaving;
		}
		if (!n)
			break;
		ap_matrix_reset_batch(ops, r, n);
		ap_matrix_release_batch(kvm, r, n);
	}
}

/*
 * Install @new as the guest's matrix: mark the queues that leave it
 * RESETTING, write the CRYCB masks and remember the matrix.  The queues that
 * join it must already be claimed.
 */
static void ap_matrix_commit(struct kvm_s390_ap_matrix_guest *g,
			     const struct ap_matrix_masks *new)
{
	struct kvm *kvm = g->kvm;
	unsigned int apid, apqi;

	lockdep_assert_held(&ap_matrix_lock);
	for_each_set_bit_inv(apid, g->m.apm, AP_MATRIX_IDS)
		for_each_set_bit_inv(apqi, g->m.aqm, AP_MATRIX_IDS)
			if (!ap_matrix_usage(new, apid, apqi))
				xa_store(&ap_matrix_owners,
					 AP_MATRIX_APQN(apid, apqi),
					 AP_MATRIX_RESETTING, GFP_KERNEL);

	mutex_lock(&kvm->lock);
	g->m = *new;
	if (ap_matrix_empty(&g->m))
		kvm_arch_crypto_clear_masks(kvm);
	else
		kvm_arch_crypto_set_masks(kvm, g->m.apm, g->m.aqm, g->m.adm);
	mutex_unlock(&kvm->lock);
}

static const char *ap_matrix_rule_name(int rc)
{
	switch (rc) {
	case -ENODEV:
		return "out of range (ENODEV)";
	case -EADDRNOTAVAIL:
		return "not available to apmatrix (EADDRNOTAVAIL)";
	case -EADDRINUSE:
		return "held by another VM (EADDRINUSE)";
	case -EBUSY:
		return "reset not finished (EBUSY)";
	default:
		return "refused";
	}
}

/* the first ID of @mask above @max, or AP_MATRIX_IDS */
static unsigned int ap_matrix_beyond(const unsigned long *mask,
				     unsigned int max)
{
	if (max >= AP_MATRIX_IDS - 1)
		return AP_MATRIX_IDS;
	return find_next_bit_inv(mask, AP_MATRIX_IDS, max + 1);
}

/* the rules, in order; called under ops->lock() and ap_matrix_lock */
static int ap_matrix_check(struct kvm *kvm,
			   const struct kvm_s390_ap_host_ops *ops,
			   const struct ap_matrix_masks *m)
{
	unsigned int max_apid, max_apqi, apid, apqi, apqn, id;
	unsigned int inuse = 0, busy = 0;
	bool has_inuse = false, has_busy = false;
	void *entry;

	lockdep_assert_held(&ap_matrix_lock);

	ops->limits(&max_apid, &max_apqi);
	if ((kvm->arch.crypto.crycbd & CRYCB_FORMAT_MASK) != CRYCB_FORMAT2) {
		max_apid = min(max_apid, AP_MATRIX_FMT01_MAX_APID);
		max_apqi = min(max_apqi, AP_MATRIX_FMT01_MAX_APQI);
	}
	id = ap_matrix_beyond(m->apm, max_apid);
	if (id < AP_MATRIX_IDS) {
		VM_EVENT(kvm, 3, "AP matrix refused: adapter %02x %s", id,
			 ap_matrix_rule_name(-ENODEV));
		return -ENODEV;
	}
	id = ap_matrix_beyond(m->aqm, max_apqi);
	if (id < AP_MATRIX_IDS) {
		VM_EVENT(kvm, 3, "AP matrix refused: domain %04x %s", id,
			 ap_matrix_rule_name(-ENODEV));
		return -ENODEV;
	}
	id = ap_matrix_beyond(m->adm, max_apqi);
	if (id < AP_MATRIX_IDS) {
		VM_EVENT(kvm, 3, "AP matrix refused: control domain %04x %s",
			 id, ap_matrix_rule_name(-ENODEV));
		return -ENODEV;
	}

	for_each_set_bit_inv(apid, m->apm, AP_MATRIX_IDS) {
		for_each_set_bit_inv(apqi, m->aqm, AP_MATRIX_IDS) {
			apqn = AP_MATRIX_APQN(apid, apqi);
			if (ops->available(apqn)) {
				VM_EVENT(kvm, 3, "AP matrix refused: %02x.%04x %s",
					 apid, apqi,
					 ap_matrix_rule_name(-EADDRNOTAVAIL));
				return -EADDRNOTAVAIL;
			}
			entry = xa_load(&ap_matrix_owners, apqn);
			if (!entry || entry == kvm)
				continue;
			if (xa_is_value(entry)) {
				if (!has_busy)
					busy = apqn;
				has_busy = true;
			} else {
				if (!has_inuse)
					inuse = apqn;
				has_inuse = true;
			}
		}
	}
	if (has_inuse || has_busy) {
		apqn = has_inuse ? inuse : busy;
		VM_EVENT(kvm, 3, "AP matrix refused: %02x.%04x %s",
			 AP_MATRIX_APID(apqn), AP_MATRIX_APQI(apqn),
			 ap_matrix_rule_name(has_inuse ? -EADDRINUSE : -EBUSY));
		return has_inuse ? -EADDRINUSE : -EBUSY;
	}
	return 0;
}

/* claim the queues, write the masks; under ops->lock() and ap_matrix_lock */
static int ap_matrix_install(struct kvm *kvm, const struct ap_matrix_masks *new,
			     struct ap_matrix_masks *old)
{
	struct kvm_s390_ap_matrix_guest *g = kvm->arch.crypto.ap_matrix;
	bool fresh = false;
	unsigned int apid, apqi;
	int rc = 0;

	lockdep_assert_held(&ap_matrix_lock);
	if (!g) {
		memset(old, 0, sizeof(*old));
		if (ap_matrix_empty(new))
			return 0;
		g = kzalloc(sizeof(*g), GFP_KERNEL_ACCOUNT);
		if (!g)
			return -ENOMEM;
		g->kvm = kvm;
		fresh = true;
	}
	*old = g->m;

	for_each_set_bit_inv(apid, new->apm, AP_MATRIX_IDS) {
		for_each_set_bit_inv(apqi, new->aqm, AP_MATRIX_IDS) {
			if (ap_matrix_usage(old, apid, apqi))
				continue;
			rc = xa_err(xa_store(&ap_matrix_owners,
					     AP_MATRIX_APQN(apid, apqi), kvm,
					     GFP_KERNEL_ACCOUNT));
			if (rc)
				goto rollback;
		}
	}

	if (fresh) {
		list_add(&g->node, &ap_matrix_guests);
		kvm->arch.crypto.ap_matrix = g;
	}
	ap_matrix_commit(g, new);
	return 0;

rollback:
	for_each_set_bit_inv(apid, new->apm, AP_MATRIX_IDS)
		for_each_set_bit_inv(apqi, new->aqm, AP_MATRIX_IDS)
			if (!ap_matrix_usage(old, apid, apqi) &&
			    xa_load(&ap_matrix_owners,
				    AP_MATRIX_APQN(apid, apqi)) == kvm)
				xa_erase(&ap_matrix_owners,
					 AP_MATRIX_APQN(apid, apqi));
	if (fresh)
		kfree(g);
	return rc;
}

/**
 * kvm_s390_ap_matrix_set_matrix - set a guest's AP matrix
 * @kvm: the guest
 * @req: the request, already copied from userspace
 *
 * Return: 0, or the errno of the first rule the request breaks.
 */
VISIBLE_IF_KUNIT int
kvm_s390_ap_matrix_set_matrix(struct kvm *kvm,
			      const struct kvm_s390_ap_matrix *req)
{
	const struct kvm_s390_ap_host_ops *ops;
	struct ap_matrix_masks new, old;
	unsigned int i;
	int rc;

	if (req->flags & ~AP_MATRIX_FLAGS)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(req->reserved); i++)
		if (req->reserved[i])
			return -EINVAL;
	memcpy(new.apm, req->apm, sizeof(new.apm));
	memcpy(new.aqm, req->aqm, sizeof(new.aqm));
	memcpy(new.adm, req->adm, sizeof(new.adm));

	ops = ap_matrix_get_ops();
	if (!ops)
		return -EOPNOTSUPP;

	ops->lock();
	mutex_lock(&ap_matrix_lock);
	rc = ap_matrix_check(kvm, ops, &new);
	if (!rc && !(req->flags & KVM_S390_AP_MATRIX_VALIDATE_ONLY)) {
		rc = ap_matrix_install(kvm, &new, &old);
		if (!rc)
			VM_EVENT(kvm, 3, "AP matrix set (flags %x)", req->flags);
	}
	mutex_unlock(&ap_matrix_lock);
	ops->unlock();

	if (!rc && !(req->flags & KVM_S390_AP_MATRIX_VALIDATE_ONLY))
		ap_matrix_hand_over(kvm, ops, &old, &new,
				    req->flags & KVM_S390_AP_MATRIX_RESET);
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
	return kvm_s390_ap_matrix_set_matrix(kvm, &req);
}

int kvm_s390_ap_matrix_get(struct kvm *kvm, struct kvm_device_attr *attr)
{
	struct kvm_s390_ap_matrix_guest *g;
	struct kvm_s390_ap_matrix out;

	if (attr->attr != KVM_S390_VM_CRYPTO_SET_AP_MATRIX)
		return -ENXIO;
	memset(&out, 0, sizeof(out));
	mutex_lock(&ap_matrix_lock);
	g = kvm->arch.crypto.ap_matrix;
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

int kvm_s390_ap_matrix_has(void)
{
	int rc;

	mutex_lock(&ap_matrix_lock);
	rc = ap_matrix_ops ? 0 : -ENXIO;
	mutex_unlock(&ap_matrix_lock);
	return rc;
}

/* VM teardown: reset and release every queue the guest held */
void kvm_s390_ap_matrix_destroy(struct kvm *kvm)
{
	struct kvm_s390_ap_matrix_guest *g = kvm->arch.crypto.ap_matrix;
	const struct kvm_s390_ap_host_ops *ops;
	struct ap_matrix_masks old, none = {};
	unsigned int apid, apqi;

	if (!g)
		return;
	mutex_lock(&ap_matrix_lock);
	ops = ap_matrix_ops;
	if (ops && !try_module_get(ops->owner))
		ops = NULL;
	old = g->m;
	for_each_set_bit_inv(apid, old.apm, AP_MATRIX_IDS)
		for_each_set_bit_inv(apqi, old.aqm, AP_MATRIX_IDS)
			xa_store(&ap_matrix_owners, AP_MATRIX_APQN(apid, apqi),
				 AP_MATRIX_RESETTING, GFP_KERNEL);
	list_del(&g->node);
	kvm->arch.crypto.ap_matrix = NULL;
	VM_EVENT(kvm, 3, "%s", "AP matrix released (VM destroyed)");
	mutex_unlock(&ap_matrix_lock);

	ap_matrix_hand_over(kvm, ops, &old, &none, false);
	ap_matrix_put_ops(ops);
	kfree(g);
}

/**
 * kvm_s390_ap_matrix_register - register the AP bus side
 * @ops: the host operations
 *
 * Return: 0, or -EBUSY if operations are already registered.
 */
int kvm_s390_ap_matrix_register(const struct kvm_s390_ap_host_ops *ops)
{
	int rc = 0;

	mutex_lock(&ap_matrix_lock);
	if (ap_matrix_ops)
		rc = -EBUSY;
	else
		ap_matrix_ops = ops;
	mutex_unlock(&ap_matrix_lock);
	return rc;
}
EXPORT_SYMBOL_GPL(kvm_s390_ap_matrix_register);

void kvm_s390_ap_matrix_unregister(const struct kvm_s390_ap_host_ops *ops)
{
	mutex_lock(&ap_matrix_lock);
	if (ap_matrix_ops == ops)
		ap_matrix_ops = NULL;
	mutex_unlock(&ap_matrix_lock);
}
EXPORT_SYMBOL_GPL(kvm_s390_ap_matrix_unregister);

/**
 * kvm_s390_ap_matrix_in_use - are any of these queues held by a guest?
 * @apm: adapters
 * @aqm: usage domains
 *
 * Called by the AP driver's in_use() with ap_perms_mutex held.  A queue whose
 * reset failed is not in use: giving it back to the host's default drivers
 * is how an administrator recovers it.
 *
 * Return: true if an APQN of @apm x @aqm is assigned to a guest or resetting.
 */
bool kvm_s390_ap_matrix_in_use(unsigned long *apm, unsigned long *aqm)
{
	unsigned long apqn;
	unsigned int apid;
	bool used = false;
	void *entry;

	mutex_lock(&ap_matrix_lock);
	for_each_set_bit_inv(apid, apm, AP_MATRIX_IDS) {
		xa_for_each_range(&ap_matrix_owners, apqn, entry,
				  AP_MATRIX_APQN(apid, 0),
				  AP_MATRIX_APQN(apid, AP_MATRIX_IDS - 1)) {
			if (entry != AP_MATRIX_FAILED &&
			    test_bit_inv(AP_MATRIX_APQI(apqn), aqm)) {
				used = true;
				goto out;
			}
		}
	}
out:
	mutex_unlock(&ap_matrix_lock);
	return used;
}
EXPORT_SYMBOL_GPL(kvm_s390_ap_matrix_in_use);

/**
 * kvm_s390_ap_matrix_queue_removed - a queue left the AP matrix driver
 * @apqn: the queue
 *
 * Called by the AP driver's remove(), after the queue stopped being
 * available.  The guest holding the queue loses its whole adapter (a guest's
 * matrix is adapters x domains), as vfio_ap unplugs it; every queue that
 * leaves the guest is reset and released.
 */
void kvm_s390_ap_matrix_queue_removed(unsigned int apqn)
{
	struct kvm_s390_ap_matrix_guest *g;
	const struct kvm_s390_ap_host_ops *ops;
	struct ap_matrix_masks old, new;
	void *entry;

	mutex_lock(&ap_matrix_lock);
	ops = ap_matrix_ops;
	entry = xa_load(&ap_matrix_owners, apqn);
	if (entry == AP_MATRIX_FAILED)
		xa_erase(&ap_matrix_owners, apqn);
	else if (entry == AP_MATRIX_RESETTING)
		xa_store(&ap_matrix_owners, apqn, AP_MATRIX_RESETTING_GONE,
			 GFP_KERNEL);
	if (!entry || xa_is_value(entry)) {
		mutex_unlock(&ap_matrix_lock);
		return;
	}
	g = ((struct kvm *)entry)->arch.crypto.ap_matrix;
	old = g->m;
	new = old;
	clear_bit_inv(AP_MATRIX_APID(apqn), new.apm);
	VM_EVENT(g->kvm, 3, "AP queue %02x.%04x removed: adapter unplugged",
		 AP_MATRIX_APID(apqn), AP_MATRIX_APQI(apqn));
	ap_matrix_commit(g, &new);
	mutex_unlock(&ap_matrix_lock);

	/* the caller is the AP driver: its ops stay valid meanwhile */
	ap_matrix_hand_over(NULL, ops, &old, &new, false);

	/* the queue is no longer ours: forget a failed reset of it */
	mutex_lock(&ap_matrix_lock);
	if (xa_load(&ap_matrix_owners, apqn) == AP_MATRIX_FAILED)
		xa_erase(&ap_matrix_owners, apqn);
	mutex_unlock(&ap_matrix_lock);
}
EXPORT_SYMBOL_GPL(kvm_s390_ap_matrix_queue_removed);

/**
 * kvm_s390_ap_matrix_config_removed - adapters/domains left the host config
 * @apm_gone: adapters that left
 * @aqm_gone: usage domains that left
 *
 * Called by the AP driver when the AP configuration changed.  Every guest
 * loses them; their queues are reset and released.
 */
void kvm_s390_ap_matrix_config_removed(unsigned long *apm_gone,
				       unsigned long *aqm_gone)
{
	struct kvm_s390_ap_matrix_guest *g, *found;
	const struct kvm_s390_ap_host_ops *ops;
	struct ap_matrix_masks old, new;
	unsigned long apqn;
	void *entry;

	/* forget failed resets; resets under way free the queue at the end */
	mutex_lock(&ap_matrix_lock);
	xa_for_each(&ap_matrix_owners, apqn, entry) {
		if (!xa_is_value(entry) ||
		    !(test_bit_inv(AP_MATRIX_APID(apqn), apm_gone) ||
		      test_bit_inv(AP_MATRIX_APQI(apqn), aqm_gone)))
			continue;
		if (entry == AP_MATRIX_FAILED)
			xa_erase(&ap_matrix_owners, apqn);
		else if (entry == AP_MATRIX_RESETTING)
			xa_store(&ap_matrix_owners, apqn,
				 AP_MATRIX_RESETTING_GONE, GFP_KERNEL);
	}
	mutex_unlock(&ap_matrix_lock);

	for (;;) {
		mutex_lock(&ap_matrix_lock);
		ops = ap_matrix_ops;
		found = NULL;
		list_for_each_entry(g, &ap_matrix_guests, node) {
			if (bitmap_intersects(g->m.apm, apm_gone, AP_MATRIX_IDS) ||
			    bitmap_intersects(g->m.aqm, aqm_gone, AP_MATRIX_IDS)) {
				found = g;
				break;
			}
		}
		if (!found) {
			mutex_unlock(&ap_matrix_lock);
			break;
		}
		old = found->m;
		new = old;
		bitmap_andnot(new.apm, old.apm, apm_gone, AP_MATRIX_IDS);
		bitmap_andnot(new.aqm, old.aqm, aqm_gone, AP_MATRIX_IDS);
		VM_EVENT(found->kvm, 3, "%s",
			 "AP matrix: adapters/domains left the host configuration");
		ap_matrix_commit(found, &new);
		mutex_unlock(&ap_matrix_lock);

		ap_matrix_hand_over(NULL, ops, &old, &new, false);
	}
}
EXPORT_SYMBOL_GPL(kvm_s390_ap_matrix_config_removed);

#if IS_ENABLED(CONFIG_KUNIT)
/* replace the registered host operations; returns the previous ones */
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

/* the owner table entry of @apqn */
void *kvm_s390_ap_matrix_owner(unsigned int apqn)
{
	void *entry;

	mutex_lock(&ap_matrix_lock);
	entry = xa_load(&ap_matrix_owners, apqn);
	mutex_unlock(&ap_matrix_lock);
	return entry;
}

/* true if no guest holds a matrix and no queue is claimed or resetting */
bool kvm_s390_ap_matrix_idle(void)
{
	bool idle;

	mutex_lock(&ap_matrix_lock);
	idle = list_empty(&ap_matrix_guests) && xa_empty(&ap_matrix_owners);
	mutex_unlock(&ap_matrix_lock);
	return idle;
}
#endif
