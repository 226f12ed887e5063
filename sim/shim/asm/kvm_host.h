/* SPDX-License-Identifier: GPL-2.0 */
/*
 * userspace stand-in for arch/s390/include/asm/kvm_host.h: the crypto
 * part of struct kvm_arch (CRYCB as the kernel lays it out, its
 * designation with the format bits) and the mask setters, which the
 * simulator implements (simhost.c) like kvm-s390.c does.
 */
#ifndef APSIM_ASM_KVM_HOST_H
#define APSIM_ASM_KVM_HOST_H

#include "../shim.h"

struct kvm;
struct kvm_vcpu;

#define CRYCB_FORMAT_MASK 0x00000003
#define CRYCB_FORMAT0 0x00000000
#define CRYCB_FORMAT1 0x00000001
#define CRYCB_FORMAT2 0x00000003

#define APCB0_MASK_SIZE 1
struct kvm_s390_apcb0 {
	__u64 apm[APCB0_MASK_SIZE];
	__u64 aqm[APCB0_MASK_SIZE];
	__u64 adm[APCB0_MASK_SIZE];
	__u64 reserved18;
};

#define APCB1_MASK_SIZE 4
struct kvm_s390_apcb1 {
	__u64 apm[APCB1_MASK_SIZE];
	__u64 aqm[APCB1_MASK_SIZE];
	__u64 adm[APCB1_MASK_SIZE];
	__u64 reserved60[4];
};

struct kvm_s390_crypto_cb {
	struct kvm_s390_apcb0 apcb0;
	__u8   reserved20[0x0048 - 0x0020];
	__u8   dea_wrapping_key_mask[24];
	__u8   aes_wrapping_key_mask[32];
	struct kvm_s390_apcb1 apcb1;
};

typedef int (*crypto_hook)(struct kvm_vcpu *vcpu);

struct kvm_s390_ap_matrix_guest;

struct kvm_s390_crypto {
	struct kvm_s390_crypto_cb *crycb;
	crypto_hook *pqap_hook;
	__u32 crycbd;
	__u8 aes_kw;
	__u8 dea_kw;
	__u8 apie;
	/* added by the series: set by KVM_S390_VM_CRYPTO_SET_AP_MATRIX */
	struct kvm_s390_ap_matrix_guest *ap_matrix;
	/* serializes the SETs on one VM (kvm_s390_ap_matrix_init_vm()) */
	struct mutex ap_matrix_mutex;
};

struct kvm_arch {
	struct kvm_s390_crypto crypto;
};

void kvm_arch_crypto_clear_masks(struct kvm *kvm);
void kvm_arch_crypto_set_masks(struct kvm *kvm, unsigned long *apm,
			       unsigned long *aqm, unsigned long *adm);

#endif
