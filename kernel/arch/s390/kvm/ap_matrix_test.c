// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for KVM_S390_VM_CRYPTO_SET_AP_MATRIX (ap_matrix.c).
 *
 * The AP bus is replaced by fake host operations; a VM is a zeroed struct
 * kvm with a real CRYCB, so the real kvm_arch_crypto_set_masks() writes the
 * masks (there are no vCPUs to block).
 */

#include <kunit/test.h>
#include <linux/kvm_host.h>
#include <linux/mman.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>
#include <asm/debug.h>
#include <asm/kvm_ap_matrix.h>

#include "kvm-s390.h"
#include "ap_matrix.h"

#define APQN(apid, apqi)	((apid) << 8 | (apqi))
#define NR_APQNS		(256 * 256)

#define RC_NORMAL		0x00
#define RC_RESET_IN_PROGRESS	0x02
#define RC_BUSY			0x05
#define RC_STATE_CHANGE		0x0a
#define RC_ASSOC_FAILED		0x36

#define MAX_VMS			80
#define MAX_EVENTS		256

enum { EV_ZAPQ = 1, EV_TAPQ };

struct fake_event {
	u8 type;
	u16 apqn;
};

/* the fake AP bus */
struct fake_host {
	struct mutex lock;		/* plays ap_perms_mutex */
	unsigned int max_apid, max_apqi;
	DECLARE_BITMAP(unavailable, NR_APQNS);
	/* scripted answers, consumed in order, then the default */
	u8 zapq_script[8], tapq_script[8];
	unsigned int zapq_len, zapq_pos, tapq_len, tapq_pos;
	u8 zapq_default, tapq_default;
	struct fake_event ev[MAX_EVENTS];
	unsigned int nev, nzapq, ntapq;
	bool locked_in_reset;		/* ZAPQ/TAPQ seen under the lock */
	/* CRYCB of a VM, copied at the first ZAPQ */
	struct kvm_s390_crypto_cb *watch;
	struct kvm_s390_crypto_cb snap;
	bool snapped;
	void (*on_tapq)(unsigned int apqn);
};

struct apm_ctx {
	struct fake_host *fake;
	const struct kvm_s390_ap_host_ops *saved_ops;
	struct kvm_s390_ap_matrix_tunables saved_tunables;
	struct kvm *vms[MAX_VMS];
	unsigned int nvms;
	/* for the on_tapq hooks */
	struct kunit *test;
	struct kvm *other;
	int hook_rc;
	bool hook_in_use;
	unsigned int hook_calls;
};

static struct fake_host *fake;
static struct apm_ctx *ctx;

static int fake_lock(void)
{
	mutex_lock(&fake->lock);
	return 0;
}

static void fake_unlock(void)
{
	mutex_unlock(&fake->lock);
}

static void fake_config(struct kvm_s390_ap_host_config *cfg)
{
	unsigned int i;

	cfg->max_apid = fake->max_apid;
	cfg->max_apqi = fake->max_apqi;
	bitmap_zero(cfg->adm, 256);
	for (i = 0; i <= fake->max_apqi; i++)
		set_bit_inv(i, cfg->adm);
}

static int fake_available(unsigned int apqn)
{
	lockdep_assert_held(&fake->lock);
	return test_bit(apqn, fake->unavailable) ? -EADDRNOTAVAIL : 0;
}

static void fake_record(u8 type, unsigned int apqn)
{
	if (fake->nev < MAX_EVENTS) {
		fake->ev[fake->nev].type = type;
		fake->ev[fake->nev].apqn = apqn;
	}
	fake->nev++;
	if (mutex_is_locked(&fake->lock))
		fake->locked_in_reset = true;
}

static struct ap_queue_status fake_status(u8 rc)
{
	struct ap_queue_status status = { .response_code = rc };

	return status;
}

static struct ap_queue_status fake_zapq(unsigned int apqn)
{
	u8 rc = fake->zapq_default;

	if (fake->zapq_pos < fake->zapq_len)
		rc = fake->zapq_script[fake->zapq_pos++];
	fake_record(EV_ZAPQ, apqn);
	fake->nzapq++;
	if (fake->watch && !fake->snapped) {
		fake->snap = *fake->watch;
		fake->snapped = true;
	}
	return fake_status(rc);
}

static struct ap_queue_status fake_tapq(unsigned int apqn)
{
	u8 rc = fake->tapq_default;

	if (fake->tapq_pos < fake->tapq_len)
		rc = fake->tapq_script[fake->tapq_pos++];
	fake_record(EV_TAPQ, apqn);
	fake->ntapq++;
	if (fake->on_tapq)
		fake->on_tapq(apqn);
	return fake_status(rc);
}

static const struct kvm_s390_ap_host_ops fake_ops = {
	.owner = THIS_MODULE,
	.lock = fake_lock,
	.unlock = fake_unlock,
	.config = fake_config,
	.available = fake_available,
	.zapq = fake_zapq,
	.tapq = fake_tapq,
};

static int apm_test_init(struct kunit *test)
{
	ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ctx);
	fake = kunit_kzalloc(test, sizeof(*fake), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, fake);
	ctx->fake = fake;
	ctx->test = test;
	mutex_init(&fake->lock);
	fake->max_apid = 255;
	fake->max_apqi = 255;
	fake->zapq_default = RC_NORMAL;
	fake->tapq_default = RC_NORMAL;

	ctx->saved_tunables = kvm_s390_ap_matrix_tunables;
	kvm_s390_ap_matrix_tunables.interval_ms = 0;
	kvm_s390_ap_matrix_tunables.polls = 5;
	kvm_s390_ap_matrix_tunables.worker_polls = 0;
	ctx->saved_ops = kvm_s390_ap_matrix_swap_ops(&fake_ops);
	KUNIT_ASSERT_TRUE(test, kvm_s390_ap_matrix_idle());
	test->priv = ctx;
	return 0;
}

static void apm_vm_free(struct kvm *kvm)
{
	kvm_s390_ap_matrix_destroy(kvm);
	debug_unregister(kvm->arch.dbf);
	kfree(kvm->arch.crypto.crycb);
	kvfree(kvm);
}

static void apm_test_exit(struct kunit *test)
{
	unsigned int i;

	fake->on_tapq = NULL;
	fake->watch = NULL;
	fake->zapq_default = RC_NORMAL;
	fake->tapq_default = RC_NORMAL;
	fake->zapq_len = 0;
	fake->tapq_len = 0;
	for (i = 0; i < ctx->nvms; i++)
		if (ctx->vms[i])
			apm_vm_free(ctx->vms[i]);
	KUNIT_EXPECT_TRUE(test, kvm_s390_ap_matrix_idle());
	kvm_s390_ap_matrix_swap_ops(ctx->saved_ops);
	kvm_s390_ap_matrix_tunables = ctx->saved_tunables;
}

static struct lock_class_key apm_vm_keys[MAX_VMS];

/* a VM with a CRYCB of format @fmt (CRYCB_FORMAT0/1/2) */
static struct kvm *apm_vm(struct kunit *test, u32 fmt)
{
	static atomic_t seq = ATOMIC_INIT(0);
	struct kvm_s390_crypto_cb *crycb;
	char name[32];
	struct kvm *kvm;

	KUNIT_ASSERT_LT(test, ctx->nvms, MAX_VMS);
	kvm = kvzalloc(sizeof(*kvm), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, kvm);
	crycb = kzalloc(sizeof(*crycb), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, crycb);
	mutex_init(&kvm->lock);
	kvm_s390_ap_matrix_init_vm(kvm);
	/* SETs on different VMs nest in the fake TAPQ hooks */
	lockdep_set_class(&kvm->arch.crypto.ap_matrix_mutex,
			  &apm_vm_keys[ctx->nvms]);
	xa_init(&kvm->vcpu_array);
	snprintf(name, sizeof(name), "apm-test-%d", atomic_inc_return(&seq));
	kvm->arch.dbf = debug_register(name, 1, 1, 7 * sizeof(long));
	KUNIT_ASSERT_NOT_NULL(test, kvm->arch.dbf);
	kvm->arch.crypto.crycb = crycb;
	kvm->arch.crypto.crycbd = (u32)virt_to_phys(crycb);
	kvm->arch.crypto.crycbd &= ~CRYCB_FORMAT_MASK;
	kvm->arch.crypto.crycbd |= fmt;
	ctx->vms[ctx->nvms++] = kvm;
	return kvm;
}

static void apm_vm_destroy(struct kvm *kvm)
{
	unsigned int i;

	for (i = 0; i < ctx->nvms; i++)
		if (ctx->vms[i] == kvm)
			ctx->vms[i] = NULL;
	apm_vm_free(kvm);
}

static void mbit(__u64 *m, unsigned int id)
{
	m[id / 64] |= 1ULL << (63 - id % 64);
}

/* a matrix of one rectangle: adapters [a0, a1] x domains [d0, d1] */
static struct kvm_s390_ap_matrix mx(unsigned int a0, unsigned int a1,
				    unsigned int d0, unsigned int d1)
{
	struct kvm_s390_ap_matrix m;
	unsigned int i;

	memset(&m, 0, sizeof(m));
	for (i = a0; i <= a1; i++)
		mbit(m.apm, i);
	for (i = d0; i <= d1; i++)
		mbit(m.aqm, i);
	return m;
}

static struct kvm_s390_ap_matrix mx_empty(void)
{
	struct kvm_s390_ap_matrix m;

	memset(&m, 0, sizeof(m));
	return m;
}

static int set(struct kvm *kvm, struct kvm_s390_ap_matrix m, u32 flags)
{
	m.flags = flags;
	return kvm_s390_ap_matrix_set_matrix(kvm, &m, NULL);
}

static int validate(struct kvm *kvm, struct kvm_s390_ap_matrix m)
{
	return set(kvm, m, KVM_S390_AP_MATRIX_VALIDATE_ONLY);
}

/* is apqn in use according to the AP driver's in_use() check? */
static bool in_use(unsigned int apid, unsigned int apqi)
{
	unsigned long apm[4] = {}, aqm[4] = {};

	set_bit_inv(apid, apm);
	set_bit_inv(apqi, aqm);
	return kvm_s390_ap_matrix_in_use(apm, aqm);
}

static bool is_marker(void *entry, unsigned long marker)
{
	return xa_is_value(entry) && xa_to_value(entry) == marker;
}

static int get(struct kvm *kvm, struct kvm_s390_ap_matrix *out)
{
	struct kvm_device_attr attr = {
		.group = KVM_S390_VM_CRYPTO,
		.attr = KVM_S390_VM_CRYPTO_SET_AP_MATRIX,
	};
	unsigned long uaddr;
	int rc;

	uaddr = kunit_vm_mmap(ctx->test, NULL, 0, PAGE_SIZE,
			      PROT_READ | PROT_WRITE,
			      MAP_ANONYMOUS | MAP_PRIVATE, 0);
	if (IS_ERR_OR_NULL((void *)uaddr))
		return -ENOMEM;
	attr.addr = uaddr;
	rc = kvm_s390_ap_matrix_get(kvm, &attr);
	if (!rc && copy_from_user(out, (void __user *)uaddr, sizeof(*out)))
		return -EFAULT;
	return rc;
}

static void test_layout(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, sizeof(struct kvm_s390_ap_matrix), 136);
	KUNIT_EXPECT_EQ(test, offsetof(struct kvm_s390_ap_matrix, apm), 0);
	KUNIT_EXPECT_EQ(test, offsetof(struct kvm_s390_ap_matrix, aqm), 32);
	KUNIT_EXPECT_EQ(test, offsetof(struct kvm_s390_ap_matrix, adm), 64);
	KUNIT_EXPECT_EQ(test, offsetof(struct kvm_s390_ap_matrix, flags), 96);
	KUNIT_EXPECT_EQ(test, offsetof(struct kvm_s390_ap_matrix, grant_fd),
			100);
	KUNIT_EXPECT_EQ(test, offsetof(struct kvm_s390_ap_matrix, reserved),
			104);
	KUNIT_EXPECT_EQ(test, KVM_S390_VM_CRYPTO_SET_AP_MATRIX, 6);
	KUNIT_EXPECT_EQ(test, KVM_S390_AP_MATRIX_VALIDATE_ONLY, 1U);
	KUNIT_EXPECT_EQ(test, KVM_S390_AP_MATRIX_RESET, 2U);
	KUNIT_EXPECT_EQ(test, KVM_S390_AP_MATRIX_GRANT, 4U);
}

static void test_rule_einval(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm_s390_ap_matrix m = mx(1, 1, 1, 1);
	unsigned int i;

	KUNIT_EXPECT_EQ(test, set(a, m, 1U << 3), -EINVAL);
	KUNIT_EXPECT_EQ(test, set(a, m, 1U << 31), -EINVAL);
	for (i = 0; i < ARRAY_SIZE(m.reserved); i++) {
		m = mx(1, 1, 1, 1);
		m.reserved[i] = 1;
		KUNIT_EXPECT_EQ(test, set(a, m, 0), -EINVAL);
	}
	KUNIT_EXPECT_NULL(test, kvm_s390_ap_matrix_owner(APQN(1, 1)));
	KUNIT_EXPECT_EQ(test, fake->nzapq, 0);
}

static void test_rule_eopnotsupp_and_has(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);

	KUNIT_EXPECT_EQ(test, kvm_s390_ap_matrix_has(), 0);
	kvm_s390_ap_matrix_swap_ops(NULL);
	KUNIT_EXPECT_EQ(test, kvm_s390_ap_matrix_has(), -ENXIO);
	KUNIT_EXPECT_EQ(test, set(a, mx(1, 1, 1, 1), 0), -EOPNOTSUPP);
	KUNIT_EXPECT_EQ(test, validate(a, mx(1, 1, 1, 1)), -EOPNOTSUPP);
	/* a second driver cannot register over the first */
	KUNIT_EXPECT_EQ(test, kvm_s390_ap_matrix_register(&fake_ops), 0);
	KUNIT_EXPECT_EQ(test, kvm_s390_ap_matrix_register(&fake_ops), -EBUSY);
	KUNIT_EXPECT_EQ(test, kvm_s390_ap_matrix_has(), 0);
	kvm_s390_ap_matrix_unregister(&fake_ops);
	KUNIT_EXPECT_EQ(test, kvm_s390_ap_matrix_has(), -ENXIO);
	kvm_s390_ap_matrix_swap_ops(&fake_ops);
	KUNIT_EXPECT_EQ(test, set(a, mx(1, 1, 1, 1), 0), 0);
}

static void test_rule_enodev_host_limits(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm_s390_ap_matrix m;

	fake->max_apid = 10;
	fake->max_apqi = 5;
	KUNIT_EXPECT_EQ(test, set(a, mx(11, 11, 0, 0), 0), -ENODEV);
	KUNIT_EXPECT_EQ(test, set(a, mx(0, 0, 6, 6), 0), -ENODEV);
	m = mx(0, 0, 0, 0);
	mbit(m.adm, 6);
	KUNIT_EXPECT_EQ(test, set(a, m, 0), -ENODEV);
	/* an adapter alone, with no domain, is range checked too */
	KUNIT_EXPECT_EQ(test, set(a, mx(200, 200, 0, 0), 0), -ENODEV);
	m = mx(10, 10, 5, 5);
	mbit(m.adm, 5);
	KUNIT_EXPECT_EQ(test, set(a, m, 0), 0);
	KUNIT_EXPECT_PTR_EQ(test, kvm_s390_ap_matrix_owner(APQN(10, 5)),
			    (void *)a);
}

/* CRYCB formats 0 and 1 hold APIDs 0..63 and APQIs 0..15, format 2 all */
static void test_crycb_format_limits(struct kunit *test)
{
	u32 fmts[] = { CRYCB_FORMAT0, CRYCB_FORMAT1 };
	struct kvm_s390_ap_matrix m;
	struct kvm *vm, *b;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(fmts); i++) {
		vm = apm_vm(test, fmts[i]);
		KUNIT_EXPECT_EQ(test, set(vm, mx(64, 64, 0, 0), 0), -ENODEV);
		KUNIT_EXPECT_EQ(test, set(vm, mx(0, 0, 16, 16), 0), -ENODEV);
		m = mx(0, 0, 0, 0);
		mbit(m.adm, 16);
		KUNIT_EXPECT_EQ(test, set(vm, m, 0), -ENODEV);
		KUNIT_EXPECT_EQ(test, set(vm, mx(63, 63, 15 - i, 15 - i), 0),
				0);
		KUNIT_EXPECT_EQ(test, vm->arch.crypto.crycb->apcb0.apm[0], 1ULL);
		KUNIT_EXPECT_EQ(test,
				*(u16 *)vm->arch.crypto.crycb->apcb0.aqm,
				1U << i);
	}
	b = apm_vm(test, CRYCB_FORMAT2);
	m = mx(64, 64, 16, 16);
	mbit(m.apm, 255);
	mbit(m.aqm, 255);
	mbit(m.adm, 255);
	KUNIT_EXPECT_EQ(test, set(b, m, 0), 0);
	KUNIT_EXPECT_EQ(test, b->arch.crypto.crycb->apcb1.apm[1],
			1ULL << 63);
	KUNIT_EXPECT_EQ(test, b->arch.crypto.crycb->apcb1.apm[3], 1ULL);
	KUNIT_EXPECT_EQ(test, b->arch.crypto.crycb->apcb1.aqm[0],
			1ULL << (63 - 16));
	KUNIT_EXPECT_EQ(test, b->arch.crypto.crycb->apcb1.adm[3], 1ULL);
	KUNIT_EXPECT_PTR_EQ(test, kvm_s390_ap_matrix_owner(APQN(255, 255)),
			    (void *)b);
}

static void test_rule_eaddrnotavail(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm_s390_ap_matrix m;

	/* e.g. bound to vfio_ap, or still owned by the default drivers */
	set_bit(APQN(2, 3), fake->unavailable);
	KUNIT_EXPECT_EQ(test, set(a, mx(1, 2, 3, 3), 0), -EADDRNOTAVAIL);
	KUNIT_EXPECT_EQ(test, validate(a, mx(2, 2, 3, 3)), -EADDRNOTAVAIL);
	KUNIT_EXPECT_NULL(test, kvm_s390_ap_matrix_owner(APQN(1, 3)));
	/* control domains are only range checked */
	m = mx(1, 1, 2, 2);
	mbit(m.adm, 3);
	KUNIT_EXPECT_EQ(test, set(a, m, 0), 0);
}

static void test_rule_eaddrinuse_shared_control(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *b = apm_vm(test, CRYCB_FORMAT2);
	struct kvm_s390_ap_matrix m;

	m = mx(1, 1, 1, 1);
	mbit(m.adm, 7);
	KUNIT_EXPECT_EQ(test, set(a, m, 0), 0);
	KUNIT_EXPECT_EQ(test, set(b, mx(0, 1, 0, 1), 0), -EADDRINUSE);
	KUNIT_EXPECT_EQ(test, validate(b, mx(1, 1, 1, 1)), -EADDRINUSE);
	/* same control domain, different usage queue: fine */
	m = mx(1, 1, 2, 2);
	mbit(m.adm, 7);
	KUNIT_EXPECT_EQ(test, set(b, m, 0), 0);
	/* setting its own matrix again is not a conflict */
	KUNIT_EXPECT_EQ(test, set(a, mx(1, 1, 1, 1), 0), 0);
	KUNIT_EXPECT_EQ(test, fake->nzapq, 0);
}

static void hook_set_other(unsigned int apqn)
{
	struct kvm_s390_ap_matrix m = mx(apqn >> 8, apqn >> 8,
					 apqn & 0xff, apqn & 0xff);

	ctx->hook_calls++;
	ctx->hook_rc = set(ctx->other, m, 0);
	ctx->hook_in_use = in_use(apqn >> 8, apqn & 0xff);
}

/* while a queue that left A is being reset, B's claim gets EBUSY */
static void test_rule_ebusy_during_reset(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *b = apm_vm(test, CRYCB_FORMAT2);

	KUNIT_ASSERT_EQ(test, set(a, mx(4, 4, 1, 1), 0), 0);
	ctx->other = b;
	ctx->hook_rc = 1;
	fake->on_tapq = hook_set_other;
	KUNIT_EXPECT_EQ(test, set(a, mx_empty(), 0), 0);
	fake->on_tapq = NULL;
	KUNIT_EXPECT_EQ(test, ctx->hook_calls, 1);
	KUNIT_EXPECT_EQ(test, ctx->hook_rc, -EBUSY);
	KUNIT_EXPECT_TRUE(test, ctx->hook_in_use);
	KUNIT_EXPECT_FALSE(test, fake->locked_in_reset);
	/* released once the reset finished */
	KUNIT_EXPECT_NULL(test, kvm_s390_ap_matrix_owner(APQN(4, 1)));
	KUNIT_EXPECT_EQ(test, set(b, mx(4, 4, 1, 1), 0), 0);
}

/* a request that breaks several rules gets the errno of the first */
static void test_rule_order(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *b = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *f1 = apm_vm(test, CRYCB_FORMAT1);
	struct kvm_s390_ap_matrix m;

	/* 3.1 FAILED (its reset never finished), 4.1 elsewhere, 5.1 A's */
	KUNIT_ASSERT_EQ(test, set(b, mx(3, 3, 1, 1), 0), 0);
	fake->tapq_default = RC_RESET_IN_PROGRESS;
	KUNIT_ASSERT_EQ(test, set(b, mx_empty(), 0), 0);
	fake->tapq_default = RC_NORMAL;
	KUNIT_ASSERT_TRUE(test,
			  is_marker(kvm_s390_ap_matrix_owner(APQN(3, 1)),
				    KVM_S390_AP_MATRIX_FAILED));
	set_bit(APQN(4, 1), fake->unavailable);
	KUNIT_ASSERT_EQ(test, set(a, mx(5, 5, 1, 1), 0), 0);

	/* EINVAL before EOPNOTSUPP */
	kvm_s390_ap_matrix_swap_ops(NULL);
	KUNIT_EXPECT_EQ(test, set(f1, mx(64, 64, 0, 0), 1U << 5), -EINVAL);
	/* EOPNOTSUPP before ENODEV */
	KUNIT_EXPECT_EQ(test, set(f1, mx(64, 64, 0, 0), 0), -EOPNOTSUPP);
	kvm_s390_ap_matrix_swap_ops(&fake_ops);
	/* ENODEV before EADDRNOTAVAIL, EADDRINUSE, EBUSY */
	m = mx(3, 5, 1, 1);
	mbit(m.apm, 64);
	KUNIT_EXPECT_EQ(test, set(f1, m, 0), -ENODEV);
	/* EADDRNOTAVAIL before EBUSY and EADDRINUSE, whatever comes first */
	KUNIT_EXPECT_EQ(test, set(b, mx(3, 5, 1, 1), 0), -EADDRNOTAVAIL);
	/* EADDRINUSE before EBUSY although the busy 3.1 comes first */
	m = mx(3, 3, 1, 1);
	mbit(m.apm, 5);
	KUNIT_EXPECT_EQ(test, set(b, m, 0), -EADDRINUSE);
	KUNIT_EXPECT_EQ(test, set(b, mx(3, 3, 1, 1), 0), -EBUSY);
	KUNIT_EXPECT_EQ(test, validate(b, mx(3, 3, 1, 1)), -EBUSY);

	/* unbinding does not forget a failed reset, probing resets again */
	kvm_s390_ap_matrix_queue_removed(APQN(3, 1));
	kvm_s390_ap_matrix_flush();
	KUNIT_EXPECT_TRUE(test,
			  is_marker(kvm_s390_ap_matrix_owner(APQN(3, 1)),
				    KVM_S390_AP_MATRIX_FAILED));
	kvm_s390_ap_matrix_queue_probed(APQN(3, 1));
	kvm_s390_ap_matrix_flush();
	KUNIT_EXPECT_NULL(test, kvm_s390_ap_matrix_owner(APQN(3, 1)));
}

static void test_validate_only(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *b = apm_vm(test, CRYCB_FORMAT2);
	struct kvm_s390_crypto_cb before;
	struct kvm_s390_ap_matrix g;

	KUNIT_ASSERT_EQ(test, set(a, mx(1, 1, 1, 2), 0), 0);
	before = *a->arch.crypto.crycb;
	KUNIT_EXPECT_EQ(test, validate(a, mx(5, 6, 5, 6)), 0);
	KUNIT_EXPECT_EQ(test, set(a, mx(5, 6, 5, 6),
				  KVM_S390_AP_MATRIX_VALIDATE_ONLY |
				  KVM_S390_AP_MATRIX_RESET), 0);
	KUNIT_EXPECT_EQ(test, validate(a, mx_empty()), 0);
	KUNIT_EXPECT_EQ(test, memcmp(&before, a->arch.crypto.crycb,
				     sizeof(before)), 0);
	KUNIT_EXPECT_NULL(test, kvm_s390_ap_matrix_owner(APQN(5, 5)));
	KUNIT_EXPECT_PTR_EQ(test, kvm_s390_ap_matrix_owner(APQN(1, 2)),
			    (void *)a);
	KUNIT_EXPECT_EQ(test, fake->nzapq, 0);
	KUNIT_ASSERT_EQ(test, get(a, &g), 0);
	KUNIT_EXPECT_EQ(test, g.apm[0], 1ULL << 62);
	/* a refused probe is refused with the real errno */
	KUNIT_EXPECT_EQ(test, validate(b, mx(1, 1, 1, 1)), -EADDRINUSE);
	KUNIT_EXPECT_EQ(test, set(b, mx(5, 6, 5, 6), 0), 0);
}

/* RESET zeroizes every queue of the new matrix, also those kept */
static void test_reset_flag(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *b = apm_vm(test, CRYCB_FORMAT2);
	unsigned int i;

	KUNIT_ASSERT_EQ(test, set(a, mx(1, 1, 1, 2), 0), 0);
	KUNIT_EXPECT_EQ(test, fake->nzapq, 0);
	KUNIT_EXPECT_EQ(test, set(a, mx(1, 2, 1, 2),
				  KVM_S390_AP_MATRIX_RESET), 0);
	KUNIT_EXPECT_EQ(test, fake->nzapq, 4);
	for (i = 0; i < 4; i++) {
		KUNIT_EXPECT_EQ(test, fake->ev[i].type, EV_ZAPQ);
		KUNIT_EXPECT_EQ(test, fake->ev[i].apqn,
				APQN(1 + i / 2, 1 + i % 2));
	}
	/* still the VM's */
	for (i = 0; i < 4; i++)
		KUNIT_EXPECT_PTR_EQ(test,
				    kvm_s390_ap_matrix_owner(APQN(1 + i / 2,
								  1 + i % 2)),
				    (void *)a);
	KUNIT_EXPECT_EQ(test, set(b, mx(2, 2, 2, 2), 0), -EADDRINUSE);
	/* without RESET, kept queues are not touched */
	fake->nzapq = 0;
	KUNIT_EXPECT_EQ(test, set(a, mx(1, 2, 1, 2), 0), 0);
	KUNIT_EXPECT_EQ(test, fake->nzapq, 0);
}

/* a refused request leaves owner table and CRYCB exactly as before */
static void test_atomic_refusal(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *b = apm_vm(test, CRYCB_FORMAT2);
	struct kvm_s390_crypto_cb crycb_a, crycb_b;
	struct kvm_s390_ap_matrix m;
	void **owners, *entry;
	unsigned int apqn, diffs = 0;

	owners = kunit_kcalloc(test, NR_APQNS, sizeof(*owners), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, owners);
	KUNIT_ASSERT_EQ(test, set(a, mx(1, 4, 1, 4), 0), 0);
	KUNIT_ASSERT_EQ(test, set(b, mx(9, 9, 9, 9), 0), 0);
	for (apqn = 0; apqn < NR_APQNS; apqn++)
		owners[apqn] = kvm_s390_ap_matrix_owner(apqn);
	crycb_a = *a->arch.crypto.crycb;
	crycb_b = *b->arch.crypto.crycb;

	/* A asks for much more, including B's 9.9 at the very end */
	KUNIT_EXPECT_EQ(test, set(a, mx(1, 9, 1, 9), 0), -EADDRINUSE);
	/* ... and a queue bound elsewhere */
	set_bit(APQN(8, 8), fake->unavailable);
	KUNIT_EXPECT_EQ(test, set(a, mx(5, 8, 5, 8),
				  KVM_S390_AP_MATRIX_RESET), -EADDRNOTAVAIL);
	m = mx(1, 4, 1, 4);
	mbit(m.aqm, 200);
	fake->max_apqi = 100;
	KUNIT_EXPECT_EQ(test, set(a, m, 0), -ENODEV);

	for (apqn = 0; apqn < NR_APQNS; apqn++) {
		entry = kvm_s390_ap_matrix_owner(apqn);
		if (entry != owners[apqn])
			diffs++;
	}
	KUNIT_EXPECT_EQ(test, diffs, 0);
	KUNIT_EXPECT_EQ(test, memcmp(&crycb_a, a->arch.crypto.crycb,
				     sizeof(crycb_a)), 0);
	KUNIT_EXPECT_EQ(test, memcmp(&crycb_b, b->arch.crypto.crycb,
				     sizeof(crycb_b)), 0);
	KUNIT_EXPECT_EQ(test, fake->nzapq, 0);
}

static void test_two_vms(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *b = apm_vm(test, CRYCB_FORMAT2);

	KUNIT_EXPECT_EQ(test, set(a, mx(1, 2, 1, 2), 0), 0);
	KUNIT_EXPECT_EQ(test, set(b, mx(2, 3, 2, 3), 0), -EADDRINUSE);
	KUNIT_EXPECT_EQ(test, set(b, mx(3, 3, 1, 3), 0), 0);
	/* A gives 2.x back, B takes it */
	KUNIT_EXPECT_EQ(test, set(a, mx(1, 1, 1, 2), 0), 0);
	KUNIT_EXPECT_EQ(test, fake->nzapq, 2);
	KUNIT_EXPECT_EQ(test, set(b, mx(2, 3, 2, 3), 0), 0);
	KUNIT_EXPECT_NULL(test, kvm_s390_ap_matrix_owner(APQN(3, 1)));
	KUNIT_EXPECT_PTR_EQ(test, kvm_s390_ap_matrix_owner(APQN(2, 2)),
			    (void *)b);
}

/* 64 VMs, each with its own adapter, then all move one adapter on */
static void test_many_vms(struct kunit *test)
{
	struct kvm_s390_ap_matrix g;
	struct kvm *vm[64];
	unsigned int i;

	for (i = 0; i < 64; i++)
		vm[i] = apm_vm(test, CRYCB_FORMAT2);
	for (i = 0; i < 64; i++)
		KUNIT_EXPECT_EQ(test, set(vm[i], mx(i, i, 0, 3), 0), 0);
	for (i = 0; i < 64; i++)
		KUNIT_EXPECT_EQ(test, validate(vm[i],
					       mx((i + 1) % 64, (i + 1) % 64,
						  3, 3)),
				-EADDRINUSE);
	/* everybody releases domain 3, then takes the next adapter's */
	for (i = 0; i < 64; i++)
		KUNIT_EXPECT_EQ(test, set(vm[i], mx(i, i, 0, 2), 0), 0);
	for (i = 0; i < 64; i++) {
		struct kvm_s390_ap_matrix m = mx(i, i, 0, 2);

		mbit(m.apm, (i + 1) % 64);
		KUNIT_EXPECT_EQ(test, set(vm[i], m, 0), -EADDRINUSE);
	}
	for (i = 0; i < 64; i++)
		KUNIT_EXPECT_EQ(test, set(vm[i], mx(64 + i, 64 + i, 3, 3), 0),
				0);
	for (i = 0; i < 64; i++) {
		KUNIT_ASSERT_EQ(test, get(vm[i], &g), 0);
		KUNIT_EXPECT_EQ(test, g.apm[1], 1ULL << (63 - i));
		KUNIT_EXPECT_EQ(test, g.aqm[0], 1ULL << 60);
	}
	KUNIT_EXPECT_EQ(test, fake->nzapq, 64 * 4);
	for (i = 0; i < 64; i++)
		apm_vm_destroy(vm[i]);
	KUNIT_EXPECT_TRUE(test, kvm_s390_ap_matrix_idle());
}

static void test_release_by_empty_matrix(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *b = apm_vm(test, CRYCB_FORMAT2);
	struct kvm_s390_crypto_cb zero;
	struct kvm_s390_ap_matrix m, g;

	m = mx(1, 2, 3, 4);
	mbit(m.adm, 5);
	KUNIT_ASSERT_EQ(test, set(a, m, 0), 0);
	KUNIT_EXPECT_EQ(test, set(a, mx_empty(), 0), 0);
	KUNIT_EXPECT_EQ(test, fake->nzapq, 4);
	memset(&zero, 0, sizeof(zero));
	KUNIT_EXPECT_EQ(test, memcmp(&a->arch.crypto.crycb->apcb1,
				     &zero.apcb1, sizeof(zero.apcb1)), 0);
	KUNIT_ASSERT_EQ(test, get(a, &g), 0);
	KUNIT_EXPECT_EQ(test, g.apm[0] | g.aqm[0] | g.adm[0], 0);
	KUNIT_EXPECT_EQ(test, set(b, mx(1, 2, 3, 4), 0), 0);
	/* an empty matrix on a VM that never had one changes nothing */
	KUNIT_EXPECT_EQ(test, set(apm_vm(test, CRYCB_FORMAT2), mx_empty(), 0),
			0);
}

/* the CRYCB gets the architecture's MSB0 bit order */
static void test_bit_order(struct kunit *test)
{
	struct kvm *f2 = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *f1 = apm_vm(test, CRYCB_FORMAT1);
	struct kvm_s390_ap_matrix m;
	u8 *apm, *aqm, *adm;

	m = mx(0, 0, 4, 4);
	mbit(m.apm, 5);
	mbit(m.adm, 9);
	KUNIT_ASSERT_EQ(test, set(f2, m, 0), 0);
	apm = (u8 *)f2->arch.crypto.crycb->apcb1.apm;
	aqm = (u8 *)f2->arch.crypto.crycb->apcb1.aqm;
	adm = (u8 *)f2->arch.crypto.crycb->apcb1.adm;
	KUNIT_EXPECT_EQ(test, apm[0], 0x84);
	KUNIT_EXPECT_EQ(test, aqm[0], 0x08);
	KUNIT_EXPECT_EQ(test, adm[0], 0x00);
	KUNIT_EXPECT_EQ(test, adm[1], 0x40);

	m = mx(8, 8, 13, 13);
	mbit(m.adm, 0);
	KUNIT_ASSERT_EQ(test, set(f1, m, 0), 0);
	apm = (u8 *)f1->arch.crypto.crycb->apcb0.apm;
	aqm = (u8 *)f1->arch.crypto.crycb->apcb0.aqm;
	adm = (u8 *)f1->arch.crypto.crycb->apcb0.adm;
	KUNIT_EXPECT_EQ(test, apm[0], 0x00);
	KUNIT_EXPECT_EQ(test, apm[1], 0x80);
	KUNIT_EXPECT_EQ(test, aqm[1], 0x04);
	KUNIT_EXPECT_EQ(test, adm[0], 0x80);
}

static void test_get_round_trip(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm_device_attr attr = {
		.group = KVM_S390_VM_CRYPTO,
		.attr = KVM_S390_VM_CRYPTO_SET_AP_MATRIX,
	};
	struct kvm_s390_ap_matrix m, g, back;
	unsigned long uaddr;

	KUNIT_ASSERT_EQ(test, get(a, &g), 0);
	KUNIT_EXPECT_NULL(test, memchr_inv(&g, 0, sizeof(g)));

	m = mx(3, 7, 0, 15);
	mbit(m.apm, 130);
	mbit(m.aqm, 255);
	mbit(m.adm, 1);
	mbit(m.adm, 200);
	m.flags = KVM_S390_AP_MATRIX_RESET;

	/* through userspace memory, as the ioctl does */
	uaddr = kunit_vm_mmap(test, NULL, 0, PAGE_SIZE,
			      PROT_READ | PROT_WRITE,
			      MAP_ANONYMOUS | MAP_PRIVATE, 0);
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL((void *)uaddr));
	KUNIT_ASSERT_EQ(test, copy_to_user((void __user *)uaddr, &m,
					   sizeof(m)), 0);
	attr.addr = uaddr;
	KUNIT_EXPECT_EQ(test, kvm_s390_ap_matrix_set(a, &attr), 0);
	/* SET never writes the payload back */
	KUNIT_ASSERT_EQ(test, copy_from_user(&back, (void __user *)uaddr,
					     sizeof(back)), 0);
	KUNIT_EXPECT_EQ(test, memcmp(&back, &m, sizeof(m)), 0);

	KUNIT_ASSERT_EQ(test, get(a, &g), 0);
	KUNIT_EXPECT_EQ(test, memcmp(g.apm, m.apm, sizeof(m.apm)), 0);
	KUNIT_EXPECT_EQ(test, memcmp(g.aqm, m.aqm, sizeof(m.aqm)), 0);
	KUNIT_EXPECT_EQ(test, memcmp(g.adm, m.adm, sizeof(m.adm)), 0);
	KUNIT_EXPECT_EQ(test, g.flags, 0);
	KUNIT_EXPECT_NULL(test, memchr_inv(g.reserved, 0, sizeof(g.reserved)));

	/* a bad address, other attributes of the group */
	attr.addr = 0;
	KUNIT_EXPECT_EQ(test, kvm_s390_ap_matrix_set(a, &attr), -EFAULT);
	KUNIT_EXPECT_EQ(test, kvm_s390_ap_matrix_get(a, &attr), -EFAULT);
	attr.addr = uaddr;
	attr.attr = KVM_S390_VM_CRYPTO_ENABLE_APIE;
	KUNIT_EXPECT_EQ(test, kvm_s390_ap_matrix_get(a, &attr), -ENXIO);
	KUNIT_EXPECT_EQ(test, kvm_s390_ap_matrix_set(a, &attr), -ENXIO);
}

/* hand-over: masks first, then ZAPQ, wait, then release */
static void test_handover_order(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *b = apm_vm(test, CRYCB_FORMAT2);

	KUNIT_ASSERT_EQ(test, set(a, mx(1, 1, 1, 2), 0), 0);
	fake->watch = a->arch.crypto.crycb;
	ctx->other = b;
	fake->on_tapq = hook_set_other;
	KUNIT_EXPECT_EQ(test, set(a, mx(1, 1, 1, 1), 0), 0);
	fake->on_tapq = NULL;

	/* at the first ZAPQ, the guest no longer had domain 2 */
	KUNIT_ASSERT_TRUE(test, fake->snapped);
	KUNIT_EXPECT_EQ(test, fake->snap.apcb1.aqm[0], 1ULL << 62);
	KUNIT_ASSERT_EQ(test, fake->nev, 2);
	KUNIT_EXPECT_EQ(test, fake->ev[0].type, EV_ZAPQ);
	KUNIT_EXPECT_EQ(test, fake->ev[0].apqn, APQN(1, 2));
	KUNIT_EXPECT_EQ(test, fake->ev[1].type, EV_TAPQ);
	KUNIT_EXPECT_EQ(test, fake->ev[1].apqn, APQN(1, 2));
	/* not claimable before the reset finished, claimable after */
	KUNIT_EXPECT_EQ(test, ctx->hook_rc, -EBUSY);
	KUNIT_EXPECT_FALSE(test, fake->locked_in_reset);
	KUNIT_EXPECT_EQ(test, set(b, mx(1, 1, 2, 2), 0), 0);
}

/* the wait is bounded; a reset that never finishes leaves the queue FAILED */
static void test_reset_bound_failed(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *b = apm_vm(test, CRYCB_FORMAT2);

	kvm_s390_ap_matrix_tunables.polls = 3;
	KUNIT_ASSERT_EQ(test, set(a, mx(1, 1, 1, 1), 0), 0);
	fake->tapq_default = RC_RESET_IN_PROGRESS;
	KUNIT_EXPECT_EQ(test, set(a, mx_empty(), 0), 0);
	KUNIT_EXPECT_EQ(test, fake->nzapq, 1);
	KUNIT_EXPECT_EQ(test, fake->ntapq, 3);
	KUNIT_EXPECT_TRUE(test,
			  is_marker(kvm_s390_ap_matrix_owner(APQN(1, 1)),
				    KVM_S390_AP_MATRIX_FAILED));
	fake->tapq_default = RC_NORMAL;
	KUNIT_EXPECT_EQ(test, set(b, mx(1, 1, 1, 1), 0), -EBUSY);
	KUNIT_EXPECT_EQ(test, set(a, mx(1, 1, 1, 1), 0), -EBUSY);
	/* the host may take a failed queue back: it is not in use */
	KUNIT_EXPECT_FALSE(test, in_use(1, 1));
	/* unbinding it does not forget the failure, probing resets it */
	kvm_s390_ap_matrix_queue_removed(APQN(1, 1));
	KUNIT_EXPECT_EQ(test, set(b, mx(1, 1, 1, 1), 0), -EBUSY);
	kvm_s390_ap_matrix_queue_probed(APQN(1, 1));
	kvm_s390_ap_matrix_flush();
	KUNIT_EXPECT_EQ(test, set(b, mx(1, 1, 1, 1), 0), 0);

	/* a ZAPQ that fails outright also leaves the queue FAILED */
	fake->zapq_default = 0x06;	/* invalid address */
	KUNIT_EXPECT_EQ(test, set(b, mx_empty(), 0), 0);
	KUNIT_EXPECT_TRUE(test,
			  is_marker(kvm_s390_ap_matrix_owner(APQN(1, 1)),
				    KVM_S390_AP_MATRIX_FAILED));
	fake->zapq_default = RC_NORMAL;
	kvm_s390_ap_matrix_queue_probed(APQN(1, 1));
	kvm_s390_ap_matrix_flush();
	KUNIT_EXPECT_NULL(test, kvm_s390_ap_matrix_owner(APQN(1, 1)));
}

/* a queue busy with a Secure Execution association gets ZAPQ again */
static void test_se_reissue(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	static const u8 expect[] = { EV_ZAPQ, EV_TAPQ, EV_ZAPQ, EV_TAPQ };
	unsigned int i;

	/* ZAPQ: "being associated" (state change in progress), then normal */
	KUNIT_ASSERT_EQ(test, set(a, mx(2, 2, 2, 2), 0), 0);
	fake->zapq_script[0] = RC_STATE_CHANGE;
	fake->zapq_len = 1;
	KUNIT_EXPECT_EQ(test, set(a, mx_empty(), 0), 0);
	KUNIT_ASSERT_EQ(test, fake->nev, ARRAY_SIZE(expect));
	for (i = 0; i < ARRAY_SIZE(expect); i++) {
		KUNIT_EXPECT_EQ(test, fake->ev[i].type, expect[i]);
		KUNIT_EXPECT_EQ(test, fake->ev[i].apqn, APQN(2, 2));
	}
	KUNIT_EXPECT_NULL(test, kvm_s390_ap_matrix_owner(APQN(2, 2)));

	/* TAPQ: association failed, sticks until reset: ZAPQ again */
	fake->nev = 0;
	fake->nzapq = 0;
	KUNIT_ASSERT_EQ(test, set(a, mx(2, 2, 2, 2), 0), 0);
	fake->tapq_script[0] = RC_ASSOC_FAILED;
	fake->tapq_len = 1;
	fake->tapq_pos = 0;
	KUNIT_EXPECT_EQ(test, set(a, mx_empty(), 0), 0);
	KUNIT_EXPECT_EQ(test, fake->nzapq, 2);
	KUNIT_EXPECT_NULL(test, kvm_s390_ap_matrix_owner(APQN(2, 2)));

	/* ZAPQ found the queue busy: ZAPQ again once it is idle */
	fake->nzapq = 0;
	KUNIT_ASSERT_EQ(test, set(a, mx(2, 2, 2, 2), 0), 0);
	fake->zapq_script[0] = RC_BUSY;
	fake->zapq_len = 1;
	fake->zapq_pos = 0;
	KUNIT_EXPECT_EQ(test, set(a, mx_empty(), 0), 0);
	KUNIT_EXPECT_EQ(test, fake->nzapq, 2);
	KUNIT_EXPECT_NULL(test, kvm_s390_ap_matrix_owner(APQN(2, 2)));
}

static void hook_remove(unsigned int apqn)
{
	ctx->hook_calls++;
	if (ctx->hook_calls == 1)
		kvm_s390_ap_matrix_queue_removed(apqn);
	else if (ctx->hook_calls == 2)
		ctx->hook_rc = set(ctx->other, mx(apqn >> 8, apqn >> 8,
						  apqn & 0xff, apqn & 0xff), 0);
}

static void hook_config_removed(unsigned int apqn)
{
	unsigned long apm[4] = {}, aqm[4] = {}, adm[4] = {};

	ctx->hook_calls++;
	if (ctx->hook_calls == 1) {
		set_bit_inv(apqn >> 8, apm);
		kvm_s390_ap_matrix_config_removed(apm, aqm, adm);
	}
}

/* a queue that leaves the driver/host during its reset is freed after it */
static void test_removed_during_reset(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *b = apm_vm(test, CRYCB_FORMAT2);

	kvm_s390_ap_matrix_tunables.polls = 3;
	KUNIT_ASSERT_EQ(test, set(a, mx(1, 1, 1, 1), 0), 0);
	fake->tapq_default = RC_RESET_IN_PROGRESS;
	ctx->other = b;
	fake->on_tapq = hook_remove;
	KUNIT_EXPECT_EQ(test, set(a, mx_empty(), 0), 0);
	fake->on_tapq = NULL;
	/* still resetting after its removal: not claimable yet */
	KUNIT_EXPECT_EQ(test, ctx->hook_rc, -EBUSY);
	/* its reset never completed: failed, although it left the driver */
	KUNIT_EXPECT_TRUE(test,
			  is_marker(kvm_s390_ap_matrix_owner(APQN(1, 1)),
				    KVM_S390_AP_MATRIX_FAILED));

	/* the same when the adapter leaves the host configuration */
	KUNIT_ASSERT_EQ(test, set(a, mx(2, 2, 1, 1), 0), 0);
	ctx->hook_calls = 0;
	fake->on_tapq = hook_config_removed;
	KUNIT_EXPECT_EQ(test, set(a, mx_empty(), 0), 0);
	fake->on_tapq = NULL;
	KUNIT_EXPECT_TRUE(test,
			  is_marker(kvm_s390_ap_matrix_owner(APQN(2, 1)),
				    KVM_S390_AP_MATRIX_FAILED));
	fake->tapq_default = RC_NORMAL;
	KUNIT_EXPECT_EQ(test, set(b, mx(1, 2, 1, 1), 0), -EBUSY);
	/* back in the driver: reset again, then free */
	kvm_s390_ap_matrix_queue_probed(APQN(1, 1));
	kvm_s390_ap_matrix_queue_probed(APQN(2, 1));
	kvm_s390_ap_matrix_flush();
	KUNIT_EXPECT_EQ(test, set(b, mx(1, 2, 1, 1), 0), 0);
}

static void test_destroy_releases(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *b = apm_vm(test, CRYCB_FORMAT2);

	KUNIT_ASSERT_EQ(test, set(a, mx(1, 3, 1, 2), 0), 0);
	KUNIT_EXPECT_EQ(test, set(b, mx(2, 2, 2, 2), 0), -EADDRINUSE);
	apm_vm_destroy(a);
	KUNIT_EXPECT_EQ(test, fake->nzapq, 6);
	KUNIT_EXPECT_FALSE(test, in_use(2, 2));
	KUNIT_EXPECT_EQ(test, set(b, mx(1, 3, 1, 2), 0), 0);
	apm_vm_destroy(b);
	KUNIT_EXPECT_TRUE(test, kvm_s390_ap_matrix_idle());
}

/* the AP driver's in_use() veto against apmask/aqmask writes */
static void test_in_use(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *b = apm_vm(test, CRYCB_FORMAT2);
	unsigned long apm[4] = {}, aqm[4] = {};

	KUNIT_ASSERT_EQ(test, set(a, mx(1, 1, 1, 2), 0), 0);
	KUNIT_EXPECT_TRUE(test, in_use(1, 1));
	KUNIT_EXPECT_TRUE(test, in_use(1, 2));
	KUNIT_EXPECT_FALSE(test, in_use(1, 3));
	KUNIT_EXPECT_FALSE(test, in_use(2, 1));
	set_bit_inv(0, apm);
	set_bit_inv(1, apm);
	set_bit_inv(7, aqm);
	KUNIT_EXPECT_FALSE(test, kvm_s390_ap_matrix_in_use(apm, aqm));
	set_bit_inv(2, aqm);
	KUNIT_EXPECT_TRUE(test, kvm_s390_ap_matrix_in_use(apm, aqm));
	/* resetting queues are in use until released */
	ctx->other = b;
	fake->on_tapq = hook_set_other;
	KUNIT_EXPECT_EQ(test, set(a, mx_empty(), 0), 0);
	fake->on_tapq = NULL;
	KUNIT_EXPECT_TRUE(test, ctx->hook_in_use);
	KUNIT_EXPECT_FALSE(test, in_use(1, 1));
	KUNIT_EXPECT_FALSE(test, in_use(1, 2));
}

/* a queue unbound from the driver is unplugged from the guest */
static void test_queue_removed(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *b = apm_vm(test, CRYCB_FORMAT2);
	struct kvm_s390_ap_matrix g;

	KUNIT_ASSERT_EQ(test, set(a, mx(1, 2, 1, 2), 0), 0);
	KUNIT_EXPECT_EQ(test, a->arch.crypto.crycb->apcb1.apm[0],
			3ULL << 61);
	kvm_s390_ap_matrix_queue_removed(APQN(1, 1));
	kvm_s390_ap_matrix_flush();
	/* the whole adapter 1 left the guest: 1.1 and 1.2 reset, freed */
	KUNIT_EXPECT_EQ(test, a->arch.crypto.crycb->apcb1.apm[0],
			1ULL << 61);
	KUNIT_EXPECT_EQ(test, a->arch.crypto.crycb->apcb1.aqm[0],
			3ULL << 61);
	KUNIT_EXPECT_EQ(test, fake->nzapq, 2);
	KUNIT_EXPECT_NULL(test, kvm_s390_ap_matrix_owner(APQN(1, 1)));
	KUNIT_EXPECT_NULL(test, kvm_s390_ap_matrix_owner(APQN(1, 2)));
	KUNIT_EXPECT_PTR_EQ(test, kvm_s390_ap_matrix_owner(APQN(2, 1)),
			    (void *)a);
	KUNIT_ASSERT_EQ(test, get(a, &g), 0);
	KUNIT_EXPECT_EQ(test, g.apm[0], 1ULL << 61);
	KUNIT_EXPECT_EQ(test, set(b, mx(1, 1, 1, 2), 0), 0);
	/* removing a queue nobody holds changes nothing */
	kvm_s390_ap_matrix_queue_removed(APQN(9, 9));
	kvm_s390_ap_matrix_flush();
	KUNIT_EXPECT_EQ(test, fake->nzapq, 2);
	/* the last adapter goes: the guest keeps its domains only */
	kvm_s390_ap_matrix_queue_removed(APQN(2, 2));
	kvm_s390_ap_matrix_flush();
	KUNIT_EXPECT_EQ(test, a->arch.crypto.crycb->apcb1.apm[0], 0);
	KUNIT_EXPECT_NULL(test, kvm_s390_ap_matrix_owner(APQN(2, 1)));
}

/* adapters/domains that leave the host configuration leave every guest */
static void test_config_removed(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *b = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *c = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *d = apm_vm(test, CRYCB_FORMAT2);
	unsigned long apm[4] = {}, aqm[4] = {}, adm[4] = {};
	struct kvm_s390_crypto_cb crycb_c;
	struct kvm_s390_ap_matrix m;

	/* 5.2 FAILED: its reset never finished */
	KUNIT_ASSERT_EQ(test, set(d, mx(5, 5, 2, 2), 0), 0);
	fake->tapq_default = RC_RESET_IN_PROGRESS;
	KUNIT_ASSERT_EQ(test, set(d, mx_empty(), 0), 0);
	fake->tapq_default = RC_NORMAL;
	KUNIT_ASSERT_TRUE(test,
			  is_marker(kvm_s390_ap_matrix_owner(APQN(5, 2)),
				    KVM_S390_AP_MATRIX_FAILED));
	fake->nzapq = 0;

	/* adapter 1 is in A's and in B's matrix */
	KUNIT_ASSERT_EQ(test, set(a, mx(1, 2, 1, 2), 0), 0);
	m = mx(3, 3, 3, 3);
	mbit(m.apm, 1);
	KUNIT_ASSERT_EQ(test, set(b, m, 0), 0);
	KUNIT_ASSERT_EQ(test, set(c, mx(4, 4, 4, 4), 0), 0);
	crycb_c = *c->arch.crypto.crycb;

	/* adapter 1 and domain 2 leave the host configuration */
	set_bit_inv(1, apm);
	set_bit_inv(2, aqm);
	kvm_s390_ap_matrix_config_removed(apm, aqm, adm);
	kvm_s390_ap_matrix_flush();

	KUNIT_EXPECT_EQ(test, a->arch.crypto.crycb->apcb1.apm[0], 1ULL << 61);
	KUNIT_EXPECT_EQ(test, a->arch.crypto.crycb->apcb1.aqm[0], 1ULL << 62);
	KUNIT_EXPECT_EQ(test, b->arch.crypto.crycb->apcb1.apm[0], 1ULL << 60);
	KUNIT_EXPECT_EQ(test, b->arch.crypto.crycb->apcb1.aqm[0], 1ULL << 60);
	KUNIT_EXPECT_EQ(test, memcmp(&crycb_c, c->arch.crypto.crycb,
				     sizeof(crycb_c)), 0);
	/* 1.1, 1.2, 2.2 left A, 1.3 left B: reset and released */
	KUNIT_EXPECT_EQ(test, fake->nzapq, 4);
	KUNIT_EXPECT_NULL(test, kvm_s390_ap_matrix_owner(APQN(1, 1)));
	KUNIT_EXPECT_NULL(test, kvm_s390_ap_matrix_owner(APQN(1, 2)));
	KUNIT_EXPECT_NULL(test, kvm_s390_ap_matrix_owner(APQN(2, 2)));
	KUNIT_EXPECT_NULL(test, kvm_s390_ap_matrix_owner(APQN(1, 3)));
	KUNIT_EXPECT_PTR_EQ(test, kvm_s390_ap_matrix_owner(APQN(2, 1)),
			    (void *)a);
	KUNIT_EXPECT_PTR_EQ(test, kvm_s390_ap_matrix_owner(APQN(3, 3)),
			    (void *)b);
	KUNIT_EXPECT_PTR_EQ(test, kvm_s390_ap_matrix_owner(APQN(4, 4)),
			    (void *)c);
	/* a failed reset is not forgotten when the queue leaves the host */
	KUNIT_EXPECT_TRUE(test,
			  is_marker(kvm_s390_ap_matrix_owner(APQN(5, 2)),
				    KVM_S390_AP_MATRIX_FAILED));
	KUNIT_EXPECT_EQ(test, set(d, mx(1, 1, 2, 2), 0), 0);
	kvm_s390_ap_matrix_queue_probed(APQN(5, 2));
	kvm_s390_ap_matrix_flush();
	KUNIT_EXPECT_NULL(test, kvm_s390_ap_matrix_owner(APQN(5, 2)));
}

static struct kunit_case ap_matrix_test_cases[] = {
	KUNIT_CASE(test_layout),
	KUNIT_CASE(test_rule_einval),
	KUNIT_CASE(test_rule_eopnotsupp_and_has),
	KUNIT_CASE(test_rule_enodev_host_limits),
	KUNIT_CASE(test_crycb_format_limits),
	KUNIT_CASE(test_rule_eaddrnotavail),
	KUNIT_CASE(test_rule_eaddrinuse_shared_control),
	KUNIT_CASE(test_rule_ebusy_during_reset),
	KUNIT_CASE(test_rule_order),
	KUNIT_CASE(test_validate_only),
	KUNIT_CASE(test_reset_flag),
	KUNIT_CASE(test_atomic_refusal),
	KUNIT_CASE(test_two_vms),
	KUNIT_CASE(test_many_vms),
	KUNIT_CASE(test_release_by_empty_matrix),
	KUNIT_CASE(test_bit_order),
	KUNIT_CASE(test_get_round_trip),
	KUNIT_CASE(test_handover_order),
	KUNIT_CASE(test_reset_bound_failed),
	KUNIT_CASE(test_se_reissue),
	KUNIT_CASE(test_removed_during_reset),
	KUNIT_CASE(test_destroy_releases),
	KUNIT_CASE(test_in_use),
	KUNIT_CASE(test_queue_removed),
	KUNIT_CASE(test_config_removed),
	{}
};

static struct kunit_suite ap_matrix_test_suite = {
	.name = "apmatrix",
	.init = apm_test_init,
	.exit = apm_test_exit,
	.test_cases = ap_matrix_test_cases,
};

kunit_test_suite(ap_matrix_test_suite);
