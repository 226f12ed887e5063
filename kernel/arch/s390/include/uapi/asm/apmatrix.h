/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * /dev/apmatrix: grants for KVM's AP matrix attribute
 * (KVM_S390_VM_CRYPTO_SET_AP_MATRIX in <asm/kvm.h>).
 *
 * A grant is a file descriptor that says which AP queues (usage adapters x
 * usage domains) and control domains its holder may add to a KVM guest. It
 * claims nothing. The administrator (or a manager such as libvirt) creates
 * it on /dev/apmatrix and hands it to a VMM, which passes it in
 * struct kvm_s390_ap_matrix.grant_fd with KVM_S390_AP_MATRIX_GRANT.
 *
 * Masks use the architecture's bit order: ID n is bit (63 - n % 64) of
 * word n / 64, as in the CRYCB and /sys/bus/ap/apmask.
 *
 * A grant's matrix is shown in /proc/PID/fdinfo/FD as the lines
 * "apm:\t0x<64 hex digits>", "aqm:\t..." and "adm:\t..." (the text of
 * /sys/bus/ap/apmask).
 */
#ifndef _UAPI_ASM_S390_APMATRIX_H
#define _UAPI_ASM_S390_APMATRIX_H

#include <linux/ioctl.h>
#include <linux/types.h>

struct apmatrix_grant {
	__u64 apm[4];		/* usage adapters (APID 0..255) */
	__u64 aqm[4];		/* usage domains (APQI 0..255) */
	__u64 adm[4];		/* control domains (0..255) */
	__u32 flags;		/* must be zero */
	__u32 reserved[9];	/* must be zero */
};

#define APMATRIX_IOCTL_MAGIC	0xB9

/*
 * Create a grant for the matrix given. Returns a new file descriptor
 * (close-on-exec) on success. Errors: EINVAL (flags or reserved non-zero,
 * empty matrix), ENODEV (an ID beyond the host's AP configuration, or a
 * control domain the host's configuration does not have), EFAULT, ENOMEM,
 * EMFILE.
 */
#define APMATRIX_CREATE_GRANT	_IOW(APMATRIX_IOCTL_MAGIC, 0x01, \
				     struct apmatrix_grant)

#endif /* _UAPI_ASM_S390_APMATRIX_H */
