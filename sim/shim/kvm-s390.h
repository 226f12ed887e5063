/* SPDX-License-Identifier: GPL-2.0 */
/*
 * userspace stand-in for arch/s390/kvm/kvm-s390.h: the s390dbf event
 * macros go to the simulated VM's event log (simhost.c).
 */
#ifndef APSIM_KVM_S390_H
#define APSIM_KVM_S390_H

#include <linux/kvm_host.h>

void sim_kvm_event(struct kvm *kvm, int level, const char *fmt, ...) __printf(3, 4);

#define KVM_EVENT(d_loglevel, d_string, d_args...) \
	sim_kvm_event(NULL, d_loglevel, d_string, ##d_args)
#define VM_EVENT(d_kvm, d_loglevel, d_string, d_args...) \
	sim_kvm_event(d_kvm, d_loglevel, d_string, ##d_args)

static inline int kvm_s390_pv_is_protected(struct kvm *kvm) { (void)kvm; return 0; }
static inline int test_kvm_facility(struct kvm *kvm, unsigned long nr) { (void)kvm; (void)nr; return 0; }

#endif
