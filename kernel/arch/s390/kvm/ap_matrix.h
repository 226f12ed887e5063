/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KVM's AP matrix attribute (KVM_S390_VM_CRYPTO_SET_AP_MATRIX): the hooks
 * kvm-s390.c calls, with stubs when CONFIG_S390_AP_MATRIX is off, and the
 * interface of the KUnit suite (ap_matrix_test.c).
 */
#ifndef __KVM_S390_AP_MATRIX_H
#define __KVM_S390_AP_MATRIX_H

#include <linux/kvm_host.h>

/*
 * Owner table markers, as kvm_s390_ap_matrix_owner() answers them with
 * xa_mk_value(): a queue left a VM and is being reset; its reset did not
 * complete; it left the AP driver or the host while being reset.  Only a
 * completed reset clears any of them.
 */
enum {
	KVM_S390_AP_MATRIX_RESETTING = 1,
	KVM_S390_AP_MATRIX_FAILED = 2,
	KVM_S390_AP_MATRIX_RESETTING_GONE = 3,
};

/**
 * struct kvm_s390_ap_matrix_tunables - how long resets are waited for
 * @interval_ms: poll TAPQ every @interval_ms milliseconds (0: no sleep,
 *	only cond_resched(); the reset worker then requeues at once)
 * @polls: a SET or a VM's destruction waits at most @polls polls for the
 *	resets it issued; what is still pending then is left to the reset
 *	worker
 * @worker_polls: the reset worker polls a queue at most @worker_polls
 *	times before it gives the reset up and marks the queue failed; 0:
 *	no background wait, a reset still pending after @polls fails at once
 */
struct kvm_s390_ap_matrix_tunables {
	unsigned int interval_ms;
	unsigned int polls;
	unsigned int worker_polls;
};

#if IS_ENABLED(CONFIG_S390_AP_MATRIX)

int kvm_s390_ap_matrix_set(struct kvm *kvm, struct kvm_device_attr *attr);
int kvm_s390_ap_matrix_get(struct kvm *kvm, struct kvm_device_attr *attr);
int kvm_s390_ap_matrix_has(void);
void kvm_s390_ap_matrix_init_vm(struct kvm *kvm);
void kvm_s390_ap_matrix_destroy(struct kvm *kvm);
void kvm_s390_ap_matrix_exit(void);

/*
 * The KUnit suite's interface.  It exists only with the suite's own Kconfig
 * symbol, so that nothing test-only is linked into kvm.ko otherwise (not
 * even with CONFIG_KUNIT=m).
 *
 * Notes for tests:
 * - A test VM is a zeroed struct kvm; kvm_s390_ap_matrix_init_vm() must be
 *   called on it (it initializes the per-VM SET mutex).
 * - SETs on different VMs may nest only in tests (e.g. from a fake TAPQ):
 *   give each test VM's kvm->arch.crypto.ap_matrix_mutex its own lockdep
 *   class and always nest them in the same order.
 * - capable(CAP_SYS_ADMIN) is decided on current's credentials: a KUnit
 *   thread has every capability; drop CAP_SYS_ADMIN with prepare_creds(),
 *   cap_lower() and override_creds() to test EPERM.
 * - kvm->userspace_pid is what kvm_s390_ap_matrix_queue_state() reports.
 */
#if IS_ENABLED(CONFIG_KVM_S390_AP_MATRIX_KUNIT_TEST)
#define VISIBLE_IF_AP_MATRIX_TEST
struct apmatrix_grant;
struct kvm_s390_ap_host_ops;

/* defaults: 20 ms, 5 polls (100 ms), 1500 worker polls (30 s) */
extern struct kvm_s390_ap_matrix_tunables kvm_s390_ap_matrix_tunables;

/**
 * kvm_s390_ap_matrix_set_matrix - the SET, after copying from userspace
 * @kvm: the VM
 * @req: the request; @req->grant_fd is only checked against @req->flags
 * @grant: the file @req->grant_fd refers to, or NULL if it refers to none
 *	(with KVM_S390_AP_MATRIX_GRANT that is EBADF; a file that is not a
 *	grant is EINVAL)
 *
 * Every rule, in the contract's order; waits (bounded) for the resets it
 * issued.
 *
 * Return: 0, or the errno of the first rule the request breaks; -EINTR if
 * a fatal signal arrived while waiting for a lock (nothing changed); -EIO
 * (with KVM_S390_AP_MATRIX_RESET) if the reset of a kept queue did not
 * complete: the VM then holds the new matrix minus the adapters of those
 * queues.
 */
int kvm_s390_ap_matrix_set_matrix(struct kvm *kvm,
				  const struct kvm_s390_ap_matrix *req,
				  struct file *grant);

/**
 * kvm_s390_ap_matrix_grant_open - create a grant as a file
 * @req: the grant's matrix, flags and reserved fields
 *
 * What kvm_s390_ap_matrix_grant_create() installs as a file descriptor,
 * with the same checks.
 *
 * Return: the new file (release it with fput()), or an ERR_PTR: -EINVAL
 * (flags or reserved non-zero, empty matrix), -ENODEV (an ID beyond the
 * host's configuration, a control domain the host does not have, or no
 * host operations registered), -ENOMEM.
 */
struct file *kvm_s390_ap_matrix_grant_open(const struct apmatrix_grant *req);

/**
 * kvm_s390_ap_matrix_swap_ops - replace the registered host operations
 * @ops: the new operations, or NULL for none
 *
 * Return: the operations registered before.
 */
const struct kvm_s390_ap_host_ops *
kvm_s390_ap_matrix_swap_ops(const struct kvm_s390_ap_host_ops *ops);

/**
 * kvm_s390_ap_matrix_owner - the owner table entry of a queue
 * @apqn: the queue
 *
 * Return: NULL (free), the struct kvm of the VM holding it, or
 * xa_mk_value() of KVM_S390_AP_MATRIX_RESETTING, _FAILED or
 * _RESETTING_GONE (the internal flags of an entry are not shown).
 */
void *kvm_s390_ap_matrix_owner(unsigned int apqn);

/**
 * kvm_s390_ap_matrix_flush - wait until the reset worker is idle
 *
 * Returns once no CRYCB rewrite and no reset is left to the worker (resets
 * then completed or failed).  Called with no lock held.
 */
void kvm_s390_ap_matrix_flush(void);

/**
 * kvm_s390_ap_matrix_lockdep_no_alloc - make lockdep report an allocation
 *	under ap_matrix_lock
 *
 * What kvm_s390_ap_matrix_register() tells lockdep, for a test that
 * registers no AP driver: from then on, a blocking __GFP_FS allocation
 * (GFP_KERNEL, __GFP_NOFAIL or not) made under ap_matrix_lock is a lock
 * inversion that lockdep reports, wherever it happens.  A no-op without
 * CONFIG_LOCKDEP.
 */
void kvm_s390_ap_matrix_lockdep_no_alloc(void);

/**
 * kvm_s390_ap_matrix_storage - how much marker storage is allocated
 *
 * Return: the number of slots (one adapter's markers each) of marker
 * storage allocated; every slot is an adapter's, so it is also the number
 * of adapters whose marker storage is allocated (kept
 * from the first SET claiming a domain of them until the AP driver's
 * release_all() finds them idle, or kvm.ko's exit).
 */
unsigned int kvm_s390_ap_matrix_storage(void);

/**
 * kvm_s390_ap_matrix_idle - is nothing held, resetting or failed?
 *
 * Flushes the reset worker first.
 *
 * Return: true if no VM holds a matrix and the owner table is empty.
 */
bool kvm_s390_ap_matrix_idle(void);
#else
#define VISIBLE_IF_AP_MATRIX_TEST static
#endif /* CONFIG_KVM_S390_AP_MATRIX_KUNIT_TEST */

#else

static inline int kvm_s390_ap_matrix_set(struct kvm *kvm,
					 struct kvm_device_attr *attr)
{
	return -ENXIO;
}

static inline int kvm_s390_ap_matrix_get(struct kvm *kvm,
					 struct kvm_device_attr *attr)
{
	return -ENXIO;
}

static inline int kvm_s390_ap_matrix_has(void)
{
	return -ENXIO;
}

static inline void kvm_s390_ap_matrix_init_vm(struct kvm *kvm) {}
static inline void kvm_s390_ap_matrix_destroy(struct kvm *kvm) {}
static inline void kvm_s390_ap_matrix_exit(void) {}

#endif /* CONFIG_S390_AP_MATRIX */

#endif /* __KVM_S390_AP_MATRIX_H */
