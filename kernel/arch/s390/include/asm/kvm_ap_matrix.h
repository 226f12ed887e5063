/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Interface between KVM's AP matrix attribute (KVM_S390_VM_CRYPTO_SET_AP_MATRIX,
 * linked into kvm.ko) and the AP bus driver that holds the queues for it
 * (ap_matrix_drv.ko, beside the AP bus).
 *
 * kvm.ko does not depend on ap.ko: everything it needs from the AP bus is
 * reached through the host operations the driver registers here.  The
 * driver calls the exported functions below; grants (the authority to add
 * queues to a VM) are created and checked in kvm.ko, the driver only
 * offers the device node /dev/apmatrix.
 */
#ifndef _ASM_S390_KVM_AP_MATRIX_H
#define _ASM_S390_KVM_AP_MATRIX_H

#include <linux/bitmap.h>
#include <linux/types.h>
#include <asm/ap.h>

struct module;
struct apmatrix_grant;

/**
 * struct kvm_s390_ap_host_config - the host's AP configuration
 * @max_apid: highest APID (QCI Na with APXA, else 63)
 * @max_apqi: highest APQI (QCI Nd with APXA, else 15)
 * @adm: control domains in the host's configuration (QCI adm, MSB0 as the
 *	CRYCB masks); all of 0..@max_apqi when the host has no QCI
 */
struct kvm_s390_ap_host_config {
	unsigned int max_apid;
	unsigned int max_apqi;
	DECLARE_BITMAP(adm, 256);
};

/**
 * struct kvm_s390_ap_host_ops - what KVM needs from the AP bus
 * @owner: module providing the operations, pinned while they are used
 * @lock: take the AP bus permission lock (ap_perms_mutex), killable:
 *	0, or -EINTR if a fatal signal arrived while waiting
 * @unlock: release it
 * @config: the host's AP configuration, as last seen by the driver
 * @available: called under @lock; sets @aqm (256 bits, MSB0 as the CRYCB
 *	masks) to the domains of adapter @apid whose queues are not owned by
 *	the host's default drivers and are bound to the AP matrix driver: one
 *	call per adapter, so that checking a request costs O(adapters)
 * @zapq: issue PQAP(ZAPQ) for the APQN
 * @tapq: issue PQAP(TAPQ) for the APQN
 */
struct kvm_s390_ap_host_ops {
	struct module *owner;
	int (*lock)(void);
	void (*unlock)(void);
	void (*config)(struct kvm_s390_ap_host_config *cfg);
	void (*available)(unsigned int apid, unsigned long *aqm);
	struct ap_queue_status (*zapq)(unsigned int apqn);
	struct ap_queue_status (*tapq)(unsigned int apqn);
};

/* what kvm_s390_ap_matrix_queue_state() answers */
enum kvm_s390_ap_queue_state {
	KVM_S390_AP_QUEUE_FREE,		/* claimable */
	KVM_S390_AP_QUEUE_IN_USE,	/* in a guest's matrix; *pid: its VMM */
	KVM_S390_AP_QUEUE_RESETTING,	/* left a guest, reset not finished */
	KVM_S390_AP_QUEUE_RESET_FAILED,	/* left a guest, reset failed */
};

int kvm_s390_ap_matrix_register(const struct kvm_s390_ap_host_ops *ops);
void kvm_s390_ap_matrix_unregister(const struct kvm_s390_ap_host_ops *ops);
void kvm_s390_ap_matrix_release_all(void);
bool kvm_s390_ap_matrix_in_use(unsigned long *apm, unsigned long *aqm);
void kvm_s390_ap_matrix_queue_probed(unsigned int apqn);
void kvm_s390_ap_matrix_queue_removed(unsigned int apqn);
void kvm_s390_ap_matrix_config_removed(unsigned long *apm_gone,
				       unsigned long *aqm_gone,
				       unsigned long *adm_gone);
#if IS_ENABLED(CONFIG_S390_AP_MATRIX)
enum kvm_s390_ap_queue_state
kvm_s390_ap_matrix_queue_state(unsigned int apqn, pid_t *pid);
#else
/* for vfio_ap: without the AP matrix attribute no queue is ever held */
static inline enum kvm_s390_ap_queue_state
kvm_s390_ap_matrix_queue_state(unsigned int apqn, pid_t *pid)
{
	return KVM_S390_AP_QUEUE_FREE;
}
#endif
int kvm_s390_ap_matrix_grant_create(const struct apmatrix_grant *req);

#endif /* _ASM_S390_KVM_AP_MATRIX_H */
