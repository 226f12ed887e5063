// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for KVM_S390_VM_CRYPTO_SET_AP_MATRIX (ap_matrix.c).
 *
 * The AP bus is replaced by fake host operations; a VM is a zeroed struct
 * kvm with a real CRYCB, so the real kvm_arch_crypto_set_masks() writes the
 * masks (there are no vCPUs to block).
 *
 * Concurrency is tested with kthreads: the fake operations can hold the
 * first TAPQ until the test releases it, and record every ZAPQ of a queue
 * the test marked as held by another VM.  Every wait is bounded; a thread
 * that does not finish fails its test and is left alone, never killed.
 *
 * Allocation failures are injected with the failslab fail-nth mechanism
 * (CONFIG_FAILSLAB, CONFIG_FAULT_INJECTION_DEBUG_FS in .kunitconfig).
 */

#include <kunit/test.h>
#include <linux/anon_inodes.h>
#include <linux/capability.h>
#include <linux/completion.h>
#include <linux/cred.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kthread.h>
#include <linux/kvm_host.h>
#include <linux/mman.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>
#include <asm/apmatrix.h>
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
#define MAX_THREADS		8
#define MAX_FDS			16

/* the bound of every wait for something that must happen */
#define LONG_WAIT		(10 * HZ)
/* how long a thread that must be blocked is watched */
#define SHORT_WAIT		(HZ / 5)

enum { EV_ZAPQ = 1, EV_TAPQ };

struct fake_event {
	u8 type;
	u16 apqn;
};

/* the fake AP bus */
struct fake_host {
	struct mutex lock;		/* plays ap_perms_mutex */
	struct task_struct *lock_owner;
	atomic_t nunlock;
	struct completion unlocked;	/* completed by every unlock */
	/* the next unlock (lock released) or lock (held) pauses until resume */
	atomic_t pause_unlock, pause_lock;
	/* the lock() call that brings it to 0 pauses before it takes the lock */
	atomic_t pause_before_lock;
	struct completion paused, resume;
	struct kvm_s390_ap_host_config cfg;
	DECLARE_BITMAP(unavailable, NR_APQNS);
	/* TAPQ of these answers "reset in progress" forever */
	DECLARE_BITMAP(stuck, NR_APQNS);
	/* queues the test gave to another VM: a ZAPQ of one is a bug */
	DECLARE_BITMAP(hazard, NR_APQNS);
	atomic_t hazard_zapq;
	u16 zapqs[NR_APQNS];		/* ZAPQs per APQN */
	/* scripted answers, consumed in order, then the default */
	u8 zapq_script[8], tapq_script[8];
	unsigned int zapq_len, zapq_pos, tapq_len, tapq_pos;
	u8 zapq_default, tapq_default;
	spinlock_t ev_lock;		/* events and scripts */
	struct fake_event ev[MAX_EVENTS];
	unsigned int nev, nzapq, ntapq;
	bool locked_in_reset;		/* ZAPQ/TAPQ under the AP lock */
	/* hold the first TAPQ (of a workqueue worker) until tapq_release */
	bool block_tapq, block_worker_only;
	atomic_t tapq_calls;
	struct completion tapq_entered, tapq_release;
	bool tapq_timed_out;
	/* CRYCB of a VM, copied at the first ZAPQ */
	struct kvm_s390_crypto_cb *watch;
	struct kvm_s390_crypto_cb snap;
	bool snapped;
	void (*on_tapq)(unsigned int apqn);
};

struct apm_thread;
struct failslab_knobs;
static void failslab_restore(struct failslab_knobs *k);

struct apm_ctx {
	const struct kvm_s390_ap_host_ops *saved_ops;
	struct kvm_s390_ap_matrix_tunables saved_tunables;
	struct kvm *vms[MAX_VMS];
	unsigned int nvms;
	struct apm_thread *threads[MAX_THREADS];
	unsigned int nthreads;
	int fds[MAX_FDS];
	unsigned int nfds;
	struct failslab_knobs *failslab;	/* to restore */
	/* for the on_tapq hooks */
	struct kunit *test;
	struct kvm *other;
	int hook_rc;
	bool hook_in_use;
	unsigned int hook_calls;
};

/*
 * Static, not per test: a thread that outlives its test (a failure) must
 * not touch freed memory.
 */
static struct fake_host fake_host;
static struct fake_host *fake = &fake_host;
static struct apm_ctx *ctx;

static int fake_lock(void)
{
	int rc;

	if (atomic_add_unless(&fake->pause_before_lock, -1, 0) &&
	    !atomic_read(&fake->pause_before_lock)) {
		complete(&fake->paused);
		wait_for_completion_timeout(&fake->resume, LONG_WAIT);
	}
	rc = mutex_lock_killable(&fake->lock);

	if (!rc)
		WRITE_ONCE(fake->lock_owner, current);
	if (!rc && atomic_xchg(&fake->pause_lock, 0)) {
		complete(&fake->paused);
		wait_for_completion_timeout(&fake->resume, LONG_WAIT);
	}
	return rc;
}

static void fake_unlock(void)
{
	WRITE_ONCE(fake->lock_owner, NULL);
	mutex_unlock(&fake->lock);
	atomic_inc(&fake->nunlock);
	complete(&fake->unlocked);
	if (atomic_xchg(&fake->pause_unlock, 0)) {
		complete(&fake->paused);
		wait_for_completion_timeout(&fake->resume, LONG_WAIT);
	}
}

static void fake_config(struct kvm_s390_ap_host_config *cfg)
{
	*cfg = fake->cfg;
}

static void fake_available(unsigned int apid, unsigned long *aqm)
{
	unsigned int apqi;

	lockdep_assert_held(&fake->lock);
	bitmap_zero(aqm, 256);
	for (apqi = 0; apqi < 256; apqi++)
		if (!test_bit(APQN(apid, apqi), fake->unavailable))
			set_bit_inv(apqi, aqm);
}

static void fake_record(u8 type, unsigned int apqn)
{
	spin_lock(&fake->ev_lock);
	if (fake->nev < MAX_EVENTS) {
		fake->ev[fake->nev].type = type;
		fake->ev[fake->nev].apqn = apqn;
	}
	fake->nev++;
	if (type == EV_ZAPQ) {
		fake->nzapq++;
		fake->zapqs[apqn]++;
		if (test_bit(apqn, fake->hazard))
			atomic_inc(&fake->hazard_zapq);
	} else {
		fake->ntapq++;
	}
	if (READ_ONCE(fake->lock_owner) == current)
		fake->locked_in_reset = true;
	spin_unlock(&fake->ev_lock);
}

static struct ap_queue_status fake_status(u8 rc)
{
	struct ap_queue_status status = { .response_code = rc };

	return status;
}

static struct ap_queue_status fake_zapq(unsigned int apqn)
{
	u8 rc;

	fake_record(EV_ZAPQ, apqn);
	spin_lock(&fake->ev_lock);
	rc = fake->zapq_default;
	if (fake->zapq_pos < fake->zapq_len)
		rc = fake->zapq_script[fake->zapq_pos++];
	if (fake->watch && !fake->snapped) {
		fake->snap = *fake->watch;
		fake->snapped = true;
	}
	spin_unlock(&fake->ev_lock);
	return fake_status(rc);
}

static struct ap_queue_status fake_tapq(unsigned int apqn)
{
	u8 rc;

	if (READ_ONCE(fake->block_tapq) &&
	    (!READ_ONCE(fake->block_worker_only) ||
	     (current->flags & PF_WQ_WORKER)) &&
	    atomic_inc_return(&fake->tapq_calls) == 1) {
		complete(&fake->tapq_entered);
		if (!wait_for_completion_timeout(&fake->tapq_release,
						 LONG_WAIT))
			WRITE_ONCE(fake->tapq_timed_out, true);
	}
	fake_record(EV_TAPQ, apqn);
	spin_lock(&fake->ev_lock);
	rc = fake->tapq_default;
	if (fake->tapq_pos < fake->tapq_len)
		rc = fake->tapq_script[fake->tapq_pos++];
	if (test_bit(apqn, fake->stuck))
		rc = RC_RESET_IN_PROGRESS;
	spin_unlock(&fake->ev_lock);
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

/* hold the first TAPQ from now on until fake_release_tapq() */
static void fake_block_first_tapq(void)
{
	atomic_set(&fake->tapq_calls, 0);
	reinit_completion(&fake->tapq_entered);
	reinit_completion(&fake->tapq_release);
	WRITE_ONCE(fake->block_tapq, true);
}

/* the same for the first TAPQ that the reset worker issues */
static void fake_block_first_worker_tapq(void)
{
	WRITE_ONCE(fake->block_worker_only, true);
	fake_block_first_tapq();
}

static void fake_release_tapq(void)
{
	WRITE_ONCE(fake->block_tapq, false);
	complete_all(&fake->tapq_release);
}

/*
 * Threads.  A thread runs one operation and completes ->done; it accepts
 * SIGKILL, so a test can interrupt a wait.
 */
struct apm_thread {
	struct task_struct *task;
	struct completion done;
	int (*fn)(struct apm_thread *t);
	struct kvm *kvm;
	struct kvm_s390_ap_matrix m;
	unsigned int apqn;
	int rc;
	bool finished;
};

static int apm_thread_main(void *data)
{
	struct apm_thread *t = data;

	allow_signal(SIGKILL);
	t->rc = t->fn(t);
	complete(&t->done);
	return 0;
}

static struct apm_thread *apm_thread_start(struct kunit *test,
					   int (*fn)(struct apm_thread *t),
					   struct kvm *kvm,
					   struct kvm_s390_ap_matrix m,
					   unsigned int apqn)
{
	struct apm_thread *t;

	KUNIT_ASSERT_LT(test, ctx->nthreads, MAX_THREADS);
	/* not kunit memory: a stuck thread may outlive the test */
	t = kzalloc(sizeof(*t), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, t);
	init_completion(&t->done);
	t->fn = fn;
	t->kvm = kvm;
	t->m = m;
	t->apqn = apqn;
	t->task = kthread_create(apm_thread_main, t, "apm-test/%u",
				 ctx->nthreads);
	if (IS_ERR(t->task)) {
		kfree(t);
		KUNIT_FAIL_AND_ABORT(test, "kthread_create failed");
	}
	get_task_struct(t->task);
	ctx->threads[ctx->nthreads++] = t;
	wake_up_process(t->task);
	return t;
}

/* wait at most @timeout for @t to finish; true if it did */
static bool apm_thread_wait(struct apm_thread *t, unsigned long timeout)
{
	if (!t->finished)
		t->finished = wait_for_completion_timeout(&t->done, timeout);
	return t->finished;
}

static void apm_thread_reap(struct kunit *test, struct apm_thread *t)
{
	if (!apm_thread_wait(t, LONG_WAIT)) {
		KUNIT_FAIL(test, "thread %s did not finish; left behind",
			   t->task->comm);
		return;
	}
	kthread_stop_put(t->task);
	kfree(t);
}

static int set_req(struct kvm *kvm, const struct kvm_s390_ap_matrix *m);

static int thread_set(struct apm_thread *t)
{
	return set_req(t->kvm, &t->m);
}

static int thread_destroy(struct apm_thread *t)
{
	kvm_s390_ap_matrix_destroy(t->kvm);
	return 0;
}

static int thread_queue_removed(struct apm_thread *t)
{
	kvm_s390_ap_matrix_queue_removed(t->apqn);
	return 0;
}

/* adapter t->apqn >> 8 leaves the host's configuration */
static int thread_adapter_gone(struct apm_thread *t)
{
	unsigned long apm[4] = {}, aqm[4] = {}, adm[4] = {};

	set_bit_inv(t->apqn >> 8, apm);
	kvm_s390_ap_matrix_config_removed(apm, aqm, adm);
	return 0;
}

static bool in_use(unsigned int apid, unsigned int apqi);
static void apm_flush(void);

static int thread_flush(struct apm_thread *t)
{
	apm_flush();
	return 0;
}

static int thread_in_use(struct apm_thread *t)
{
	return in_use(t->apqn >> 8, t->apqn & 0xff);
}

static void apm_fake_reset(void)
{
	memset(fake, 0, sizeof(*fake));
	mutex_init(&fake->lock);
	spin_lock_init(&fake->ev_lock);
	init_completion(&fake->unlocked);
	init_completion(&fake->paused);
	init_completion(&fake->resume);
	init_completion(&fake->tapq_entered);
	init_completion(&fake->tapq_release);
	fake->cfg.max_apid = 255;
	fake->cfg.max_apqi = 255;
	bitmap_fill(fake->cfg.adm, 256);
	fake->zapq_default = RC_NORMAL;
	fake->tapq_default = RC_NORMAL;
}

static int apm_test_init(struct kunit *test)
{
	ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ctx);
	ctx->test = test;
	apm_fake_reset();

	ctx->saved_tunables = kvm_s390_ap_matrix_tunables;
	kvm_s390_ap_matrix_tunables.interval_ms = 0;
	kvm_s390_ap_matrix_tunables.polls = 5;
	kvm_s390_ap_matrix_tunables.worker_polls = 20;
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

/* wait until no reset runs in the background */
static void apm_flush(void)
{
	kvm_s390_ap_matrix_flush();
}

static void apm_test_exit(struct kunit *test)
{
	unsigned int i;

	if (ctx->failslab)
		failslab_restore(ctx->failslab);
	/* let every thread finish first */
	atomic_set(&fake->pause_unlock, 0);
	atomic_set(&fake->pause_lock, 0);
	atomic_set(&fake->pause_before_lock, 0);
	complete_all(&fake->resume);
	fake_release_tapq();
	bitmap_zero(fake->stuck, NR_APQNS);
	for (i = 0; i < ctx->nthreads; i++)
		apm_thread_reap(test, ctx->threads[i]);
	for (i = 0; i < ctx->nfds; i++)
		close_fd(ctx->fds[i]);

	fake->on_tapq = NULL;
	fake->watch = NULL;
	fake->zapq_default = RC_NORMAL;
	fake->tapq_default = RC_NORMAL;
	fake->zapq_len = 0;
	fake->tapq_len = 0;
	for (i = 0; i < ctx->nvms; i++)
		if (ctx->vms[i])
			apm_vm_free(ctx->vms[i]);
	apm_flush();
	KUNIT_EXPECT_TRUE(test, kvm_s390_ap_matrix_idle());
	kvm_s390_ap_matrix_swap_ops(ctx->saved_ops);
	kvm_s390_ap_matrix_tunables = ctx->saved_tunables;
}

/*
 * SETs nest in fake TAPQ hooks (A's SET, then B's from its TAPQ): each VM
 * slot's SET mutex gets its own lockdep class; hooks nest an earlier slot
 * before a later one.
 */
static struct lock_class_key apm_vm_keys[MAX_VMS];

static int dummy_pqap(struct kvm_vcpu *vcpu)
{
	return 0;
}

static crypto_hook dummy_pqap_hook = dummy_pqap;

/* a VM with a CRYCB of format @fmt (CRYCB_FORMAT0/1/2) */
static struct kvm *apm_vm(struct kunit *test, u32 fmt)
{
	static atomic_t seq = ATOMIC_INIT(0);
	struct kvm_s390_crypto_cb *crycb;
	char name[32];
	struct kvm *kvm;
	int n;

	KUNIT_ASSERT_LT(test, ctx->nvms, MAX_VMS);
	kvm = kvzalloc(sizeof(*kvm), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, kvm);
	crycb = kzalloc(sizeof(*crycb), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, crycb);
	mutex_init(&kvm->lock);
	xa_init(&kvm->vcpu_array);
	init_rwsem(&kvm->arch.crypto.pqap_hook_rwsem);
	n = atomic_inc_return(&seq);
	kvm->userspace_pid = 10000 + n;
	snprintf(name, sizeof(name), "apm-test-%d", n);
	kvm->arch.dbf = debug_register(name, 1, 1, 7 * sizeof(long));
	KUNIT_ASSERT_NOT_NULL(test, kvm->arch.dbf);
	kvm->arch.crypto.crycb = crycb;
	kvm->arch.crypto.crycbd = (u32)virt_to_phys(crycb);
	kvm->arch.crypto.crycbd &= ~CRYCB_FORMAT_MASK;
	kvm->arch.crypto.crycbd |= fmt;
	kvm_s390_ap_matrix_init_vm(kvm);
	lockdep_set_class(&kvm->arch.crypto.ap_matrix_mutex,
			  &apm_vm_keys[ctx->nvms]);
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

/* the SET as the ioctl makes it: the grant file looked up by its fd */
static int set_req(struct kvm *kvm, const struct kvm_s390_ap_matrix *m)
{
	struct file *grant = NULL;
	int rc;

	if (m->flags & KVM_S390_AP_MATRIX_GRANT)
		grant = fget(m->grant_fd);
	rc = kvm_s390_ap_matrix_set_matrix(kvm, m, grant);
	if (grant)
		fput(grant);
	return rc;
}

static int set(struct kvm *kvm, struct kvm_s390_ap_matrix m, u32 flags)
{
	m.flags = flags;
	return set_req(kvm, &m);
}

/* SET with a grant */
static int set_g(struct kvm *kvm, struct kvm_s390_ap_matrix m, u32 flags,
		 int fd)
{
	m.flags = flags | KVM_S390_AP_MATRIX_GRANT;
	m.grant_fd = fd;
	return set_req(kvm, &m);
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

static enum kvm_s390_ap_queue_state qstate(unsigned int apqn)
{
	pid_t pid;

	return kvm_s390_ap_matrix_queue_state(apqn, &pid);
}

/* the VM's CRYCB is all zero (no AP masks) */
static bool crycb_zero(struct kvm *kvm)
{
	return !memchr_inv(kvm->arch.crypto.crycb, 0,
			   sizeof(*kvm->arch.crypto.crycb));
}

/*
 * A failed queue comes back to the driver (probe()): it is reset again and
 * free once that completes.
 */
static void recover(unsigned int apqn)
{
	clear_bit(apqn, fake->stuck);
	kvm_s390_ap_matrix_queue_probed(apqn);
	apm_flush();
}

/* left a VM, not claimable: being reset or failed */
static bool not_free(enum kvm_s390_ap_queue_state st)
{
	return st == KVM_S390_AP_QUEUE_RESETTING ||
	       st == KVM_S390_AP_QUEUE_RESET_FAILED;
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

/* KVM_SET_DEVICE_ATTR: the payload in userspace memory */
static int set_ioctl(struct kvm *kvm, const struct kvm_s390_ap_matrix *m)
{
	struct kvm_device_attr attr = {
		.group = KVM_S390_VM_CRYPTO,
		.attr = KVM_S390_VM_CRYPTO_SET_AP_MATRIX,
	};
	unsigned long uaddr;

	uaddr = kunit_vm_mmap(ctx->test, NULL, 0, PAGE_SIZE,
			      PROT_READ | PROT_WRITE,
			      MAP_ANONYMOUS | MAP_PRIVATE, 0);
	if (IS_ERR_OR_NULL((void *)uaddr))
		return -ENOMEM;
	if (copy_to_user((void __user *)uaddr, m, sizeof(*m)))
		return -EFAULT;
	attr.addr = uaddr;
	return kvm_s390_ap_matrix_set(kvm, &attr);
}

/* GET equals the masks of @m */
static bool get_is(struct kvm *kvm, struct kvm_s390_ap_matrix m)
{
	struct kvm_s390_ap_matrix g;

	if (get(kvm, &g))
		return false;
	return !memcmp(g.apm, m.apm, sizeof(m.apm)) &&
	       !memcmp(g.aqm, m.aqm, sizeof(m.aqm)) &&
	       !memcmp(g.adm, m.adm, sizeof(m.adm));
}

/* a grant for the masks of @m; closed at the end of the test */
static int grant(struct kunit *test, struct kvm_s390_ap_matrix m)
{
	struct apmatrix_grant req;
	int fd;

	memset(&req, 0, sizeof(req));
	memcpy(req.apm, m.apm, sizeof(req.apm));
	memcpy(req.aqm, m.aqm, sizeof(req.aqm));
	memcpy(req.adm, m.adm, sizeof(req.adm));
	fd = kvm_s390_ap_matrix_grant_create(&req);
	KUNIT_ASSERT_GE(test, fd, 0);
	KUNIT_ASSERT_LT(test, ctx->nfds, MAX_FDS);
	ctx->fds[ctx->nfds++] = fd;
	return fd;
}

/* forget a grant fd the test closed itself */
static void forget_fd(int fd)
{
	unsigned int i;

	for (i = 0; i < ctx->nfds; i++)
		if (ctx->fds[i] == fd)
			ctx->fds[i] = ctx->fds[--ctx->nfds];
}

/*
 * Run without CAP_SYS_ADMIN until admin_restore(): the credentials of the
 * test thread lose it, as a VMM's would.
 */
static const struct cred *admin_drop(struct kunit *test)
{
	const struct cred *old;
	struct cred *new;

	new = prepare_creds();
	KUNIT_ASSERT_NOT_NULL(test, new);
	cap_lower(new->cap_effective, CAP_SYS_ADMIN);
	old = override_creds(new);
	put_cred(new);
	KUNIT_ASSERT_FALSE(test, capable(CAP_SYS_ADMIN));
	return old;
}

static void admin_restore(const struct cred *old)
{
	revert_creds(old);
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
	KUNIT_EXPECT_EQ(test, sizeof(struct apmatrix_grant), 136);
}

static const struct file_operations not_a_grant_fops = {
	.owner = THIS_MODULE,
};

/*
 * EINVAL: unknown flags, reserved, grant_fd without GRANT, GRANT with an
 * open file that is not a grant; EBADF: GRANT with a closed fd
 */
static void test_rule_einval_ebadf(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm_s390_ap_matrix m = mx(1, 1, 1, 1);
	int fd, other;
	unsigned int i;

	KUNIT_EXPECT_EQ(test, set(a, m, 1U << 3), -EINVAL);
	KUNIT_EXPECT_EQ(test, set(a, m, 1U << 31), -EINVAL);
	for (i = 0; i < ARRAY_SIZE(m.reserved); i++) {
		m = mx(1, 1, 1, 1);
		m.reserved[i] = 1;
		KUNIT_EXPECT_EQ(test, set(a, m, 0), -EINVAL);
	}
	/*
	 * grant_fd without GRANT, even that of a real grant (unless it is 0:
	 * the test runs with the kernel threads' file table, where a grant
	 * may get fd 0)
	 */
	fd = grant(test, mx(1, 1, 1, 1));
	m = mx(1, 1, 1, 1);
	m.grant_fd = fd ? fd : 1;
	KUNIT_EXPECT_EQ(test, set(a, m, 0), -EINVAL);
	m.grant_fd = -1;
	KUNIT_EXPECT_EQ(test, set(a, m, 0), -EINVAL);
	/* an open file that is not a grant */
	other = anon_inode_getfd("apm-test", &not_a_grant_fops, NULL,
				 O_CLOEXEC);
	KUNIT_ASSERT_GE(test, other, 0);
	KUNIT_EXPECT_EQ(test, set_g(a, mx(1, 1, 1, 1), 0, other), -EINVAL);
	close_fd(other);
	/* a closed fd, a negative one */
	KUNIT_EXPECT_EQ(test, set_g(a, mx(1, 1, 1, 1), 0, other), -EBADF);
	KUNIT_EXPECT_EQ(test, set_g(a, mx(1, 1, 1, 1), 0, -1), -EBADF);
	KUNIT_EXPECT_EQ(test, set_g(a, mx(1, 1, 1, 1), 0, INT_MAX), -EBADF);
	/* EINVAL comes before EBADF */
	KUNIT_EXPECT_EQ(test, set_g(a, mx(1, 1, 1, 1), 1U << 3, other),
			-EINVAL);
	KUNIT_EXPECT_NULL(test, kvm_s390_ap_matrix_owner(APQN(1, 1)));
	KUNIT_EXPECT_EQ(test, fake->nzapq, 0);
	/* the same grant fd, passed properly, works */
	KUNIT_EXPECT_EQ(test, set_g(a, mx(1, 1, 1, 1), 0, fd), 0);

	/* the ioctl path looks the fd up itself */
	m = mx(1, 1, 1, 2);
	m.flags = KVM_S390_AP_MATRIX_GRANT;
	m.grant_fd = other;
	KUNIT_EXPECT_EQ(test, set_ioctl(a, &m), -EBADF);
	m.grant_fd = fd;
	KUNIT_EXPECT_EQ(test, set_ioctl(a, &m), 0);
	KUNIT_EXPECT_TRUE(test, get_is(a, mx(1, 1, 1, 2)));
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

	fake->cfg.max_apid = 10;
	fake->cfg.max_apqi = 5;
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

/*
 * A control domain must be in the host's configured control domains (QCI
 * adm), even for CAP_SYS_ADMIN, even one inside max_apqi.
 */
static void test_rule_enodev_host_adm(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm_s390_ap_matrix m;

	bitmap_zero(fake->cfg.adm, 256);
	set_bit_inv(3, fake->cfg.adm);
	set_bit_inv(200, fake->cfg.adm);
	m = mx(1, 1, 0x0b, 0x0b);
	mbit(m.adm, 0x0b);	/* a usage domain, but not a control domain */
	KUNIT_EXPECT_EQ(test, set(a, m, 0), -ENODEV);
	KUNIT_EXPECT_EQ(test, validate(a, m), -ENODEV);
	KUNIT_EXPECT_NULL(test, kvm_s390_ap_matrix_owner(APQN(1, 0x0b)));
	m = mx(1, 1, 0x0b, 0x0b);
	mbit(m.adm, 3);
	mbit(m.adm, 200);
	KUNIT_EXPECT_EQ(test, set(a, m, 0), 0);
	/* a control domain the VM holds that leaves the host's adm */
	clear_bit_inv(200, fake->cfg.adm);
	KUNIT_EXPECT_EQ(test, set(a, m, 0), -ENODEV);
	KUNIT_EXPECT_TRUE(test, get_is(a, m));
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
		/* the edges: 3f.000f fits, 40.0000 and 02.0010 do not */
		KUNIT_EXPECT_EQ(test, set(vm, mx(0x40, 0x40, 0, 0), 0),
				-ENODEV);
		KUNIT_EXPECT_EQ(test, set(vm, mx(2, 2, 0x10, 0x10), 0),
				-ENODEV);
		KUNIT_EXPECT_EQ(test, validate(vm, mx(2, 2, 0x10, 0x10)),
				-ENODEV);
		KUNIT_EXPECT_NULL(test, kvm_s390_ap_matrix_owner(APQN(2, 0x10)));
		KUNIT_EXPECT_EQ(test, set(vm, mx(0x3f, 0x3f, 0xf, 0xf), 0), 0);
		KUNIT_EXPECT_EQ(test, set(vm, mx_empty(), 0), 0);
		apm_flush();
		KUNIT_EXPECT_EQ(test, set(vm, mx(63, 63, 13 - i, 13 - i), 0),
				0);
		KUNIT_EXPECT_EQ(test, vm->arch.crypto.crycb->apcb0.apm[0], 1ULL);
		KUNIT_EXPECT_EQ(test,
				*(u16 *)vm->arch.crypto.crycb->apcb0.aqm,
				1U << (i + 2));
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
	const struct cred *old;
	int closed, g;

	/* 3.1 FAILED (its reset never finished), 4.1 elsewhere, 5.1 A's */
	KUNIT_ASSERT_EQ(test, set(b, mx(3, 3, 1, 1), 0), 0);
	fake->tapq_default = RC_RESET_IN_PROGRESS;
	KUNIT_ASSERT_EQ(test, set(b, mx_empty(), 0), 0);
	apm_flush();
	fake->tapq_default = RC_NORMAL;
	KUNIT_ASSERT_EQ(test, qstate(APQN(3, 1)),
			KVM_S390_AP_QUEUE_RESET_FAILED);
	set_bit(APQN(4, 1), fake->unavailable);
	KUNIT_ASSERT_EQ(test, set(a, mx(5, 5, 1, 1), 0), 0);
	g = grant(test, mx(3, 5, 1, 1));
	closed = grant(test, mx(3, 5, 1, 1));
	forget_fd(closed);
	close_fd(closed);

	m = mx(3, 5, 1, 1);
	mbit(m.apm, 64);
	kvm_s390_ap_matrix_swap_ops(NULL);
	f1->arch.crypto.pqap_hook = &dummy_pqap_hook;
	old = admin_drop(test);
	/* EINVAL before EBADF */
	KUNIT_EXPECT_EQ(test, set_g(f1, m, 1U << 5, closed), -EINVAL);
	/* EBADF before EOPNOTSUPP */
	KUNIT_EXPECT_EQ(test, set_g(f1, m, 0, closed), -EBADF);
	/* EOPNOTSUPP before EEXIST */
	KUNIT_EXPECT_EQ(test, set(f1, m, 0), -EOPNOTSUPP);
	kvm_s390_ap_matrix_swap_ops(&fake_ops);
	/* EEXIST before ENODEV */
	KUNIT_EXPECT_EQ(test, set(f1, m, 0), -EEXIST);
	f1->arch.crypto.pqap_hook = NULL;
	/* ENODEV before EPERM */
	KUNIT_EXPECT_EQ(test, set(f1, m, 0), -ENODEV);
	/* EPERM before EADDRNOTAVAIL, EADDRINUSE, EBUSY */
	KUNIT_EXPECT_EQ(test, set(b, mx(3, 5, 1, 1), 0), -EPERM);
	/* with a grant: EADDRNOTAVAIL before EBUSY and EADDRINUSE */
	KUNIT_EXPECT_EQ(test, set_g(b, mx(3, 5, 1, 1), 0, g), -EADDRNOTAVAIL);
	admin_restore(old);
	KUNIT_EXPECT_EQ(test, set(b, mx(3, 5, 1, 1), 0), -EADDRNOTAVAIL);
	/* EADDRINUSE before EBUSY although the busy 3.1 comes first */
	m = mx(3, 3, 1, 1);
	mbit(m.apm, 5);
	KUNIT_EXPECT_EQ(test, set(b, m, 0), -EADDRINUSE);
	KUNIT_EXPECT_EQ(test, set(b, mx(3, 3, 1, 1), 0), -EBUSY);
	KUNIT_EXPECT_EQ(test, validate(b, mx(3, 3, 1, 1)), -EBUSY);

	recover(APQN(3, 1));
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
	fake->cfg.max_apqi = 100;
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
	struct kvm_s390_ap_matrix m, g;

	m = mx(1, 2, 3, 4);
	mbit(m.adm, 5);
	KUNIT_ASSERT_EQ(test, set(a, m, 0), 0);
	KUNIT_EXPECT_EQ(test, set(a, mx_empty(), 0), 0);
	KUNIT_EXPECT_EQ(test, fake->nzapq, 4);
	KUNIT_EXPECT_NULL(test, memchr_inv(&a->arch.crypto.crycb->apcb1, 0,
					   sizeof(a->arch.crypto.crycb->apcb1)));
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
	/* no background wait: pending after the SET's bound is failed */
	kvm_s390_ap_matrix_tunables.worker_polls = 0;
	KUNIT_ASSERT_EQ(test, set(a, mx(1, 1, 1, 1), 0), 0);
	fake->tapq_default = RC_RESET_IN_PROGRESS;
	KUNIT_EXPECT_EQ(test, set(a, mx_empty(), 0), 0);
	apm_flush();
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
	/* unbinding it does not forget the failure */
	kvm_s390_ap_matrix_queue_removed(APQN(1, 1));
	apm_flush();
	KUNIT_EXPECT_EQ(test, qstate(APQN(1, 1)),
			KVM_S390_AP_QUEUE_RESET_FAILED);
	KUNIT_EXPECT_EQ(test, set(b, mx(1, 1, 1, 1), 0), -EBUSY);
	/* bound again, it is reset again: free once that completes */
	fake->nzapq = 0;
	recover(APQN(1, 1));
	KUNIT_EXPECT_EQ(test, fake->nzapq, 1);
	KUNIT_EXPECT_EQ(test, qstate(APQN(1, 1)), KVM_S390_AP_QUEUE_FREE);
	KUNIT_EXPECT_EQ(test, set(b, mx(1, 1, 1, 1), 0), 0);

	/* a ZAPQ that fails outright also leaves the queue FAILED */
	fake->zapq_default = 0x06;	/* invalid address */
	KUNIT_EXPECT_EQ(test, set(b, mx_empty(), 0), 0);
	apm_flush();
	KUNIT_EXPECT_TRUE(test,
			  is_marker(kvm_s390_ap_matrix_owner(APQN(1, 1)),
				    KVM_S390_AP_MATRIX_FAILED));
	fake->zapq_default = RC_NORMAL;
	recover(APQN(1, 1));
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

static int thread_adapter_gone(struct apm_thread *t);

/*
 * Queues that leave the driver (unbind) or the host while being reset are
 * free only once their reset completed.
 */
static void test_removed_during_reset(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *b = apm_vm(test, CRYCB_FORMAT2);
	struct apm_thread *t1, *t2, *t3;

	KUNIT_ASSERT_EQ(test, set(a, mx(1, 2, 1, 1), 0), 0);
	fake_block_first_tapq();
	t1 = apm_thread_start(test, thread_set, a, mx_empty(), 0);
	KUNIT_ASSERT_TRUE(test, wait_for_completion_timeout(&fake->tapq_entered,
							    LONG_WAIT));
	/* 1.1 is unbound, adapter 2 leaves the host */
	t2 = apm_thread_start(test, thread_queue_removed, NULL, mx_empty(),
			      APQN(1, 1));
	t3 = apm_thread_start(test, thread_adapter_gone, NULL, mx_empty(),
			      APQN(2, 1));
	apm_thread_wait(t2, SHORT_WAIT);
	apm_thread_wait(t3, SHORT_WAIT);
	KUNIT_EXPECT_TRUE(test, not_free(qstate(APQN(1, 1))));
	KUNIT_EXPECT_TRUE(test, not_free(qstate(APQN(2, 1))));
	KUNIT_EXPECT_EQ(test, set(b, mx(1, 1, 1, 1), 0), -EBUSY);
	KUNIT_EXPECT_EQ(test, set(b, mx(2, 2, 1, 1), 0), -EBUSY);
	KUNIT_EXPECT_TRUE(test, in_use(1, 1));
	fake_release_tapq();
	KUNIT_EXPECT_TRUE(test, apm_thread_wait(t1, LONG_WAIT));
	KUNIT_EXPECT_TRUE(test, apm_thread_wait(t2, LONG_WAIT));
	KUNIT_EXPECT_TRUE(test, apm_thread_wait(t3, LONG_WAIT));
	KUNIT_EXPECT_EQ(test, t1->rc, 0);
	apm_flush();
	KUNIT_EXPECT_FALSE(test, READ_ONCE(fake->tapq_timed_out));
	KUNIT_EXPECT_EQ(test, fake->zapqs[APQN(1, 1)], 1);
	KUNIT_EXPECT_EQ(test, fake->zapqs[APQN(2, 1)], 1);
	KUNIT_EXPECT_EQ(test, qstate(APQN(1, 1)), KVM_S390_AP_QUEUE_FREE);
	KUNIT_EXPECT_EQ(test, qstate(APQN(2, 1)), KVM_S390_AP_QUEUE_FREE);
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
	apm_flush();
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
	apm_flush();
	KUNIT_EXPECT_EQ(test, fake->nzapq, 2);
	/* the last adapter goes: the guest keeps its domains only */
	kvm_s390_ap_matrix_queue_removed(APQN(2, 2));
	apm_flush();
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
	apm_flush();
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
	apm_flush();

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
	/* a failed queue stays failed: only a completed reset clears it */
	KUNIT_EXPECT_EQ(test, qstate(APQN(5, 2)),
			KVM_S390_AP_QUEUE_RESET_FAILED);
	recover(APQN(5, 2));
	KUNIT_EXPECT_EQ(test, qstate(APQN(5, 2)), KVM_S390_AP_QUEUE_FREE);
	KUNIT_EXPECT_EQ(test, set(d, mx(1, 1, 2, 2), 0), 0);
}

/* a VM whose AP configuration belongs to vfio_ap is refused, whole */
static void test_rule_eexist(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *b = apm_vm(test, CRYCB_FORMAT2);

	KUNIT_ASSERT_EQ(test, set(a, mx(1, 1, 1, 1), 0), 0);
	b->arch.crypto.pqap_hook = &dummy_pqap_hook;
	KUNIT_EXPECT_EQ(test, set(b, mx(2, 2, 2, 2), 0), -EEXIST);
	KUNIT_EXPECT_EQ(test, validate(b, mx(2, 2, 2, 2)), -EEXIST);
	KUNIT_EXPECT_EQ(test, set(b, mx(2, 2, 2, 2),
				  KVM_S390_AP_MATRIX_RESET), -EEXIST);
	KUNIT_EXPECT_EQ(test, set(b, mx_empty(), 0), -EEXIST);
	/* before the rules that look at other VMs and ranges */
	KUNIT_EXPECT_EQ(test, set(b, mx(1, 1, 1, 1), 0), -EEXIST);
	fake->cfg.max_apid = 10;
	KUNIT_EXPECT_EQ(test, set(b, mx(11, 11, 1, 1), 0), -EEXIST);
	fake->cfg.max_apid = 255;
	KUNIT_EXPECT_NULL(test, kvm_s390_ap_matrix_owner(APQN(2, 2)));
	KUNIT_EXPECT_TRUE(test, crycb_zero(b));
	KUNIT_EXPECT_EQ(test, fake->nzapq, 0);
	b->arch.crypto.pqap_hook = NULL;
	KUNIT_EXPECT_EQ(test, set(b, mx(2, 2, 2, 2), 0), 0);
}

/* test_rule_eperm, without CAP_SYS_ADMIN: A holds @m under grant @g */
static void eperm_keep_reduce(struct kunit *test, struct kvm *a, struct kvm *b,
			      struct kvm_s390_ap_matrix m, int g)
{
	/* keeping, resetting, reducing, emptying: no authority needed */
	KUNIT_EXPECT_EQ(test, set(a, m, 0), 0);
	KUNIT_EXPECT_EQ(test, set(a, m, KVM_S390_AP_MATRIX_RESET), 0);
	KUNIT_EXPECT_EQ(test, fake->nzapq, 2);
	KUNIT_EXPECT_EQ(test, set(a, mx(1, 1, 1, 1), 0), 0);
	KUNIT_EXPECT_TRUE(test, get_is(a, mx(1, 1, 1, 1)));
	/* what was given up needs authority again */
	KUNIT_EXPECT_EQ(test, set(a, mx(1, 1, 1, 2), 0), -EPERM);
	KUNIT_EXPECT_EQ(test, set(a, m, 0), -EPERM);
	/* kept 1.1, added 1.2, 2.1, 2.2 under the grant */
	KUNIT_EXPECT_EQ(test, set_g(a, mx(1, 2, 1, 2), 0, g), 0);

	/* EPERM before EADDRINUSE: without authority, learn nothing */
	KUNIT_EXPECT_EQ(test, set(b, mx(1, 1, 1, 1), 0), -EPERM);
	KUNIT_EXPECT_EQ(test, validate(b, mx(1, 1, 1, 1)), -EPERM);
	/* a grant covers, it does not claim */
	KUNIT_EXPECT_EQ(test, set_g(b, mx(1, 1, 1, 1), 0, g), -EADDRINUSE);

	/* the grant is checked at SET only: closing it takes nothing away */
	forget_fd(g);
	close_fd(g);
	KUNIT_EXPECT_TRUE(test, get_is(a, mx(1, 2, 1, 2)));
	KUNIT_EXPECT_PTR_EQ(test, kvm_s390_ap_matrix_owner(APQN(2, 2)),
			    (void *)a);
	KUNIT_EXPECT_EQ(test, set(a, mx_empty(), 0), 0);
	KUNIT_EXPECT_EQ(test, set(a, mx(1, 1, 1, 1), 0), -EPERM);
}

/*
 * Adding a queue or a control domain needs a grant covering it or
 * CAP_SYS_ADMIN; keeping, reducing and resetting what the VM holds needs
 * neither.
 */
static void test_rule_eperm(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *b = apm_vm(test, CRYCB_FORMAT2);
	struct kvm_s390_ap_matrix m, m2;
	const struct cred *old;
	int g;

	m = mx(1, 2, 1, 2);
	mbit(m.adm, 3);
	g = grant(test, m);

	old = admin_drop(test);
	/* no authority: nothing can be added, not even a control domain */
	KUNIT_EXPECT_EQ(test, set(a, mx(1, 1, 1, 1), 0), -EPERM);
	KUNIT_EXPECT_EQ(test, validate(a, mx(1, 1, 1, 1)), -EPERM);
	m = mx_empty();
	mbit(m.adm, 3);
	KUNIT_EXPECT_EQ(test, set(a, m, 0), -EPERM);
	KUNIT_EXPECT_NULL(test, kvm_s390_ap_matrix_owner(APQN(1, 1)));
	KUNIT_EXPECT_TRUE(test, crycb_zero(a));

	/* a grant covering the added queues and control domain */
	m = mx(1, 1, 1, 2);
	mbit(m.adm, 3);
	KUNIT_EXPECT_EQ(test, set_g(a, m, KVM_S390_AP_MATRIX_VALIDATE_ONLY,
				    g), 0);
	KUNIT_EXPECT_EQ(test, set_g(a, m, 0, g), 0);
	KUNIT_EXPECT_TRUE(test, get_is(a, m));

	/* not covered: a queue of another adapter, of another domain */
	m2 = m;
	mbit(m2.apm, 3);
	KUNIT_EXPECT_EQ(test, set_g(a, m2, 0, g), -EPERM);
	m2 = m;
	mbit(m2.aqm, 3);
	KUNIT_EXPECT_EQ(test, set_g(a, m2, 0, g), -EPERM);
	/* ... a control domain */
	m2 = m;
	mbit(m2.adm, 4);
	KUNIT_EXPECT_EQ(test, set_g(a, m2, 0, g), -EPERM);
	/* ... a usage domain of the grant is not a control domain */
	m2 = m;
	mbit(m2.adm, 1);
	KUNIT_EXPECT_EQ(test, set_g(a, m2, 0, g), -EPERM);
	KUNIT_EXPECT_TRUE(test, get_is(a, m));

	eperm_keep_reduce(test, a, b, m, g);
	admin_restore(old);

	/* CAP_SYS_ADMIN stands in for a grant covering everything */
	m = mx(5, 6, 5, 6);
	mbit(m.adm, 9);
	KUNIT_EXPECT_EQ(test, set(b, m, 0), 0);
	KUNIT_EXPECT_EQ(test, set(a, mx(1, 1, 1, 1), 0), 0);
}

static int grant_req(struct apmatrix_grant *req)
{
	return kvm_s390_ap_matrix_grant_create(req);
}

static void grant_set(__u64 *m, unsigned int id)
{
	mbit(m, id);
}

/* the text of a file's fdinfo, from its show_fdinfo() */
static char *fdinfo(struct kunit *test, int fd)
{
	struct seq_file *seq;
	struct file *f;

	seq = kunit_kzalloc(test, sizeof(*seq), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, seq);
	seq->size = PAGE_SIZE;
	seq->buf = kunit_kzalloc(test, seq->size, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, seq->buf);
	f = fget(fd);
	KUNIT_ASSERT_NOT_NULL(test, f);
	if (f->f_op->show_fdinfo)
		f->f_op->show_fdinfo(seq, f);
	fput(f);
	seq->buf[min(seq->count, seq->size - 1)] = '\0';
	return seq->buf;
}

/* @text has the line "<name>:\t0x<64 hex digits>\n" of @mask */
static void expect_mask_line(struct kunit *test, const char *text,
			     const char *name, const __u64 *mask)
{
	char line[80];

	snprintf(line, sizeof(line), "%s:\t0x%016llx%016llx%016llx%016llx\n",
		 name, mask[0], mask[1], mask[2], mask[3]);
	KUNIT_EXPECT_NOT_NULL_MSG(test, strstr(text, line),
				  "fdinfo lacks %s, has: %s", line, text);
}

/* /dev/apmatrix's ioctl: checks, fd, fdinfo */
static void test_grant_create(struct kunit *test)
{
	struct apmatrix_grant req;
	unsigned int i;
	char *text;
	int fd;

	fake->cfg.max_apid = 10;
	fake->cfg.max_apqi = 20;
	bitmap_zero(fake->cfg.adm, 256);
	set_bit_inv(3, fake->cfg.adm);
	set_bit_inv(5, fake->cfg.adm);

	/* EINVAL: empty, flags, reserved */
	memset(&req, 0, sizeof(req));
	KUNIT_EXPECT_EQ(test, grant_req(&req), -EINVAL);
	grant_set(req.apm, 1);
	grant_set(req.aqm, 1);
	req.flags = 1;
	KUNIT_EXPECT_EQ(test, grant_req(&req), -EINVAL);
	req.flags = 1U << 31;
	KUNIT_EXPECT_EQ(test, grant_req(&req), -EINVAL);
	req.flags = 0;
	for (i = 0; i < ARRAY_SIZE(req.reserved); i++) {
		req.reserved[i] = 1;
		KUNIT_EXPECT_EQ(test, grant_req(&req), -EINVAL);
		req.reserved[i] = 0;
	}

	/* ENODEV: IDs outside the host's configuration */
	grant_set(req.apm, 11);
	KUNIT_EXPECT_EQ(test, grant_req(&req), -ENODEV);
	memset(&req, 0, sizeof(req));
	grant_set(req.apm, 1);
	grant_set(req.aqm, 21);
	KUNIT_EXPECT_EQ(test, grant_req(&req), -ENODEV);
	memset(&req, 0, sizeof(req));
	grant_set(req.apm, 1);
	grant_set(req.aqm, 1);
	grant_set(req.adm, 4);	/* in range, not configured */
	KUNIT_EXPECT_EQ(test, grant_req(&req), -ENODEV);

	/* a grant: a close-on-exec fd whose fdinfo shows its matrix */
	memset(&req, 0, sizeof(req));
	grant_set(req.apm, 1);
	grant_set(req.apm, 2);
	grant_set(req.apm, 10);
	grant_set(req.aqm, 1);
	grant_set(req.aqm, 20);
	grant_set(req.adm, 3);
	grant_set(req.adm, 5);
	fd = grant_req(&req);
	KUNIT_ASSERT_GE(test, fd, 0);
	ctx->fds[ctx->nfds++] = fd;
	KUNIT_EXPECT_TRUE(test, get_close_on_exec(fd));
	text = fdinfo(test, fd);
	/* ID 0 is the most significant bit, as in /sys/bus/ap/apmask */
	KUNIT_EXPECT_NOT_NULL_MSG(test, strstr(text, "apm:\t0x6020000000000000"),
				  "fdinfo: %s", text);
	KUNIT_EXPECT_NOT_NULL_MSG(test, strstr(text, "aqm:\t0x4000080000000000"),
				  "fdinfo: %s", text);
	KUNIT_EXPECT_NOT_NULL_MSG(test, strstr(text, "adm:\t0x1400000000000000"),
				  "fdinfo: %s", text);
	expect_mask_line(test, text, "apm", req.apm);
	expect_mask_line(test, text, "aqm", req.aqm);
	expect_mask_line(test, text, "adm", req.adm);
	/* a control domain alone is a grant too */
	memset(&req, 0, sizeof(req));
	grant_set(req.adm, 5);
	fd = grant_req(&req);
	KUNIT_EXPECT_GE(test, fd, 0);
	if (fd >= 0)
		ctx->fds[ctx->nfds++] = fd;
}

/*
 * RESET with a kept queue whose reset does not complete: EIO, and the VM
 * holds the new matrix minus that queue's adapter; the queue is failed.
 */
static void test_reset_eio(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *b = apm_vm(test, CRYCB_FORMAT2);
	struct kvm_s390_ap_matrix m, left;
	enum kvm_s390_ap_queue_state st;

	m = mx(1, 3, 1, 2);
	mbit(m.adm, 4);
	KUNIT_ASSERT_EQ(test, set(a, m, 0), 0);
	set_bit(APQN(2, 2), fake->stuck);
	KUNIT_EXPECT_EQ(test, set(a, m, KVM_S390_AP_MATRIX_RESET), -EIO);

	left = mx(1, 1, 1, 2);
	mbit(left.apm, 3);
	mbit(left.adm, 4);
	KUNIT_EXPECT_TRUE(test, get_is(a, left));
	KUNIT_EXPECT_EQ(test, a->arch.crypto.crycb->apcb1.apm[0],
			(1ULL << 62) | (1ULL << 60));
	KUNIT_EXPECT_EQ(test, a->arch.crypto.crycb->apcb1.aqm[0],
			3ULL << 61);
	st = qstate(APQN(2, 2));
	KUNIT_EXPECT_TRUE(test, not_free(st));
	KUNIT_EXPECT_EQ(test, set(b, mx(2, 2, 2, 2), 0), -EBUSY);
	apm_flush();
	KUNIT_EXPECT_EQ(test, qstate(APQN(2, 2)),
			KVM_S390_AP_QUEUE_RESET_FAILED);
	/* marked failed by the SET (contract), not retried by the worker */
	KUNIT_EXPECT_EQ(test, fake->zapqs[APQN(2, 2)], 1);
	KUNIT_EXPECT_EQ(test, set(b, mx(2, 2, 2, 2), 0), -EBUSY);
	/* 2.1 was reset and left the VM: free */
	KUNIT_EXPECT_EQ(test, qstate(APQN(2, 1)), KVM_S390_AP_QUEUE_FREE);
	KUNIT_EXPECT_EQ(test, qstate(APQN(1, 1)), KVM_S390_AP_QUEUE_IN_USE);
	KUNIT_EXPECT_EQ(test, qstate(APQN(3, 2)), KVM_S390_AP_QUEUE_IN_USE);
	KUNIT_EXPECT_EQ(test, set(b, mx(2, 2, 1, 1), 0), 0);

	/* when every reset completes, RESET succeeds */
	clear_bit(APQN(2, 2), fake->stuck);
	KUNIT_EXPECT_EQ(test, set(a, left, KVM_S390_AP_MATRIX_RESET), 0);
	recover(APQN(2, 2));
	KUNIT_EXPECT_EQ(test, qstate(APQN(2, 2)), KVM_S390_AP_QUEUE_FREE);
}

/* a hand-over of more than 64 queues (several reset batches) */
static void test_handover_many(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *b = apm_vm(test, CRYCB_FORMAT2);
	unsigned int apid, apqi, once = 0, twice = 0;

	/* 2 x 65 = 130 queues */
	KUNIT_ASSERT_EQ(test, set(a, mx(1, 2, 0, 64), 0), 0);
	KUNIT_EXPECT_EQ(test, set(a, mx(1, 2, 0, 64),
				  KVM_S390_AP_MATRIX_RESET), 0);
	KUNIT_EXPECT_EQ(test, fake->nzapq, 130);
	for (apid = 1; apid <= 2; apid++)
		for (apqi = 0; apqi <= 64; apqi++)
			once += fake->zapqs[APQN(apid, apqi)] == 1;
	KUNIT_EXPECT_EQ(test, once, 130);
	KUNIT_EXPECT_EQ(test, set(b, mx(2, 2, 64, 64), 0), -EADDRINUSE);

	KUNIT_EXPECT_EQ(test, set(a, mx_empty(), 0), 0);
	apm_flush();
	KUNIT_EXPECT_EQ(test, fake->nzapq, 260);
	for (apid = 1; apid <= 2; apid++)
		for (apqi = 0; apqi <= 64; apqi++) {
			twice += fake->zapqs[APQN(apid, apqi)] == 2;
			KUNIT_EXPECT_EQ(test, qstate(APQN(apid, apqi)),
					KVM_S390_AP_QUEUE_FREE);
		}
	KUNIT_EXPECT_EQ(test, twice, 130);
	KUNIT_EXPECT_EQ(test, set(b, mx(1, 2, 0, 64), 0), 0);
}

/* wait at most LONG_WAIT until the queue's owner table entry is gone */
static bool wait_free(unsigned int apqn)
{
	unsigned long end = jiffies + LONG_WAIT;

	while (kvm_s390_ap_matrix_owner(apqn)) {
		if (time_after(jiffies, end))
			return false;
		msleep(20);
	}
	return true;
}

/*
 * A VMM holding its kvm->lock (for as long as it likes: a PV unpack, or
 * KVM_PV_ENABLE waiting for a parked vCPU) delays only its own queues'
 * CRYCB rewrite and resets, never another VM's; and a queue taken from a
 * guest is not reset while the guest's CRYCB still has it.
 */
static void test_rewrite_per_vm(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *b = apm_vm(test, CRYCB_FORMAT2);

	KUNIT_ASSERT_EQ(test, set(a, mx(1, 1, 1, 1), 0), 0);
	KUNIT_ASSERT_EQ(test, set(b, mx(2, 2, 1, 1), 0), 0);
	mutex_lock(&a->lock);
	kvm_s390_ap_matrix_queue_removed(APQN(1, 1));
	kvm_s390_ap_matrix_queue_removed(APQN(2, 1));
	/* B's queue is rewritten out, reset and released */
	KUNIT_EXPECT_TRUE_MSG(test, wait_free(APQN(2, 1)),
			      "B's reset waits for A's kvm->lock");
	KUNIT_EXPECT_EQ(test, fake->zapqs[APQN(2, 1)], 1);
	KUNIT_EXPECT_EQ(test, b->arch.crypto.crycb->apcb1.apm[0], 0);
	/* A's CRYCB still has its queue: not reset, not free */
	msleep(50);
	KUNIT_EXPECT_EQ(test, fake->zapqs[APQN(1, 1)], 0);
	KUNIT_EXPECT_EQ(test, qstate(APQN(1, 1)), KVM_S390_AP_QUEUE_RESETTING);
	KUNIT_EXPECT_EQ(test, a->arch.crypto.crycb->apcb1.apm[0], 1ULL << 62);
	KUNIT_EXPECT_TRUE(test, in_use(1, 1));
	mutex_unlock(&a->lock);
	/* once A's lock is free, its CRYCB is rewritten, then the reset */
	KUNIT_EXPECT_TRUE(test, wait_free(APQN(1, 1)));
	KUNIT_EXPECT_EQ(test, a->arch.crypto.crycb->apcb1.apm[0], 0);
	KUNIT_EXPECT_EQ(test, fake->zapqs[APQN(1, 1)], 1);
}

/*
 * One short bound for a whole hand-over, however many batches of queues it
 * resets: 100 queues whose resets do not complete cost the SET polls TAPQ
 * rounds of the first batch only, the rest is the reset worker's.
 */
static void test_handover_one_bound(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	unsigned int apid, apqi;

	kvm_s390_ap_matrix_tunables.polls = 3;
	/* 2 x 50 = 100 queues, more than one batch of 64 */
	KUNIT_ASSERT_EQ(test, set(a, mx(1, 2, 0, 49), 0), 0);
	fake->tapq_default = RC_RESET_IN_PROGRESS;
	/* the worker's polls are held: only the SET's are counted */
	fake_block_first_worker_tapq();
	fake->ntapq = 0;
	KUNIT_EXPECT_EQ(test, set(a, mx_empty(), 0), 0);
	KUNIT_EXPECT_LE(test, fake->ntapq, 3 * 64);
	KUNIT_EXPECT_EQ(test, fake->nzapq, 100);
	fake->tapq_default = RC_NORMAL;
	fake_release_tapq();
	apm_flush();
	for (apid = 1; apid <= 2; apid++)
		for (apqi = 0; apqi <= 49; apqi++)
			KUNIT_EXPECT_EQ(test, qstate(APQN(apid, apqi)),
					KVM_S390_AP_QUEUE_FREE);
}

/*
 * A request refused for its range (ENODEV) or authority (EPERM) takes no AP
 * bus lock: a VMM looping refused SETs or probes does not contend it.
 */
static void test_refusal_no_ap_lock(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	const struct cred *old;
	int n;

	KUNIT_ASSERT_EQ(test, set(a, mx(1, 1, 1, 1), 0), 0);
	n = atomic_read(&fake->nunlock);
	old = admin_drop(test);
	KUNIT_EXPECT_EQ(test, set(a, mx(1, 2, 1, 1), 0), -EPERM);
	KUNIT_EXPECT_EQ(test, validate(a, mx(1, 1, 1, 2)), -EPERM);
	/* keeping what it holds needs no authority, and is checked */
	KUNIT_EXPECT_EQ(test, validate(a, mx(1, 1, 1, 1)), 0);
	admin_restore(old);
	KUNIT_EXPECT_EQ(test, atomic_read(&fake->nunlock), n + 1);
	fake->cfg.max_apid = 10;
	KUNIT_EXPECT_EQ(test, set(a, mx(11, 11, 1, 1), 0), -ENODEV);
	KUNIT_EXPECT_EQ(test, validate(a, mx(1, 1, 1, 1)), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&fake->nunlock), n + 2);
	KUNIT_EXPECT_TRUE(test, get_is(a, mx(1, 1, 1, 1)));
}

/*
 * A VM that set the empty matrix holds no AP matrix any more: vfio_ap may
 * attach to it (it checks kvm->arch.crypto.ap_matrix under kvm->lock).
 */
static void test_empty_matrix_forgets(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);

	KUNIT_ASSERT_EQ(test, set(a, mx(1, 1, 1, 1), 0), 0);
	KUNIT_EXPECT_NOT_NULL(test, a->arch.crypto.ap_matrix);
	KUNIT_EXPECT_EQ(test, set(a, mx_empty(), 0), 0);
	KUNIT_EXPECT_NULL(test, a->arch.crypto.ap_matrix);
	KUNIT_EXPECT_TRUE(test, get_is(a, mx_empty()));
	KUNIT_EXPECT_TRUE(test, crycb_zero(a));
	apm_flush();
	KUNIT_EXPECT_EQ(test, qstate(APQN(1, 1)), KVM_S390_AP_QUEUE_FREE);
	/* and it may be given a matrix again */
	KUNIT_EXPECT_EQ(test, set(a, mx(1, 1, 1, 1), 0), 0);
	KUNIT_EXPECT_NOT_NULL(test, a->arch.crypto.ap_matrix);
	KUNIT_EXPECT_EQ(test, a->arch.crypto.crycb->apcb1.apm[0], 1ULL << 62);
}

/*
 * The AP driver's module exit takes every queue from every guest and
 * returns only once the CRYCBs were rewritten and the queues reset, while
 * the AP bus still asks its in_use().
 */
static void test_release_all(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *b = apm_vm(test, CRYCB_FORMAT2);
	struct kvm_s390_ap_matrix g;

	KUNIT_ASSERT_EQ(test, set(a, mx(1, 1, 1, 2), 0), 0);
	KUNIT_ASSERT_EQ(test, set(b, mx(2, 2, 1, 1), 0), 0);
	kvm_s390_ap_matrix_release_all();
	KUNIT_EXPECT_EQ(test, qstate(APQN(1, 1)), KVM_S390_AP_QUEUE_FREE);
	KUNIT_EXPECT_EQ(test, qstate(APQN(1, 2)), KVM_S390_AP_QUEUE_FREE);
	KUNIT_EXPECT_EQ(test, qstate(APQN(2, 1)), KVM_S390_AP_QUEUE_FREE);
	KUNIT_EXPECT_EQ(test, fake->zapqs[APQN(1, 1)], 1);
	KUNIT_EXPECT_EQ(test, fake->zapqs[APQN(1, 2)], 1);
	KUNIT_EXPECT_EQ(test, fake->zapqs[APQN(2, 1)], 1);
	KUNIT_EXPECT_EQ(test, a->arch.crypto.crycb->apcb1.apm[0], 0);
	KUNIT_EXPECT_EQ(test, b->arch.crypto.crycb->apcb1.apm[0], 0);
	KUNIT_ASSERT_EQ(test, get(a, &g), 0);
	KUNIT_EXPECT_EQ(test, g.apm[0], 0);
}

/*
 * The AP driver is unloaded: the AP bus removes every queue from it first
 * (remove(), with the host operations still registered), so each queue a
 * VM held is reset through them before they go away.  A VM destroyed
 * afterwards has nothing left to reset.
 */
static void test_driver_unload(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *b = apm_vm(test, CRYCB_FORMAT2);

	KUNIT_ASSERT_EQ(test, set(a, mx(1, 1, 1, 2), 0), 0);
	set_bit(APQN(1, 1), fake->unavailable);
	kvm_s390_ap_matrix_queue_removed(APQN(1, 1));
	set_bit(APQN(1, 2), fake->unavailable);
	kvm_s390_ap_matrix_queue_removed(APQN(1, 2));
	apm_flush();
	kvm_s390_ap_matrix_swap_ops(NULL);
	KUNIT_EXPECT_EQ(test, fake->zapqs[APQN(1, 1)], 1);
	KUNIT_EXPECT_EQ(test, fake->zapqs[APQN(1, 2)], 1);
	KUNIT_EXPECT_EQ(test, a->arch.crypto.crycb->apcb1.apm[0], 0);
	KUNIT_EXPECT_EQ(test, qstate(APQN(1, 1)), KVM_S390_AP_QUEUE_FREE);
	KUNIT_EXPECT_EQ(test, qstate(APQN(1, 2)), KVM_S390_AP_QUEUE_FREE);
	apm_vm_destroy(a);
	kvm_s390_ap_matrix_swap_ops(&fake_ops);
	KUNIT_EXPECT_EQ(test, fake->nzapq, 2);
	clear_bit(APQN(1, 1), fake->unavailable);
	clear_bit(APQN(1, 2), fake->unavailable);
	KUNIT_EXPECT_EQ(test, set(b, mx(1, 1, 1, 2), 0), 0);
}

/*
 * A VM destroyed while no host operations are registered: kvm.ko resets
 * with the PQAP instructions itself.  Without AP instructions (as under
 * TCG, where this runs) no queue exists and nothing can be left in one;
 * with them, a queue is free only after its reset completed.
 */
static void test_destroy_without_ops(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *b = apm_vm(test, CRYCB_FORMAT2);
	enum kvm_s390_ap_queue_state st;

	KUNIT_ASSERT_EQ(test, set(a, mx(1, 1, 1, 2), 0), 0);
	kvm_s390_ap_matrix_swap_ops(NULL);
	apm_vm_destroy(a);
	apm_flush();
	kvm_s390_ap_matrix_swap_ops(&fake_ops);
	/* the fake operations were not registered: not used */
	KUNIT_EXPECT_EQ(test, fake->nzapq, 0);
	KUNIT_EXPECT_FALSE(test, in_use(1, 1));
	st = qstate(APQN(1, 1));
	if (ap_instructions_available()) {
		KUNIT_EXPECT_NE(test, st, KVM_S390_AP_QUEUE_IN_USE);
		return;
	}
	KUNIT_EXPECT_EQ(test, st, KVM_S390_AP_QUEUE_FREE);
	KUNIT_EXPECT_EQ(test, qstate(APQN(1, 2)), KVM_S390_AP_QUEUE_FREE);
	KUNIT_EXPECT_EQ(test, set(b, mx(1, 1, 1, 2), 0), 0);
}

/*
 * A reset that never finishes: the SET returns after its bound, the queue
 * stays resetting (EBUSY, in use) while the worker polls, then is failed
 * for good: nothing makes it claimable but a completed reset.
 */
static void test_reset_worker_never_finishes(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *b = apm_vm(test, CRYCB_FORMAT2);
	pid_t pid = 0;

	KUNIT_ASSERT_EQ(test, set(a, mx(1, 1, 1, 1), 0), 0);
	KUNIT_EXPECT_EQ(test, kvm_s390_ap_matrix_queue_state(APQN(1, 1), &pid),
			KVM_S390_AP_QUEUE_IN_USE);
	KUNIT_EXPECT_EQ(test, pid, a->userspace_pid);
	set_bit(APQN(1, 1), fake->stuck);
	fake_block_first_worker_tapq();
	KUNIT_EXPECT_EQ(test, set(a, mx_empty(), 0), 0);
	KUNIT_EXPECT_TRUE(test, get_is(a, mx_empty()));
	KUNIT_EXPECT_TRUE(test, crycb_zero(a));
	/* the worker goes on with the reset (held in its first TAPQ) */
	KUNIT_EXPECT_TRUE(test, wait_for_completion_timeout(&fake->tapq_entered,
							    LONG_WAIT));
	KUNIT_EXPECT_EQ(test, qstate(APQN(1, 1)), KVM_S390_AP_QUEUE_RESETTING);
	KUNIT_EXPECT_EQ(test, set(b, mx(1, 1, 1, 1), 0), -EBUSY);
	KUNIT_EXPECT_EQ(test, set(a, mx(1, 1, 1, 1), 0), -EBUSY);
	KUNIT_EXPECT_TRUE(test, in_use(1, 1));
	fake_release_tapq();
	apm_flush();
	KUNIT_EXPECT_FALSE(test, READ_ONCE(fake->tapq_timed_out));
	KUNIT_EXPECT_EQ(test, qstate(APQN(1, 1)),
			KVM_S390_AP_QUEUE_RESET_FAILED);
	KUNIT_EXPECT_GE(test, fake->ntapq,
			kvm_s390_ap_matrix_tunables.worker_polls);
	KUNIT_EXPECT_EQ(test, set(b, mx(1, 1, 1, 1), 0), -EBUSY);
	/* the queue would answer now: still failed, nobody may claim it */
	clear_bit(APQN(1, 1), fake->stuck);
	apm_flush();
	KUNIT_EXPECT_EQ(test, qstate(APQN(1, 1)),
			KVM_S390_AP_QUEUE_RESET_FAILED);
	KUNIT_EXPECT_EQ(test, set(b, mx(1, 1, 1, 1), 0), -EBUSY);
	recover(APQN(1, 1));
	KUNIT_EXPECT_EQ(test, qstate(APQN(1, 1)), KVM_S390_AP_QUEUE_FREE);
	KUNIT_EXPECT_EQ(test, set(b, mx(1, 1, 1, 1), 0), 0);
}

/*
 * Allocation failures: failslab, restricted to the test thread
 * (task-filter, make_it_fail), with a budget ("space", in bytes) that the
 * allocations use up before every further one fails.  Raising the budget
 * step by step moves the first failure through every allocation of an
 * operation.  A single failure (fail-nth) is not enough: the XArray retries
 * a failed GFP_NOWAIT node allocation with the caller's GFP_KERNEL.
 */
struct failslab_knobs {
	bool *ignore_gfp_wait, *task_filter;
	unsigned long *probability, *interval, *verbose;
	atomic_t *times, *space;
	bool saved_ignore, saved_filter;
	unsigned long saved_probability, saved_interval, saved_verbose;
	int saved_times, saved_space;
};

#define FAILSLAB_TIMES	1000000000

#if IS_ENABLED(CONFIG_FAILSLAB) && IS_ENABLED(CONFIG_FAULT_INJECTION_DEBUG_FS)
/* the variable behind /sys/kernel/debug/failslab/<name> */
static void *failslab_knob(const char *name)
{
	struct dentry *dir, *d;
	void *p = NULL;

	dir = debugfs_lookup("failslab", NULL);
	if (IS_ERR_OR_NULL(dir))
		return NULL;
	d = debugfs_lookup(name, dir);
	if (!IS_ERR_OR_NULL(d)) {
		p = d_inode(d)->i_private;
		dput(d);
	}
	dput(dir);
	return p;
}

static void failslab_arm(struct failslab_knobs *k, int space)
{
	atomic_set(k->space, space);
	atomic_set(k->times, FAILSLAB_TIMES);
	current->make_it_fail = 1;
}

/* how many allocations failed since failslab_arm() */
static unsigned int failslab_disarm(struct failslab_knobs *k)
{
	current->make_it_fail = 0;
	return FAILSLAB_TIMES - atomic_read(k->times);
}
#else
static void *failslab_knob(const char *name)
{
	return NULL;
}

static void failslab_arm(struct failslab_knobs *k, int space)
{
}

static unsigned int failslab_disarm(struct failslab_knobs *k)
{
	return 0;
}
#endif

static bool failslab_setup(struct failslab_knobs *k)
{
	k->ignore_gfp_wait = failslab_knob("ignore-gfp-wait");
	k->task_filter = failslab_knob("task-filter");
	k->probability = failslab_knob("probability");
	k->interval = failslab_knob("interval");
	k->verbose = failslab_knob("verbose");
	k->times = failslab_knob("times");
	k->space = failslab_knob("space");
	if (!k->ignore_gfp_wait || !k->task_filter || !k->probability ||
	    !k->interval || !k->verbose || !k->times || !k->space)
		return false;
	k->saved_ignore = *k->ignore_gfp_wait;
	k->saved_filter = *k->task_filter;
	k->saved_probability = *k->probability;
	k->saved_interval = *k->interval;
	k->saved_verbose = *k->verbose;
	k->saved_times = atomic_read(k->times);
	k->saved_space = atomic_read(k->space);
	*k->ignore_gfp_wait = false;	/* GFP_KERNEL fails too */
	*k->task_filter = true;		/* only the test thread */
	*k->verbose = 0;		/* no stack dump per failure */
	*k->interval = 1;
	atomic_set(k->times, 0);
	*k->probability = 100;
	return true;
}

static void failslab_restore(struct failslab_knobs *k)
{
	*k->probability = k->saved_probability;
	*k->ignore_gfp_wait = k->saved_ignore;
	*k->task_filter = k->saved_filter;
	*k->interval = k->saved_interval;
	*k->verbose = k->saved_verbose;
	atomic_set(k->times, k->saved_times);
	atomic_set(k->space, k->saved_space);
}

/*
 * failslab armed for this test (the case is skipped without it); ctx keeps
 * it so that the exit hook restores it if the case fails halfway.
 */
static struct failslab_knobs *failslab_begin(struct kunit *test)
{
	struct failslab_knobs *k;

	k = kunit_kzalloc(test, sizeof(*k), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, k);
	if (!failslab_setup(k))
		kunit_skip(test, "needs FAILSLAB and FAULT_INJECTION_DEBUG_FS");
	ctx->failslab = k;
	return k;
}

static void failslab_end(struct failslab_knobs *k)
{
	failslab_restore(k);
	ctx->failslab = NULL;
}

/* the state a refused SET must leave alone */
#define SNAP_APIDS	4
#define SNAP_APQIS	80
#define SPACE_STEP	32

struct apm_snap {
	enum kvm_s390_ap_queue_state st[SNAP_APIDS * SNAP_APQIS];
	struct kvm_s390_crypto_cb crycb;
	struct kvm_s390_ap_matrix get;
};

static void snap(struct kunit *test, struct kvm *kvm, struct apm_snap *s)
{
	unsigned int i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < SNAP_APIDS * SNAP_APQIS; i++)
		s->st[i] = qstate(APQN(i / SNAP_APQIS, i % SNAP_APQIS));
	cond_resched();
	s->crycb = *kvm->arch.crypto.crycb;
	KUNIT_EXPECT_EQ(test, get(kvm, &s->get), 0);
}

/*
 * Let a SET's allocations fail from the first one on, then from the
 * second, ... until it makes them all: each refused SET returns ENOMEM and
 * changes nothing.  Returns how many SETs were refused.
 */
static unsigned int inject_set(struct kunit *test, struct failslab_knobs *k,
			       struct kvm *kvm, struct kvm_s390_ap_matrix m,
			       u32 flags, struct kvm_s390_ap_matrix undo)
{
	struct apm_snap *before, *after;
	unsigned int space, failures, refused = 0;
	int rc;

	before = kunit_kzalloc(test, sizeof(*before), GFP_KERNEL);
	after = kunit_kzalloc(test, sizeof(*after), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, before);
	KUNIT_ASSERT_NOT_NULL(test, after);
	for (space = 0; space < 256 * 1024; space += SPACE_STEP) {
		/* thousands of SETs: let RCU and others run (no preemption) */
		cond_resched();
		snap(test, kvm, before);
		failslab_arm(k, space);
		rc = set(kvm, m, flags);
		failures = failslab_disarm(k);
		if (!rc) {
			KUNIT_EXPECT_TRUE(test, get_is(kvm, m));
			KUNIT_ASSERT_EQ(test, set(kvm, undo, 0), 0);
			apm_flush();
			if (!failures)
				break;
			continue;
		}
		refused++;
		KUNIT_EXPECT_EQ_MSG(test, rc, -ENOMEM, "budget %u", space);
		snap(test, kvm, after);
		KUNIT_EXPECT_EQ_MSG(test, memcmp(before, after, sizeof(*after)),
				    0, "state changed, budget %u", space);
	}
	KUNIT_EXPECT_LT(test, space, 256 * 1024);
	return refused;
}

/* grant creation fails with ENOMEM and leaves no fd behind */
static void inject_grant(struct kunit *test, struct failslab_knobs *k)
{
	struct apmatrix_grant req;
	unsigned int space, failures, refused = 0;
	int fd, free_fd;

	memset(&req, 0, sizeof(req));
	mbit(req.apm, 1);
	mbit(req.aqm, 1);
	free_fd = kvm_s390_ap_matrix_grant_create(&req);
	KUNIT_ASSERT_GE(test, free_fd, 0);
	close_fd(free_fd);
	for (space = 0; space < 64 * 1024; space += SPACE_STEP) {
		cond_resched();
		failslab_arm(k, space);
		fd = kvm_s390_ap_matrix_grant_create(&req);
		failures = failslab_disarm(k);
		if (fd >= 0) {
			close_fd(fd);
			if (!failures)
				break;
			continue;
		}
		refused++;
		KUNIT_EXPECT_EQ(test, fd, -ENOMEM);
	}
	KUNIT_EXPECT_GT(test, refused, 0);
	/* the lowest free fd is still the one it was */
	fd = kvm_s390_ap_matrix_grant_create(&req);
	KUNIT_EXPECT_EQ(test, fd, free_fd);
	if (fd >= 0)
		close_fd(fd);
}

/* an allocation failure at any step leaves everything as it was */
static void test_alloc_failure(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *b = apm_vm(test, CRYCB_FORMAT2);
	struct failslab_knobs *k;
	struct kvm_s390_ap_matrix m;
	unsigned int refused;

	k = failslab_begin(test);

	KUNIT_ASSERT_EQ(test, set(b, mx(0, 0, 0, 3), 0), 0);
	/* a VM's first matrix */
	m = mx(1, 2, 0, 3);
	mbit(m.adm, 5);
	refused = inject_set(test, k, a, m, 0, mx_empty());
	KUNIT_EXPECT_GT(test, refused, 0);
	/* growing into new parts of the owner table */
	KUNIT_ASSERT_EQ(test, set(a, mx(1, 1, 1, 1), 0), 0);
	m = mx(1, 3, 0, 79);
	mbit(m.adm, 200);
	refused = inject_set(test, k, a, m, 0, mx(1, 1, 1, 1));
	KUNIT_EXPECT_GT(test, refused, 0);
	/* a hand-over with RESET, a shrink */
	KUNIT_ASSERT_EQ(test, set(a, mx(1, 3, 0, 3), 0), 0);
	inject_set(test, k, a, mx(1, 3, 0, 3), KVM_S390_AP_MATRIX_RESET,
		   mx(1, 3, 0, 3));
	inject_set(test, k, a, mx(2, 3, 0, 3), 0, mx(1, 3, 0, 3));
	inject_grant(test, k);
	failslab_end(k);
	KUNIT_EXPECT_EQ(test, set(a, mx_empty(), 0), 0);
}

/*
 * Marker storage: the SET that first claims a domain of an adapter
 * allocates the adapter's marker storage, before any AP lock; a SET on
 * adapters that have it allocates nothing; a queue that leaves a guest in
 * remove() (AP device lock) or on_config_changed() (ap_scan_bus_mutex)
 * allocates nothing, so it gets its marker and its reset with every
 * allocation failing.  The storage outlives the guests (bounded: one per
 * adapter) until release_all() or kvm.ko's exit frees it.  failslab never
 * fails a __GFP_NOFAIL allocation (the old marker's): that one only the
 * lockdep run (apm_suite_init()) and the simulated host's shim report.
 */
static void test_marker_storage(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *b = apm_vm(test, CRYCB_FORMAT2);
	unsigned long apm[4] = {}, aqm[4] = {}, adm[4] = {};
	struct failslab_knobs *k;
	unsigned int failed;
	int rc;

	k = failslab_begin(test);

	/* nothing is held: release_all() frees every adapter's storage */
	kvm_s390_ap_matrix_release_all();
	KUNIT_EXPECT_EQ(test, kvm_s390_ap_matrix_storage(), 0);
	KUNIT_ASSERT_EQ(test, set(a, mx(1, 2, 1, 2), 0), 0);
	KUNIT_EXPECT_EQ(test, kvm_s390_ap_matrix_storage(), 2);
	KUNIT_ASSERT_EQ(test, set(b, mx(3, 3, 1, 1), 0), 0);
	KUNIT_EXPECT_EQ(test, kvm_s390_ap_matrix_storage(), 3);
	/* a SET that adds an adapter gets it storage */
	KUNIT_ASSERT_EQ(test, set(b, mx(3, 4, 1, 1), 0), 0);
	KUNIT_EXPECT_EQ(test, kvm_s390_ap_matrix_storage(), 4);
	KUNIT_ASSERT_EQ(test, set(b, mx(3, 3, 1, 1), 0), 0);

	/* steady state: a SET of adapters that have storage allocates nothing */
	failslab_arm(k, 0);
	rc = set(a, mx(1, 2, 1, 2), 0);
	failed = failslab_disarm(k);
	KUNIT_EXPECT_EQ(test, rc, 0);
	KUNIT_EXPECT_EQ(test, failed, 0);

	/* leaving a guest allocates nothing: every allocation would fail */
	fake->nzapq = 0;
	failslab_arm(k, 0);
	kvm_s390_ap_matrix_queue_removed(APQN(1, 1));
	set_bit_inv(3, apm);
	kvm_s390_ap_matrix_config_removed(apm, aqm, adm);
	failed = failslab_disarm(k);
	KUNIT_EXPECT_EQ(test, failed, 0);
	apm_flush();
	/* each queue that left got its marker, its reset, and is free again */
	KUNIT_EXPECT_EQ(test, fake->zapqs[APQN(1, 1)], 1);
	KUNIT_EXPECT_EQ(test, fake->zapqs[APQN(1, 2)], 1);
	KUNIT_EXPECT_EQ(test, fake->zapqs[APQN(3, 1)], 1);
	KUNIT_EXPECT_EQ(test, fake->nzapq, 3);
	KUNIT_EXPECT_EQ(test, qstate(APQN(1, 1)), KVM_S390_AP_QUEUE_FREE);
	KUNIT_EXPECT_EQ(test, qstate(APQN(3, 1)), KVM_S390_AP_QUEUE_FREE);
	KUNIT_EXPECT_PTR_EQ(test, kvm_s390_ap_matrix_owner(APQN(2, 2)),
			    (void *)a);

	/* the guests go: the storage stays, bounded by the adapters used */
	apm_vm_destroy(a);
	apm_vm_destroy(b);
	apm_flush();
	KUNIT_EXPECT_EQ(test, kvm_s390_ap_matrix_storage(), 4);
	/* the AP driver's exit frees what nobody uses */
	kvm_s390_ap_matrix_release_all();
	KUNIT_EXPECT_EQ(test, kvm_s390_ap_matrix_storage(), 0);
	/* and so does kvm.ko's exit, with nothing left to reset */
	a = apm_vm(test, CRYCB_FORMAT2);
	KUNIT_ASSERT_EQ(test, set(a, mx(5, 6, 1, 1), 0), 0);
	KUNIT_EXPECT_EQ(test, kvm_s390_ap_matrix_storage(), 2);
	apm_vm_destroy(a);
	kvm_s390_ap_matrix_exit();
	KUNIT_EXPECT_EQ(test, kvm_s390_ap_matrix_storage(), 0);
	failslab_end(k);
}

/*
 * Marker storage is not charged to the VMM, so a request that is refused
 * must not allocate it: only a round whose checks passed does.  failslab
 * lets the holder entry (64 bytes) through and fails anything bigger, as
 * the 2 KiB of storage for adapter 2.
 */
static void test_refused_no_storage(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct failslab_knobs *k;
	unsigned int failed;
	int rc;

	k = failslab_begin(test);

	kvm_s390_ap_matrix_release_all();
	KUNIT_ASSERT_EQ(test, kvm_s390_ap_matrix_storage(), 0);
	KUNIT_ASSERT_EQ(test, set(a, mx(1, 1, 1, 1), 0), 0);
	KUNIT_ASSERT_EQ(test, kvm_s390_ap_matrix_storage(), 1);
	/* adapter 2 has no storage; its queue is not the driver's */
	set_bit(APQN(2, 1), fake->unavailable);
	failslab_arm(k, 1024);
	rc = set(a, mx(1, 2, 1, 1), 0);
	failed = failslab_disarm(k);
	KUNIT_EXPECT_EQ(test, rc, -EADDRNOTAVAIL);
	KUNIT_EXPECT_EQ_MSG(test, failed, 0,
			    "a refused SET allocated marker storage");
	KUNIT_EXPECT_EQ(test, kvm_s390_ap_matrix_storage(), 1);
	KUNIT_EXPECT_TRUE(test, get_is(a, mx(1, 1, 1, 1)));
	clear_bit(APQN(2, 1), fake->unavailable);
	/* once the checks pass, the SET allocates it and claims */
	KUNIT_EXPECT_EQ(test, set(a, mx(1, 2, 1, 1), 0), 0);
	KUNIT_EXPECT_EQ(test, kvm_s390_ap_matrix_storage(), 2);
	KUNIT_EXPECT_TRUE(test, get_is(a, mx(1, 2, 1, 1)));
	failslab_end(k);
}

/*
 * Two SETs give storage to the same fresh adapter: A claims adapters 1 and
 * 2, its first round finds storage missing and it prepares two slots;
 * before its second round takes the AP lock, B claims adapter 2 (and gets
 * it storage).  A's allocation then has a slot for adapter 2 that it must
 * not keep idle (an allocation stays while one of its adapters is used):
 * A prepares again, and the storage is one slot per adapter with storage,
 * the bound the design promises.
 */
static void test_marker_storage_race(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *b = apm_vm(test, CRYCB_FORMAT2);
	struct apm_thread *ta;

	/* nothing is held: release_all() frees every adapter's storage */
	kvm_s390_ap_matrix_release_all();
	KUNIT_ASSERT_EQ(test, kvm_s390_ap_matrix_storage(), 0);
	reinit_completion(&fake->paused);
	reinit_completion(&fake->resume);
	/* A's second lock(): after it prepared storage for adapters 1, 2 */
	atomic_set(&fake->pause_before_lock, 2);
	ta = apm_thread_start(test, thread_set, a, mx(1, 2, 1, 1), 0);
	KUNIT_ASSERT_TRUE(test, wait_for_completion_timeout(&fake->paused,
							    LONG_WAIT));
	KUNIT_EXPECT_EQ(test, set(b, mx(2, 2, 2, 2), 0), 0);
	KUNIT_EXPECT_EQ(test, kvm_s390_ap_matrix_storage(), 1);
	complete(&fake->resume);
	KUNIT_EXPECT_TRUE(test, apm_thread_wait(ta, LONG_WAIT));
	KUNIT_EXPECT_EQ(test, ta->rc, 0);
	KUNIT_EXPECT_TRUE(test, get_is(a, mx(1, 2, 1, 1)));
	KUNIT_EXPECT_TRUE(test, get_is(b, mx(2, 2, 2, 2)));
	/* adapters 1 and 2: two slots, not B's one plus A's two */
	KUNIT_EXPECT_EQ(test, kvm_s390_ap_matrix_storage(), 2);
	KUNIT_EXPECT_EQ(test, set(a, mx_empty(), 0), 0);
	KUNIT_EXPECT_EQ(test, set(b, mx_empty(), 0), 0);
	apm_flush();
	kvm_s390_ap_matrix_release_all();
	KUNIT_EXPECT_EQ(test, kvm_s390_ap_matrix_storage(), 0);
}

/*
 * VM B claims every queue of adapter @apid, domains @d0..@d1, that it can
 * get now (probing one domain at a time, as libapmatrix does), and marks
 * them: a ZAPQ of one of them is a bug from then on.  Returns how many.
 */
static unsigned int claim_free(struct kunit *test, struct kvm *b,
			       unsigned int apid, unsigned int d0,
			       unsigned int d1)
{
	struct kvm_s390_ap_matrix m = mx_empty();
	unsigned int d, n = 0;

	mbit(m.apm, apid);
	for (d = d0; d <= d1; d++) {
		if (!validate(b, mx(apid, apid, d, d))) {
			mbit(m.aqm, d);
			n++;
		}
	}
	if (!n || set(b, m, 0))
		return 0;
	for (d = d0; d <= d1; d++)
		if (m.aqm[d / 64] & (1ULL << (63 - d % 64)))
			set_bit(APQN(apid, d), fake->hazard);
	return n;
}

/*
 * Finding 2: two SETs on one VM.  A holds 80 queues (two reset batches);
 * thread 1 sets them again with RESET and waits in its first batch;
 * thread 2 drops adapter 2; B claims whatever of adapter 2 it can.  No
 * ZAPQ may hit a queue B holds.
 */
static void test_race_set_set(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *b = apm_vm(test, CRYCB_FORMAT2);
	struct apm_thread *t1, *t2;
	unsigned int nb;

	KUNIT_ASSERT_EQ(test, set(a, mx(1, 2, 0, 39), 0), 0);
	fake_block_first_tapq();
	t1 = apm_thread_start(test, thread_set, a,
			      mx(1, 2, 0, 39), 0);
	t1->m.flags = KVM_S390_AP_MATRIX_RESET;
	KUNIT_ASSERT_TRUE(test, wait_for_completion_timeout(&fake->tapq_entered,
							    LONG_WAIT));
	t2 = apm_thread_start(test, thread_set, a, mx(1, 1, 0, 39), 0);
	/* serialized: t1's hand-over is not finished, so t2 waits */
	KUNIT_EXPECT_FALSE_MSG(test, apm_thread_wait(t2, SHORT_WAIT),
			       "a SET ran during another's hand-over");
	nb = claim_free(test, b, 2, 0, 39);
	kunit_info(test, "t2 %s while t1 waited; B got %u queues",
		   t2->finished ? "finished" : "waited", nb);
	fake_release_tapq();
	KUNIT_EXPECT_TRUE(test, apm_thread_wait(t1, LONG_WAIT));
	KUNIT_EXPECT_TRUE(test, apm_thread_wait(t2, LONG_WAIT));
	KUNIT_EXPECT_EQ(test, t1->rc, 0);
	KUNIT_EXPECT_EQ(test, t2->rc, 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&fake->hazard_zapq), 0);
	KUNIT_EXPECT_FALSE(test, READ_ONCE(fake->tapq_timed_out));
	KUNIT_EXPECT_FALSE(test, fake->locked_in_reset);
	KUNIT_EXPECT_TRUE(test, get_is(a, mx(1, 1, 0, 39)));
	apm_flush();
	bitmap_zero(fake->hazard, NR_APQNS);
	KUNIT_EXPECT_EQ(test, set(b, mx(2, 2, 0, 39), 0), 0);
	KUNIT_EXPECT_EQ(test, set(b, mx(1, 1, 0, 0), 0), -EADDRINUSE);
}

/*
 * A queue unbound from the driver (remove()) while a SET with RESET is in
 * its first reset batch: the adapter leaves the VM, and no ZAPQ hits a
 * queue B claimed meanwhile.
 */
static void test_race_set_remove(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *b = apm_vm(test, CRYCB_FORMAT2);
	struct apm_thread *t1, *t2, *t3;
	unsigned int nb;

	KUNIT_ASSERT_EQ(test, set(a, mx(1, 2, 0, 39), 0), 0);
	fake_block_first_tapq();
	t1 = apm_thread_start(test, thread_set, a, mx(1, 2, 0, 39), 0);
	t1->m.flags = KVM_S390_AP_MATRIX_RESET;
	KUNIT_ASSERT_TRUE(test, wait_for_completion_timeout(&fake->tapq_entered,
							    LONG_WAIT));
	/* the driver's remove(): the queue is no longer bound to it */
	set_bit(APQN(2, 5), fake->unavailable);
	t2 = apm_thread_start(test, thread_queue_removed, NULL, mx_empty(),
			      APQN(2, 5));
	/* let the worker reset what the removal took from A, if it may */
	if (apm_thread_wait(t2, LONG_WAIT)) {
		t3 = apm_thread_start(test, thread_flush, NULL, mx_empty(), 0);
		apm_thread_wait(t3, 2 * HZ);
	}
	nb = claim_free(test, b, 2, 0, 39);
	kunit_info(test, "remove %s while the SET waited; B got %u queues",
		   t2->finished ? "finished" : "waited", nb);
	fake_release_tapq();
	KUNIT_EXPECT_TRUE(test, apm_thread_wait(t1, LONG_WAIT));
	KUNIT_EXPECT_TRUE(test, apm_thread_wait(t2, LONG_WAIT));
	KUNIT_EXPECT_EQ(test, t1->rc, 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&fake->hazard_zapq), 0);
	KUNIT_EXPECT_FALSE(test, READ_ONCE(fake->tapq_timed_out));
	/* adapter 2 left A */
	KUNIT_EXPECT_TRUE(test, get_is(a, mx(1, 1, 0, 39)));
	KUNIT_EXPECT_EQ(test, a->arch.crypto.crycb->apcb1.apm[0], 1ULL << 62);
	apm_flush();
	bitmap_zero(fake->hazard, NR_APQNS);
	KUNIT_EXPECT_EQ(test, qstate(APQN(2, 5)), KVM_S390_AP_QUEUE_FREE);
	KUNIT_EXPECT_EQ(test, set(b, mx(2, 2, 6, 39), 0), 0);
	KUNIT_EXPECT_EQ(test, set(b, mx(2, 2, 5, 5), 0), -EADDRNOTAVAIL);
}

/*
 * A VM destroyed while B claims its queues: B gets none of them before
 * their reset completed, and none is reset after B got it.
 */
static void test_race_set_destroy(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *b = apm_vm(test, CRYCB_FORMAT2);
	struct apm_thread *t1;
	unsigned int apid, apqi, nb, once = 0;

	KUNIT_ASSERT_EQ(test, set(a, mx(1, 2, 0, 39), 0), 0);
	fake_block_first_tapq();
	t1 = apm_thread_start(test, thread_destroy, a, mx_empty(), 0);
	KUNIT_ASSERT_TRUE(test, wait_for_completion_timeout(&fake->tapq_entered,
							    LONG_WAIT));
	nb = claim_free(test, b, 2, 0, 39);
	KUNIT_EXPECT_EQ(test, nb, 0);
	KUNIT_EXPECT_EQ(test, set(b, mx(1, 1, 39, 39), 0), -EBUSY);
	KUNIT_EXPECT_TRUE(test, in_use(1, 39));
	fake_release_tapq();
	KUNIT_EXPECT_TRUE(test, apm_thread_wait(t1, LONG_WAIT));
	apm_flush();
	KUNIT_EXPECT_EQ(test, atomic_read(&fake->hazard_zapq), 0);
	KUNIT_EXPECT_FALSE(test, READ_ONCE(fake->tapq_timed_out));
	for (apid = 1; apid <= 2; apid++)
		for (apqi = 0; apqi <= 39; apqi++) {
			once += fake->zapqs[APQN(apid, apqi)] == 1;
			KUNIT_EXPECT_EQ(test, qstate(APQN(apid, apqi)),
					KVM_S390_AP_QUEUE_FREE);
		}
	KUNIT_EXPECT_EQ(test, once, 80);
	bitmap_zero(fake->hazard, NR_APQNS);
	KUNIT_EXPECT_EQ(test, set(b, mx(1, 2, 0, 39), 0), 0);
}

/*
 * A VM destroyed while the reset worker still resets a queue that left it:
 * the queue stays unclaimable until its reset completed, then is free, and
 * the queue the VM still held is reset at its destruction.
 */
static void test_destroy_during_worker_reset(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct kvm *b = apm_vm(test, CRYCB_FORMAT2);
	struct apm_thread *t1;

	KUNIT_ASSERT_EQ(test, set(a, mx(1, 1, 1, 2), 0), 0);
	/* (1,1) leaves A, its reset does not complete: the worker has it */
	set_bit(APQN(1, 1), fake->stuck);
	fake_block_first_worker_tapq();
	KUNIT_EXPECT_EQ(test, set(a, mx(1, 1, 2, 2), 0), 0);
	KUNIT_EXPECT_TRUE(test, wait_for_completion_timeout(&fake->tapq_entered,
							    LONG_WAIT));
	t1 = apm_thread_start(test, thread_destroy, a, mx_empty(), 0);
	apm_thread_wait(t1, SHORT_WAIT);
	KUNIT_EXPECT_EQ(test, set(b, mx(1, 1, 1, 1), 0), -EBUSY);
	KUNIT_EXPECT_TRUE(test, not_free(qstate(APQN(1, 1))));
	/* the queue answers from now on: the worker's reset completes */
	clear_bit(APQN(1, 1), fake->stuck);
	fake_release_tapq();
	KUNIT_EXPECT_TRUE(test, apm_thread_wait(t1, LONG_WAIT));
	apm_flush();
	KUNIT_EXPECT_FALSE(test, READ_ONCE(fake->tapq_timed_out));
	KUNIT_EXPECT_EQ(test, qstate(APQN(1, 1)), KVM_S390_AP_QUEUE_FREE);
	KUNIT_EXPECT_EQ(test, qstate(APQN(1, 2)), KVM_S390_AP_QUEUE_FREE);
	KUNIT_EXPECT_GE(test, fake->zapqs[APQN(1, 2)], 1);
	KUNIT_EXPECT_EQ(test, set(b, mx(1, 1, 1, 2), 0), 0);
}

/*
 * The AP driver's in_use() (an apmask/aqmask write) against a SET: under
 * the AP lock they are ordered, and in_use() never waits for a reset.
 */
static void test_race_set_in_use(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct apm_thread *t1, *t2, *t3;
	bool locked;

	/* the write holds the AP lock: the SET waits, then sees its result */
	locked = !fake_lock();
	KUNIT_ASSERT_TRUE(test, locked);
	t1 = apm_thread_start(test, thread_set, a, mx(1, 1, 1, 1), 0);
	KUNIT_EXPECT_FALSE(test, apm_thread_wait(t1, SHORT_WAIT));
	KUNIT_EXPECT_FALSE(test, in_use(1, 1));
	set_bit(APQN(1, 1), fake->unavailable);	/* back to the host */
	fake_unlock();
	KUNIT_EXPECT_TRUE(test, apm_thread_wait(t1, LONG_WAIT));
	KUNIT_EXPECT_EQ(test, t1->rc, -EADDRNOTAVAIL);
	KUNIT_EXPECT_EQ(test, qstate(APQN(1, 1)), KVM_S390_AP_QUEUE_FREE);
	clear_bit(APQN(1, 1), fake->unavailable);

	/* in_use() during a hand-over's reset answers at once: in use */
	KUNIT_ASSERT_EQ(test, set(a, mx(1, 1, 1, 2), 0), 0);
	fake_block_first_tapq();
	t2 = apm_thread_start(test, thread_set, a, mx_empty(), 0);
	KUNIT_ASSERT_TRUE(test, wait_for_completion_timeout(&fake->tapq_entered,
							    LONG_WAIT));
	t3 = apm_thread_start(test, thread_in_use, NULL, mx_empty(),
			      APQN(1, 2));
	KUNIT_EXPECT_TRUE(test, apm_thread_wait(t3, LONG_WAIT));
	KUNIT_EXPECT_EQ(test, t3->rc, 1);
	KUNIT_EXPECT_FALSE(test, t2->finished);
	fake_release_tapq();
	KUNIT_EXPECT_TRUE(test, apm_thread_wait(t2, LONG_WAIT));
	KUNIT_EXPECT_EQ(test, t2->rc, 0);
	apm_flush();
	KUNIT_EXPECT_FALSE(test, in_use(1, 1));
	KUNIT_EXPECT_FALSE(test, in_use(1, 2));
}

/*
 * The AP bus lock is never held while kvm->lock is waited for, and a SET
 * waiting for either lock returns EINTR on SIGKILL, changing nothing.
 */
static void test_lock_waits(struct kunit *test)
{
	struct kvm *a = apm_vm(test, CRYCB_FORMAT2);
	struct apm_thread *t1, *t2, *t3, *t4, *t5, *t6;
	bool dropped, free;

	/* waiting for the AP lock */
	KUNIT_ASSERT_EQ(test, fake_lock(), 0);
	t1 = apm_thread_start(test, thread_set, a, mx(1, 1, 1, 1), 0);
	KUNIT_EXPECT_FALSE(test, apm_thread_wait(t1, SHORT_WAIT));
	send_sig(SIGKILL, t1->task, 1);
	KUNIT_EXPECT_TRUE(test, apm_thread_wait(t1, LONG_WAIT));
	fake_unlock();
	KUNIT_EXPECT_TRUE(test, apm_thread_wait(t1, LONG_WAIT));
	KUNIT_EXPECT_EQ(test, t1->rc, -EINTR);
	KUNIT_EXPECT_EQ(test, qstate(APQN(1, 1)), KVM_S390_AP_QUEUE_FREE);

	/* kvm->lock, which the VMM may hold for long, held from the start */
	mutex_lock(&a->lock);
	t2 = apm_thread_start(test, thread_set, a, mx(1, 1, 1, 1), 0);
	KUNIT_EXPECT_FALSE(test, apm_thread_wait(t2, SHORT_WAIT));
	free = mutex_trylock(&fake->lock);
	KUNIT_EXPECT_TRUE_MSG(test, free, "AP lock held across kvm->lock");
	if (free)
		mutex_unlock(&fake->lock);
	send_sig(SIGKILL, t2->task, 1);
	KUNIT_EXPECT_TRUE(test, apm_thread_wait(t2, LONG_WAIT));
	mutex_unlock(&a->lock);
	KUNIT_EXPECT_TRUE(test, apm_thread_wait(t2, LONG_WAIT));
	KUNIT_EXPECT_EQ(test, t2->rc, -EINTR);
	KUNIT_EXPECT_EQ(test, qstate(APQN(1, 1)), KVM_S390_AP_QUEUE_FREE);
	KUNIT_EXPECT_TRUE(test, crycb_zero(a));

	/* kvm->lock taken right after the claim, when the AP lock is dropped */
	reinit_completion(&fake->paused);
	reinit_completion(&fake->resume);
	atomic_set(&fake->pause_unlock, 1);
	t3 = apm_thread_start(test, thread_set, a, mx(1, 1, 1, 1), 0);
	KUNIT_EXPECT_TRUE(test, wait_for_completion_timeout(&fake->paused,
							    LONG_WAIT));
	mutex_lock(&a->lock);
	complete(&fake->resume);
	KUNIT_EXPECT_FALSE(test, apm_thread_wait(t3, SHORT_WAIT));
	free = mutex_trylock(&fake->lock);
	KUNIT_EXPECT_TRUE_MSG(test, free, "AP lock held across kvm->lock");
	if (free)
		mutex_unlock(&fake->lock);
	/* the AP driver's in_use() answers meanwhile: claimed */
	t4 = apm_thread_start(test, thread_in_use, NULL, mx_empty(),
			      APQN(1, 1));
	KUNIT_EXPECT_TRUE(test, apm_thread_wait(t4, LONG_WAIT));
	KUNIT_EXPECT_EQ(test, t4->rc, 1);
	send_sig(SIGKILL, t3->task, 1);
	KUNIT_EXPECT_TRUE(test, apm_thread_wait(t3, LONG_WAIT));
	mutex_unlock(&a->lock);
	KUNIT_EXPECT_TRUE(test, apm_thread_wait(t3, LONG_WAIT));
	KUNIT_EXPECT_EQ(test, t3->rc, -EINTR);
	/* the claim was rolled back */
	apm_flush();
	KUNIT_EXPECT_EQ(test, qstate(APQN(1, 1)), KVM_S390_AP_QUEUE_FREE);
	KUNIT_EXPECT_FALSE(test, in_use(1, 1));
	KUNIT_EXPECT_TRUE(test, get_is(a, mx_empty()));
	KUNIT_EXPECT_TRUE(test, crycb_zero(a));
	KUNIT_EXPECT_EQ(test, fake->nzapq, 0);

	/* not killed: the SET completes once kvm->lock is free */
	mutex_lock(&a->lock);
	t5 = apm_thread_start(test, thread_set, a, mx(1, 1, 1, 1), 0);
	KUNIT_EXPECT_FALSE(test, apm_thread_wait(t5, SHORT_WAIT));
	mutex_unlock(&a->lock);
	KUNIT_EXPECT_TRUE(test, apm_thread_wait(t5, LONG_WAIT));
	KUNIT_EXPECT_EQ(test, t5->rc, 0);
	KUNIT_EXPECT_TRUE(test, get_is(a, mx(1, 1, 1, 1)));

	/* kvm->lock taken while the SET holds the AP lock: it must drop it */
	reinit_completion(&fake->paused);
	reinit_completion(&fake->resume);
	atomic_set(&fake->pause_lock, 1);
	t6 = apm_thread_start(test, thread_set, a, mx(2, 2, 2, 2), 0);
	KUNIT_EXPECT_TRUE(test, wait_for_completion_timeout(&fake->paused,
							    LONG_WAIT));
	mutex_lock(&a->lock);
	reinit_completion(&fake->unlocked);
	complete(&fake->resume);
	dropped = wait_for_completion_timeout(&fake->unlocked, LONG_WAIT);
	KUNIT_EXPECT_TRUE_MSG(test, dropped,
			      "the SET kept the AP lock, waiting for kvm->lock");
	KUNIT_EXPECT_FALSE(test, apm_thread_wait(t6, SHORT_WAIT));
	free = mutex_trylock(&fake->lock);
	KUNIT_EXPECT_TRUE_MSG(test, free, "AP lock held across kvm->lock");
	if (free)
		mutex_unlock(&fake->lock);
	mutex_unlock(&a->lock);
	KUNIT_EXPECT_TRUE(test, apm_thread_wait(t6, LONG_WAIT));
	KUNIT_EXPECT_EQ(test, t6->rc, 0);
	KUNIT_EXPECT_TRUE(test, get_is(a, mx(2, 2, 2, 2)));
}

static struct kunit_case ap_matrix_test_cases[] = {
	KUNIT_CASE(test_layout),
	KUNIT_CASE(test_rule_einval_ebadf),
	KUNIT_CASE(test_rule_eopnotsupp_and_has),
	KUNIT_CASE(test_rule_eexist),
	KUNIT_CASE(test_rule_enodev_host_limits),
	KUNIT_CASE(test_rule_enodev_host_adm),
	KUNIT_CASE(test_crycb_format_limits),
	KUNIT_CASE(test_rule_eperm),
	KUNIT_CASE(test_grant_create),
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
	KUNIT_CASE(test_reset_eio),
	KUNIT_CASE(test_handover_many),
	KUNIT_CASE(test_driver_unload),
	KUNIT_CASE(test_rewrite_per_vm),
	KUNIT_CASE(test_handover_one_bound),
	KUNIT_CASE(test_release_all),
	KUNIT_CASE(test_empty_matrix_forgets),
	KUNIT_CASE(test_refusal_no_ap_lock),
	KUNIT_CASE(test_destroy_without_ops),
	KUNIT_CASE(test_reset_worker_never_finishes),
	KUNIT_CASE_SLOW(test_alloc_failure),
	KUNIT_CASE(test_marker_storage),
	KUNIT_CASE(test_marker_storage_race),
	KUNIT_CASE(test_refused_no_storage),
	KUNIT_CASE(test_race_set_set),
	KUNIT_CASE(test_race_set_remove),
	KUNIT_CASE(test_race_set_destroy),
	KUNIT_CASE(test_destroy_during_worker_reset),
	KUNIT_CASE(test_race_set_in_use),
	KUNIT_CASE(test_lock_waits),
	{}
};

/*
 * Every case runs with lockdep (the PROVE_LOCKING run) told that reclaim
 * may take ap_matrix_lock: an allocation under it, even __GFP_NOFAIL,
 * which failslab never fails (test_marker_storage cannot see one), is
 * then a lockdep report, which fails the run.
 */
static int apm_suite_init(struct kunit_suite *suite)
{
	kvm_s390_ap_matrix_lockdep_no_alloc();
	return 0;
}

static struct kunit_suite ap_matrix_test_suite = {
	.name = "apmatrix",
	.suite_init = apm_suite_init,
	.init = apm_test_init,
	.exit = apm_test_exit,
	.test_cases = ap_matrix_test_cases,
};

kunit_test_suite(ap_matrix_test_suite);
