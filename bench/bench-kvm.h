/* SPDX-License-Identifier: GPL-2.0 */
/* bench-kvm.c: kvm->lock and kvm_arch_crypto_set_masks() of a simulated VM */
#ifndef BENCH_KVM_H
#define BENCH_KVM_H

struct kvm;
struct sim_vm;

struct kvm *bench_kvm_of(struct sim_vm *vm);
void bench_kvm_lock(struct kvm *kvm);
void bench_kvm_unlock(struct kvm *kvm);
void bench_kvm_set_masks(struct kvm *kvm, unsigned long *apm, unsigned long *aqm,
			 unsigned long *adm);

#endif
