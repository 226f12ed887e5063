// SPDX-License-Identifier: GPL-2.0
/*
 * apmatrix_vmtest: fake KVM VMs on the real SET path, for tests/apbus.
 *
 * NOT part of the kernel series: a test module built out of tree against
 * the kernel tests/apbus boots under qemu-system-s390x (TCG), where no real
 * VM can run (TCG has no SIE).  It needs the series' last patch, which
 * exports the AP matrix entry points kvm-s390.c calls (set, get, has,
 * init_vm, destroy) with EXPORT_SYMBOL_IF_KUNIT.
 *
 * /dev/apmatrix_vmtest: APMATRIX_VMTEST_CREATE_VM returns a new fd, an anon
 * inode named "kvm-vm" (so libapmatrix takes it for a VM fd, readlink
 * "anon_inode:kvm-vm"), on a VM-less struct kvm set up as KVM sets up a
 * VM's crypto state (a format-2 CRYCB, kvm->lock, the PQAP hook rwsem,
 * kvm_s390_ap_matrix_init_vm()).  Its ioctls KVM_SET_DEVICE_ATTR,
 * KVM_GET_DEVICE_ATTR and KVM_HAS_DEVICE_ATTR answer group
 * KVM_S390_VM_CRYPTO, attribute KVM_S390_VM_CRYPTO_SET_AP_MATRIX, as
 * kvm-s390.c does: with the real kvm_s390_ap_matrix_set/get/has().  The
 * last close destroys the VM as kvm_arch_destroy_vm() does
 * (kvm_s390_ap_matrix_destroy()).  userspace_pid is the creator's pid, as
 * with KVM_CREATE_VM.  The VM's s390dbf log (VM_EVENT) is
 * /sys/kernel/debug/s390dbf/apm-vmtest-<pid>-<n>/sprintf.
 *
 * Everything below the SET path is real: the apmatrix driver's host
 * operations, its in_use() veto, the AP bus, the (emulated) queues.
 */
#include <linux/anon_inodes.h>
#include <linux/fs.h>
#include <linux/kvm_host.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <asm/debug.h>
#include <asm/kvm_ap_matrix.h>

/* the entry points, exported for tests (Kbuild: -I arch/s390/kvm) */
#include "ap_matrix.h"

/* kvm->arch.crypto.crycbd's format bits (arch/s390/kvm/kvm-s390.h) */
#define VMTEST_CRYCB_FORMAT_MASK	0x00000003
#define VMTEST_CRYCB_FORMAT2		0x00000003

#define APMATRIX_VMTEST_CREATE_VM	_IO(0xB9, 0xF0)

static atomic_t vmtest_seq = ATOMIC_INIT(0);

static void vmtest_free(struct kvm *kvm)
{
	if (kvm->arch.dbf)
		debug_unregister(kvm->arch.dbf);
	kfree(kvm->arch.crypto.crycb);
	kvfree(kvm);
}

static int vmtest_vm_release(struct inode *inode, struct file *file)
{
	struct kvm *kvm = file->private_data;

	kvm_s390_ap_matrix_destroy(kvm);
	vmtest_free(kvm);
	return 0;
}

/* kvm_s390_vm_{set,get,has}_attr() for the one attribute, as kvm-s390.c */
static long vmtest_vm_ioctl(struct file *file, unsigned int cmd,
			    unsigned long arg)
{
	struct kvm *kvm = file->private_data;
	struct kvm_device_attr attr;

	if (cmd != KVM_SET_DEVICE_ATTR && cmd != KVM_GET_DEVICE_ATTR &&
	    cmd != KVM_HAS_DEVICE_ATTR)
		return -ENOTTY;
	if (copy_from_user(&attr, (void __user *)arg, sizeof(attr)))
		return -EFAULT;
	if (attr.group != KVM_S390_VM_CRYPTO ||
	    attr.attr != KVM_S390_VM_CRYPTO_SET_AP_MATRIX)
		return -ENXIO;
	switch (cmd) {
	case KVM_SET_DEVICE_ATTR:
		return kvm_s390_ap_matrix_set(kvm, &attr);
	case KVM_GET_DEVICE_ATTR:
		return kvm_s390_ap_matrix_get(kvm, &attr);
	default:
		return kvm_s390_ap_matrix_has();
	}
}

static const struct file_operations vmtest_vm_fops = {
	.owner = THIS_MODULE,
	.release = vmtest_vm_release,
	.unlocked_ioctl = vmtest_vm_ioctl,
	.llseek = noop_llseek,
};

static int vmtest_create_vm(void)
{
	struct kvm_s390_crypto_cb *crycb;
	char name[32];
	struct kvm *kvm;
	int fd;

	kvm = kvzalloc(sizeof(*kvm), GFP_KERNEL_ACCOUNT);
	if (!kvm)
		return -ENOMEM;
	/* the CRYCB designation holds 31 bits, as KVM's sie_page2 */
	crycb = kzalloc(sizeof(*crycb), GFP_KERNEL_ACCOUNT | GFP_DMA);
	if (!crycb) {
		kvfree(kvm);
		return -ENOMEM;
	}
	mutex_init(&kvm->lock);
	xa_init(&kvm->vcpu_array);
	init_rwsem(&kvm->arch.crypto.pqap_hook_rwsem);
	kvm->userspace_pid = task_pid_nr(current);
	/* the VM's s390dbf log, as KVM's: VM_EVENT()s of the SET path */
	snprintf(name, sizeof(name), "apm-vmtest-%d-%d", kvm->userspace_pid,
		 atomic_inc_return(&vmtest_seq));
	kvm->arch.dbf = debug_register(name, 8, 1, 7 * sizeof(long));
	if (!kvm->arch.dbf) {
		vmtest_free(kvm);
		return -ENOMEM;
	}
	debug_register_view(kvm->arch.dbf, &debug_sprintf_view);
	kvm->arch.crypto.crycb = crycb;
	kvm->arch.crypto.crycbd = (u32)virt_to_phys(crycb);
	kvm->arch.crypto.crycbd &= ~VMTEST_CRYCB_FORMAT_MASK;
	kvm->arch.crypto.crycbd |= VMTEST_CRYCB_FORMAT2;
	kvm_s390_ap_matrix_init_vm(kvm);

	fd = anon_inode_getfd("kvm-vm", &vmtest_vm_fops, kvm, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		vmtest_free(kvm);
	return fd;
}

static long vmtest_ioctl(struct file *file, unsigned int cmd,
			 unsigned long arg)
{
	if (cmd != APMATRIX_VMTEST_CREATE_VM)
		return -ENOTTY;
	if (arg)
		return -EINVAL;
	return vmtest_create_vm();
}

static const struct file_operations vmtest_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = vmtest_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice vmtest_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "apmatrix_vmtest",
	.fops = &vmtest_fops,
	.mode = 0600,
};

module_misc_device(vmtest_misc);

MODULE_DESCRIPTION("apmatrix test: fake KVM VMs on the real AP matrix SET path");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
