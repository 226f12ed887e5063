/* SPDX-License-Identifier: GPL-2.0 */
/*
 * userspace stand-in for <linux/kvm_host.h>: a struct kvm with what
 * ap_matrix.c uses (kvm->lock, kvm->arch.crypto) and a pointer back to
 * the simulator's VM.
 */
#ifndef APSIM_LINUX_KVM_HOST_H
#define APSIM_LINUX_KVM_HOST_H

#include "../shim.h"
#include <linux/ioctl.h>
/* not <linux/kvm.h>: Debian 12's (6.1) still defines the s390 structs that
 * 6.12 moved to asm/kvm.h, and the two clash */
#include <asm/kvm.h>
#include <asm/kvm_host.h>

/* include/uapi/linux/kvm.h */
struct kvm_device_attr {
	__u32 flags;
	__u32 group;
	__u64 attr;
	__u64 addr;
};

struct kvm {
	struct mutex lock;
	struct kvm_arch arch;
	int users_count;
	pid_t userspace_pid;	/* the VMM: task_pid_nr() of the VM's creator */
	void *sim;		/* the simulator's VM */
};

void kvm_get_kvm(struct kvm *kvm);
bool kvm_get_kvm_safe(struct kvm *kvm);
void kvm_put_kvm(struct kvm *kvm);

#endif
