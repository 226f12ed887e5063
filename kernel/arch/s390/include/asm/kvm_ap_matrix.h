/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Interface between KVM's AP matrix attribute (KVM_S390_VM_CRYPTO_SET_AP_MATRIX,
 * linked into kvm.ko) and the AP bus driver that holds the queues for it
 * (ap_matrix_drv.ko, beside the AP bus).
 *
 * kvm.ko does not depend on ap.ko: everything it needs from the AP bus is
 * reached through the host operations the driver registers here.
 */
#ifndef _ASM_S390_KVM_AP_MATRIX_H
#define _ASM_S390_KVM_AP_MATRIX_H

#include <linux/types.h>
#include <asm/ap.h>

struct module;

/**
 * struct kvm_s390_ap_host_ops - what KVM needs from the AP bus
 * @owner: module providing the operations, pinned while they are used
 * @lock: take the AP bus permission lock (ap_perms_mutex)
 * @unlock: release it
 * @limits: highest APID and APQI of the host's AP configuration
 * @available: called under @lock; 0 if the APQN is not owned by the host's
 *	default drivers and is bound to the AP matrix driver, else
 *	-EADDRNOTAVAIL
 * @zapq: issue PQAP(ZAPQ) for the APQN
 * @tapq: issue PQAP(TAPQ) for the APQN
 */
struct kvm_s390_ap_host_ops {
	struct module *owner;
	void (*lock)(void);
	void (*unlock)(void);
	void (*limits)(unsigned int *max_apid, unsigned int *max_apqi);
	int (*available)(unsigned int apqn);
	struct ap_queue_status (*zapq)(unsigned int apqn);
	struct ap_queue_status (*tapq)(unsigned int apqn);
};

int kvm_s390_ap_matrix_register(const struct kvm_s390_ap_host_ops *ops);
void kvm_s390_ap_matrix_unregister(const struct kvm_s390_ap_host_ops *ops);
bool kvm_s390_ap_matrix_in_use(unsigned long *apm, unsigned long *aqm);
void kvm_s390_ap_matrix_queue_removed(unsigned int apqn);
void kvm_s390_ap_matrix_config_removed(unsigned long *apm_gone,
				       unsigned long *aqm_gone);

#endif /* _ASM_S390_KVM_AP_MATRIX_H */
