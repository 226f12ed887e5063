/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KVM's AP matrix attribute (KVM_S390_VM_CRYPTO_SET_AP_MATRIX): the hooks
 * kvm-s390.c calls, with stubs when CONFIG_S390_AP_MATRIX is off.
 */
#ifndef __KVM_S390_AP_MATRIX_H
#define __KVM_S390_AP_MATRIX_H

#include <linux/kvm_host.h>

#if IS_ENABLED(CONFIG_S390_AP_MATRIX)

int kvm_s390_ap_matrix_set(struct kvm *kvm, struct kvm_device_attr *attr);
int kvm_s390_ap_matrix_get(struct kvm *kvm, struct kvm_device_attr *attr);
int kvm_s390_ap_matrix_has(void);
void kvm_s390_ap_matrix_destroy(struct kvm *kvm);

/*
 * owner table markers: a queue left a VM and is being reset; its reset did
 * not finish; it left the AP driver or the host while being reset
 */
enum {
	KVM_S390_AP_MATRIX_RESETTING = 1,
	KVM_S390_AP_MATRIX_FAILED = 2,
	KVM_S390_AP_MATRIX_RESETTING_GONE = 3,
};

/* reset wait: poll TAPQ every interval_ms, at most polls times */
struct kvm_s390_ap_matrix_tunables {
	unsigned int interval_ms;
	unsigned int polls;
};

#if IS_ENABLED(CONFIG_KUNIT)
struct kvm_s390_ap_host_ops;

extern struct kvm_s390_ap_matrix_tunables kvm_s390_ap_matrix_tunables;
int kvm_s390_ap_matrix_set_matrix(struct kvm *kvm,
				  const struct kvm_s390_ap_matrix *req);
const struct kvm_s390_ap_host_ops *
kvm_s390_ap_matrix_swap_ops(const struct kvm_s390_ap_host_ops *ops);
bool kvm_s390_ap_matrix_idle(void);
void *kvm_s390_ap_matrix_owner(unsigned int apqn);
#endif

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

static inline void kvm_s390_ap_matrix_destroy(struct kvm *kvm) {}

#endif /* CONFIG_S390_AP_MATRIX */

#endif /* __KVM_S390_AP_MATRIX_H */
