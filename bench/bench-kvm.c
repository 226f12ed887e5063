// SPDX-License-Identifier: GPL-2.0
/*
 * The bench's door to the simulated KVM: the vfio_ap model installs its
 * masks with the same kvm_arch_crypto_set_masks() (under the same
 * kvm->lock) that ap_matrix.c calls, so both sides pay the same install.
 * Compiled against the simulator's kernel shims, like simhost.c.
 */
#include <linux/kvm_host.h>
#include <asm/kvm_host.h>

#include "bench-kvm.h"

struct kvm *bench_kvm_of(struct sim_vm *vm)
{
	/* simhost.c's struct sim_vm begins with its struct kvm, whose ->sim
	 * points back at the sim_vm: check rather than trust the layout */
	struct kvm *kvm = (struct kvm *)vm;

	if (kvm->sim != vm)
		abort();
	return kvm;
}

void bench_kvm_lock(struct kvm *kvm)
{
	mutex_lock(&kvm->lock);
}

void bench_kvm_unlock(struct kvm *kvm)
{
	mutex_unlock(&kvm->lock);
}

void bench_kvm_set_masks(struct kvm *kvm, unsigned long *apm, unsigned long *aqm,
			 unsigned long *adm)
{
	kvm_arch_crypto_set_masks(kvm, apm, aqm, adm);
}
