/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel ABI libapmatrix speaks, private to lib/ and the test shims.
 *
 * The AP matrix definitions come only from the project's copy of the s390
 * uapi header (kernel/include/uapi/asm/kvm.h, meson's uapi_inc, searched
 * before the system directories). That copy is the kernel's own source
 * file, not a headers_install output, so __user is still in it.
 *
 * <linux/kvm.h> is not included: the system's copy (Debian 12 ships 6.1)
 * still defines the s390 structures that 6.12 moved into asm/kvm.h, and
 * the two clash. What libapmatrix needs from it - struct kvm_device_attr
 * and the three device-attribute ioctls - is stable ABI since Linux 3.10
 * and is spelled out below, checked by static asserts.
 */
#ifndef APMATRIX_KVM_ABI_H
#define APMATRIX_KVM_ABI_H

#include <stddef.h>
#include <linux/types.h>
#include <linux/ioctl.h>

#ifndef __user
#define __user
#endif
#include <asm/kvm.h>

/* From include/uapi/linux/kvm.h. */
struct apmatrix_kvm_device_attr {
	__u32 flags;	/* no flags currently defined */
	__u32 group;	/* device-defined */
	__u64 attr;	/* group-defined */
	__u64 addr;	/* userspace address of attr data */
};

#define APMATRIX_KVMIO			0xAE
#define APMATRIX_KVM_SET_DEVICE_ATTR	_IOW(APMATRIX_KVMIO, 0xe1, struct apmatrix_kvm_device_attr)
#define APMATRIX_KVM_GET_DEVICE_ATTR	_IOW(APMATRIX_KVMIO, 0xe2, struct apmatrix_kvm_device_attr)
#define APMATRIX_KVM_HAS_DEVICE_ATTR	_IOW(APMATRIX_KVMIO, 0xe3, struct apmatrix_kvm_device_attr)

_Static_assert(sizeof(struct apmatrix_kvm_device_attr) == 24,
	       "struct kvm_device_attr is 24 bytes");
_Static_assert(sizeof(struct kvm_s390_ap_matrix) == 136,
	       "struct kvm_s390_ap_matrix is 136 bytes");
_Static_assert(offsetof(struct kvm_s390_ap_matrix, apm) == 0, "apm at 0");
_Static_assert(offsetof(struct kvm_s390_ap_matrix, aqm) == 32, "aqm at 32");
_Static_assert(offsetof(struct kvm_s390_ap_matrix, adm) == 64, "adm at 64");
_Static_assert(offsetof(struct kvm_s390_ap_matrix, flags) == 96, "flags at 96");
_Static_assert(offsetof(struct kvm_s390_ap_matrix, grant_fd) == 100, "grant_fd at 100");
_Static_assert(offsetof(struct kvm_s390_ap_matrix, reserved) == 104, "reserved at 104");
_Static_assert(KVM_S390_VM_CRYPTO == 2, "group KVM_S390_VM_CRYPTO");
_Static_assert(KVM_S390_VM_CRYPTO_ENABLE_APIE == 4, "ENABLE_APIE");
_Static_assert(KVM_S390_VM_CRYPTO_SET_AP_MATRIX == 6, "SET_AP_MATRIX");
_Static_assert(KVM_S390_AP_MATRIX_VALIDATE_ONLY == 1, "VALIDATE_ONLY");
_Static_assert(KVM_S390_AP_MATRIX_RESET == 2, "RESET");
_Static_assert(KVM_S390_AP_MATRIX_GRANT == 4, "GRANT");

/*
 * From arch/s390/include/uapi/asm/apmatrix.h (/dev/apmatrix), under names
 * of our own: its struct apmatrix_grant would clash with nothing here, but
 * a program including both it and <apmatrix.h> must not meet two
 * definitions. lib/uapi-check.c checks these against that header.
 */
struct apmatrix_grant_abi {
	__u64 mask[3][4];	/* apm, aqm, adm */
	__u32 flags;		/* must be zero */
	__u32 reserved[9];	/* must be zero */
};
#define APMATRIX_ABI_IOCTL_MAGIC	0xB9
#define APMATRIX_ABI_CREATE_GRANT	_IOW(APMATRIX_ABI_IOCTL_MAGIC, 0x01, \
					     struct apmatrix_grant_abi)
_Static_assert(sizeof(struct apmatrix_grant_abi) == 136, "struct apmatrix_grant is 136 bytes");

#endif /* APMATRIX_KVM_ABI_H */
