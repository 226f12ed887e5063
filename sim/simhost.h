/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The simulated s390 host around the real arch/s390/kvm/ap_matrix.c: the
 * AP bus (apmask/aqmask, queue devices and their drivers, configuration
 * changes), the AP driver's host operations, PQAP(ZAPQ/TAPQ) with
 * injectable behaviours, and the KVM side (VMs with a CRYCB,
 * kvm_arch_crypto_set_masks, the device-attribute dispatch of
 * kvm-s390.c).
 *
 * Masks are 4 x 64-bit words in the architecture's order: ID n is bit
 * (63 - n % 64) of word n / 64 (as /sys/bus/ap and the CRYCB).
 *
 * This header has no kernel types: apsimd.c and bench code use it as a
 * plain library. Functions return 0 or a negative errno.
 */
#ifndef APSIM_SIMHOST_H
#define APSIM_SIMHOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_IDS 256

enum sim_driver {
	SIM_DRV_NONE = 0,
	SIM_DRV_CEX4QUEUE = 1,	/* the default zcrypt driver */
	SIM_DRV_APMATRIX = 2,
	SIM_DRV_VFIO_AP = 3,
};

/* how a queue answers ZAPQ/TAPQ */
enum sim_reset_mode {
	SIM_RESET_NORMAL = 0,	/* TAPQ says "reset in progress" once, then done */
	SIM_RESET_SLOW = 1,	/* "in progress" for n TAPQ polls */
	SIM_RESET_NEVER = 2,	/* never finishes */
	SIM_RESET_SE_BUSY = 3,	/* first ZAPQ: "state change in progress" (SE bind/associate
				 * under way) and nothing is reset: must be issued again */
	SIM_RESET_SE_FAILED = 4,/* TAPQ answers "association failed" until ZAPQ is re-issued */
};

struct sim_masks {
	uint64_t apm[4];
	uint64_t aqm[4];
	uint64_t adm[4];
};

struct sim_queue_info {
	bool exists;
	enum sim_driver driver;
	bool default_owned;	/* apmask AND aqmask bit */
	unsigned long zaps;	/* ZAPQs issued */
	unsigned long resets;	/* resets that completed */
	int guest_data;		/* id of the VM whose data is in the queue, 0 = zeroized */
	bool resetting;		/* a reset was started and not seen complete */
	bool mdev_assigned;	/* a vfio_ap mediated device's matrix has it */
};

struct sim_stats {
	unsigned long kicks;		/* kvm_arch_crypto_set/clear_masks calls (vCPU kick rounds) */
	unsigned long set_calls, get_calls, has_calls;
	unsigned long zaps, tapqs;
	unsigned long mask_writes, mask_refused;
	unsigned long violations;	/* see shim.c; plus the sim's own checks */
	unsigned long leaks;		/* a queue reached a guest with another guest's data */
	/* the invariants of the contract, counted where the machine sees them */
	unsigned long inv_two_crycbs;	/* an APQN in the CRYCBs of two VMs at once */
	unsigned long inv_zap_other_vm;	/* ZAPQ (from KVM) of a queue another VM's CRYCB has */
	unsigned long inv_zap_host;	/* ZAPQ (from KVM) of a queue the host's drivers hold */
	unsigned long inv_claim_unreset;/* a queue joined a CRYCB while its reset was under way */
	unsigned long inv_host_unreset;	/* a queue went back to the host while a guest held it
					 * or before its reset completed */
	unsigned long lock_violations;	/* lock order, lock held while sleeping, lockdep, WARN */
	unsigned long vms;		/* live VMs */
	int module_refs;		/* pins on the driver module (0 when idle) */
};

struct sim_vm;

/* ---- host ----------------------------------------------------------- */
/* Make the host: limits (ap_max_adapter_id / ap_max_domain_id), no queue yet,
 * apmask = aqmask = all ones (everything to the default drivers). */
int sim_host_init(unsigned int max_apid, unsigned int max_apqi);
/* Register / unregister the AP driver's host operations with KVM. */
int sim_host_register(void);
void sim_host_unregister(void);
bool sim_host_registered(void);
void sim_host_set_ap_instructions(bool on);
void sim_host_limits(unsigned int *max_apid, unsigned int *max_apqi);

/* A queue device appears (bound to the driver the masks say, or to drv). */
void sim_host_add_queue(unsigned int apid, unsigned int apqi, enum sim_driver drv);
void sim_host_queue_info(unsigned int apid, unsigned int apqi, struct sim_queue_info *qi);
/*
 * vfio_ap, the second non-default AP driver. It is always there, after
 * apmatrix unless first is set (vfio_ap built in, apmatrix a module):
 * then the bus's re-probe after a mask write gives vfio_ap the queues
 * taken from the default drivers. assign: a mediated device's matrix
 * has (apid, apqi) or not (its sysfs "status": assigned / unassigned);
 * vfio_ap's in_use() then vetoes giving it back to the default drivers.
 */
void sim_host_set_vfio_ap_first(bool first);
/* the next sysfs bind of (apid, apqi) fails with -ENOMEM (its probe() failed) */
void sim_host_fail_bind(unsigned int apid, unsigned int apqi);
void sim_host_vfio_ap_assign(unsigned int apid, unsigned int apqi, bool assigned);
/* Set the masks without the veto (initial state from a tree). */
void sim_host_load_masks(const uint64_t apmask[4], const uint64_t aqmask[4]);
void sim_host_get_masks(uint64_t apmask[4], uint64_t aqmask[4]);
/*
 * A write to /sys/bus/ap/apmask (which = 0) or aqmask (1), with the AP
 * bus's text syntax ("0x..." or "+N,-M-K"). -EINVAL bad text; -EBUSY an
 * APQN given back to the default drivers is in use by a guest (the real
 * kvm_s390_ap_matrix_in_use() veto). On success the queues are rebound as
 * the AP bus does.
 */
int sim_host_mask_write(int which, const char *text);
/* Adapters / usage domains / control domains (adm_gone, may be NULL) leave
 * the configuration: the driver's on_config_changed (config_removed), then
 * remove() of each queue device. A usage domain takes its control domain
 * along. */
void sim_host_config_remove(const uint64_t apm_gone[4], const uint64_t aqm_gone[4],
			    const uint64_t adm_gone[4]);
/* How long a vCPU kick round (kvm_arch_crypto_set_masks) takes (0: none). */
void sim_host_set_kick_delay(unsigned int us);
/* A delay before the vCPUs are blocked (the caller of
 * kvm_arch_crypto_set_masks() preempted), the guest running meanwhile. */
void sim_host_set_prekick_delay(unsigned int us);
/* The control domains in the host's configuration (QCI adm). */
void sim_host_set_control_domains(const uint64_t adm[4]);
/* Unbind a queue from its driver through sysfs (remove() for apmatrix). */
int sim_host_unbind(unsigned int apid, unsigned int apqi);
/* Bind a driverless queue to drv. -EBUSY if bound, -ENODEV if absent. */
int sim_host_bind(unsigned int apid, unsigned int apqi, enum sim_driver drv);
void sim_host_set_reset_mode(unsigned int apid, unsigned int apqi,
			     enum sim_reset_mode mode, unsigned int polls);
/* Queues whose driver or presence changed since the last call (for the tree). */
void sim_host_for_each_changed(void (*fn)(unsigned int apid, unsigned int apqi,
					 const struct sim_queue_info *qi, void *arg),
			       void *arg);
/* The reset wait (the KUnit tunables of ap_matrix.c): TAPQ every interval_ms
 * (0: no sleep), at most polls times; a negative value keeps the current one. */
void sim_host_set_reset_timing(int interval_ms, int polls);
/* how long the reset worker keeps polling a reset a SET left to it */
void sim_host_set_worker_polls(int polls);
/* wait until the reset worker is idle */
void sim_host_flush(void);
/* kvm_s390_ap_matrix_queue_state(): what the apmatrix_state attribute shows */
enum sim_queue_state {
	SIM_QUEUE_FREE, SIM_QUEUE_IN_USE, SIM_QUEUE_RESETTING, SIM_QUEUE_RESET_FAILED,
};
enum sim_queue_state sim_host_queue_state(unsigned int apid, unsigned int apqi, int *pid);
void sim_host_stats(struct sim_stats *st);
/* A queue (re)appears in the configuration, bound as the masks say
 * (ap_scan_bus() probing a new queue device). */
void sim_host_add_queue_default(unsigned int apid, unsigned int apqi);
/* Lock waits longer than ms (0: off) are counted as callers blocked past
 * the bound; the longest wait per lock class is kept. kvm->lock is not
 * counted: its holder is the VMM. */
void sim_host_set_lock_bound(unsigned int ms);
/* lock waits over the bound; the longest wait (us) and its lock class */
unsigned long sim_host_lock_waits_over(unsigned long *max_us, const char **cls);
/* Hold ap_perms_mutex for ms in a thread of its own (the bus is busy). */
int sim_host_hold_perms(unsigned int ms);
/* Inject an allocation failure at the n-th kernel allocation from now. */
void sim_host_fail_alloc(long nth);
/* Kernel log (printk): the last lines, oldest first, into buf. */
size_t sim_host_dmesg(char *buf, size_t len);
void sim_host_set_log_echo(bool on);

/* ---- VMs (struct kvm) -------------------------------------------------- */
/* crycb_format: 0, 1 or 2 (CRYCB_FORMAT0/1/2). */
struct sim_vm *sim_vm_create(int crycb_format);
/* kvm_arch_destroy_vm(): kvm_s390_ap_matrix_destroy(), then free. */
void sim_vm_destroy(struct sim_vm *vm);
int sim_vm_id(const struct sim_vm *vm);
/* The device-attribute ioctls as kvm-s390.c dispatches them. payload is the
 * "user memory" attr.addr points to (NULL: a bad address). */
int sim_vm_has_attr(struct sim_vm *vm, uint64_t group, uint64_t attr);
int sim_vm_set_attr(struct sim_vm *vm, uint64_t group, uint64_t attr, void *payload);
int sim_vm_get_attr(struct sim_vm *vm, uint64_t group, uint64_t attr, void *payload);
/* What the guest sees: the CRYCB masks (per its format) and whether APIE is on. */
void sim_vm_crycb(struct sim_vm *vm, struct sim_masks *m, bool *apie);
unsigned long sim_vm_kicks(struct sim_vm *vm);
/* The guest runs: it leaves data in every queue its CRYCB has. */
void sim_vm_guest_activity(struct sim_vm *vm);
/* vfio_ap attaches (or detaches) a mediated device to the VM: -EEXIST
 * if the VM holds an AP matrix (patch 0006's refusal) */
int sim_vm_vfio_ap(struct sim_vm *vm, bool attach);
/* The VMM holds kvm->lock for ms (a long vCPU ioctl). */
void sim_vm_hold_kvm_lock(struct sim_vm *vm, unsigned int ms);
/* The VM's s390dbf event lines, oldest first. */
size_t sim_vm_events(struct sim_vm *vm, char *buf, size_t len);

/* ---- the calling task: a client's request in apsimd --------------------- */
struct sim_task;		/* struct task_struct */
struct sim_file;		/* struct file */
struct sim_cred {
	int pid;
	unsigned int uid, gid;
	uint64_t cap_eff;	/* effective capabilities (CapEff) */
	bool init_ns;		/* in the host's user namespace */
};
/* Act as the client on this thread (current); hup_fd: its hang-up means the
 * client died (a fatal signal). */
struct sim_task *sim_task_enter(const struct sim_cred *c, int hup_fd);
void sim_task_leave(struct sim_task *t);
/* f at fd n of the task (the task takes a reference of its own) */
void sim_task_install(struct sim_task *t, int n, struct sim_file *f);
/* the file the kernel installed at fd n; its reference goes to the caller */
struct sim_file *sim_task_take(struct sim_task *t, int n);
/* an open file of a kind the simulated kernel does not make */
struct sim_file *sim_file_other(void);
struct sim_file *sim_file_get(struct sim_file *f);
void sim_file_put(struct sim_file *f);
const char *sim_file_name(const struct sim_file *f);
unsigned long sim_file_ino(const struct sim_file *f);
/* its show_fdinfo() lines */
size_t sim_file_fdinfo(struct sim_file *f, char *buf, size_t len);
/* /dev/apmatrix's ioctl for the current task, on a file opened with
 * open_flags (O_RDONLY, O_RDWR ...); payload is "user memory" (NULL: a bad
 * address). -ENODEV when no driver offers the device. */
long sim_dev_apmatrix_ioctl(unsigned int cmd, void *payload, int open_flags);
/* a queue device's sysfs attribute (e.g. apmatrix_state): its text, or
 * -ENOENT when the queue's driver does not have it */
int sim_queue_attr(unsigned int apid, unsigned int apqi, const char *name, char *buf, size_t len);
/* the attribute's file mode (0444, 0400 ...), or -ENOENT as above */
int sim_queue_attr_mode(unsigned int apid, unsigned int apqi, const char *name);

#endif /* APSIM_SIMHOST_H */
