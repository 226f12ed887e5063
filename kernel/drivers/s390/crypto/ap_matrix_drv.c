// SPDX-License-Identifier: GPL-2.0
/*
 * AP queue driver for KVM's AP matrix attribute
 * (KVM_S390_VM_CRYPTO_SET_AP_MATRIX).
 *
 * The driver binds the AP queues that the administrator took away from the
 * host's default drivers (/sys/bus/ap/apmask, aqmask) and hands KVM the host
 * operations it needs: the AP bus permission lock, the host's AP
 * configuration, whether a queue is available to KVM, ZAPQ and TAPQ.  It
 * lives beside the AP bus, as vfio_ap does, so that kvm.ko does not depend
 * on ap.ko.
 *
 * It also offers /dev/apmatrix (root only by default), whose ioctl
 * APMATRIX_CREATE_GRANT creates a grant: a file descriptor that allows its
 * holder to add the queues and control domains it names to a VM; it needs
 * the device opened for writing.  Grants are created and checked by KVM;
 * see Documentation/virt/kvm/devices/vm.rst.
 *
 * Each queue bound to the driver has the sysfs attribute apmatrix_state,
 * readable by root only: "free", "in use <pid>" (the pid of the VMM that
 * created the VM holding it), "resetting" (it left a VM and its reset has
 * not completed; nobody may have it meanwhile) or "reset failed" (its reset
 * did not complete; give it back to the host's default drivers, which reset
 * it, and then to this driver again, which resets it once more, to recover
 * it).
 */

#define KMSG_COMPONENT "apmatrix"
#define pr_fmt(fmt) KMSG_COMPONENT ": " fmt

#include <linux/bitmap.h>
#include <linux/bitops.h>
#include <linux/fs.h>
#include <linux/lockdep.h>
#include <linux/miscdevice.h>
#include <linux/mod_devicetable.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/sysfs.h>
#include <linux/uaccess.h>
#include <asm/ap.h>
#include <asm/apmatrix.h>
#include <asm/facility.h>
#include <asm/kvm_ap_matrix.h>

#include "ap_bus.h"

#define AP_MATRIX_DRV_NAME "apmatrix"
/*
 * Per adapter, the domains (MSB0, as ap_perms.aqm) whose queues are bound to
 * this driver: set by probe(), cleared by remove()
 */
static unsigned long ap_matrix_bound[AP_DEVICES][BITS_TO_LONGS(AP_DOMAINS)];

/* the host's AP configuration, updated by on_config_changed() */
static DEFINE_SPINLOCK(ap_matrix_cfg_lock);
static struct kvm_s390_ap_host_config ap_matrix_cfg;

/* CEX4 and later, as vfio_ap */
static struct ap_device_id ap_matrix_queue_ids[] = {
	{ .dev_type = AP_DEVICE_TYPE_CEX4,
	  .match_flags = AP_DEVICE_ID_MATCH_QUEUE_TYPE },
	{ .dev_type = AP_DEVICE_TYPE_CEX5,
	  .match_flags = AP_DEVICE_ID_MATCH_QUEUE_TYPE },
	{ .dev_type = AP_DEVICE_TYPE_CEX6,
	  .match_flags = AP_DEVICE_ID_MATCH_QUEUE_TYPE },
	{ .dev_type = AP_DEVICE_TYPE_CEX7,
	  .match_flags = AP_DEVICE_ID_MATCH_QUEUE_TYPE },
	{ .dev_type = AP_DEVICE_TYPE_CEX8,
	  .match_flags = AP_DEVICE_ID_MATCH_QUEUE_TYPE },
	{ /* end of sibling */ },
};

static int ap_matrix_host_lock(void)
{
	return mutex_lock_killable(&ap_perms_mutex);
}

static void ap_matrix_host_unlock(void)
{
	mutex_unlock(&ap_perms_mutex);
}

static void ap_matrix_host_config(struct kvm_s390_ap_host_config *cfg)
{
	spin_lock(&ap_matrix_cfg_lock);
	*cfg = ap_matrix_cfg;
	spin_unlock(&ap_matrix_cfg_lock);
}

static void ap_matrix_host_available(unsigned int apid, unsigned long *aqm)
{
	unsigned int i;

	lockdep_assert_held(&ap_perms_mutex);
	if (apid >= AP_DEVICES) {
		bitmap_zero(aqm, AP_DOMAINS);
		return;
	}
	/*
	 * probe() and remove() change ap_matrix_bound under the device lock,
	 * not ap_perms_mutex, with atomic bit operations: READ_ONCE reads
	 * each word whole, and a queue whose bit changes meanwhile is safe
	 * either way, bit by bit.  KVM calls this under its ap_matrix_lock
	 * and claims what it finds under the same hold.  remove() clears the
	 * bit before kvm_s390_ap_matrix_queue_removed() takes that lock: a
	 * SET that still saw the bit claimed the queue before that call,
	 * which then takes the queue (its whole adapter) back from the guest
	 * and resets it; a SET after that call sees the bit clear (the lock
	 * orders them).  probe() sets the bit after
	 * kvm_s390_ap_matrix_queue_probed() marked a failed queue for reset:
	 * a SET that sees the bit also sees the marker (EBUSY), one that
	 * misses it answers EADDRNOTAVAIL, as before the probe.
	 */
	for (i = 0; i < BITS_TO_LONGS(AP_DOMAINS); i++)
		aqm[i] = READ_ONCE(ap_matrix_bound[apid][i]);
	/* the default drivers own apmask x aqmask */
	if (test_bit_inv(apid, ap_perms.apm))
		bitmap_andnot(aqm, aqm, ap_perms.aqm, AP_DOMAINS);
}

static struct ap_queue_status ap_matrix_host_zapq(unsigned int apqn)
{
	return ap_zapq(apqn, 0);
}

static struct ap_queue_status ap_matrix_host_tapq(unsigned int apqn)
{
	return ap_tapq(apqn, NULL);
}

static const struct kvm_s390_ap_host_ops ap_matrix_host_ops = {
	.owner = THIS_MODULE,
	.lock = ap_matrix_host_lock,
	.unlock = ap_matrix_host_unlock,
	.config = ap_matrix_host_config,
	.available = ap_matrix_host_available,
	.zapq = ap_matrix_host_zapq,
	.tapq = ap_matrix_host_tapq,
};

static ssize_t apmatrix_state_show(struct device *dev,
				   struct device_attribute *attr, char *buf)
{
	struct ap_queue *q = to_ap_queue(dev);
	pid_t pid = 0;

	switch (kvm_s390_ap_matrix_queue_state(q->qid, &pid)) {
	case KVM_S390_AP_QUEUE_IN_USE:
		return sysfs_emit(buf, "in use %d\n", pid);
	case KVM_S390_AP_QUEUE_RESETTING:
		return sysfs_emit(buf, "resetting\n");
	case KVM_S390_AP_QUEUE_RESET_FAILED:
		return sysfs_emit(buf, "reset failed\n");
	default:
		return sysfs_emit(buf, "free\n");
	}
}

/*
 * Root only: the pid is the VMM's in the initial pid namespace, and tenants
 * must not learn each other's VMMs (sysfs ignores pid namespaces and
 * hidepid).
 */
static DEVICE_ATTR_ADMIN_RO(apmatrix_state);

static struct attribute *ap_matrix_queue_attrs[] = {
	&dev_attr_apmatrix_state.attr,
	NULL,
};

ATTRIBUTE_GROUPS(ap_matrix_queue);

/*
 * The driver core adds the driver's dev_groups after probe() and before the
 * KOBJ_BIND uevent, and removes them before remove().
 */
static int ap_matrix_probe(struct ap_device *apdev)
{
	struct ap_queue *q = to_ap_queue(&apdev->device);

	/* a queue whose reset failed is reset again before anybody has it */
	kvm_s390_ap_matrix_queue_probed(q->qid);
	set_bit_inv(AP_QID_QUEUE(q->qid),
		    ap_matrix_bound[AP_QID_CARD(q->qid)]);
	return 0;
}

static void ap_matrix_remove(struct ap_device *apdev)
{
	struct ap_queue *q = to_ap_queue(&apdev->device);

	/* not available any more, then taken from the guest holding it */
	clear_bit_inv(AP_QID_QUEUE(q->qid),
		      ap_matrix_bound[AP_QID_CARD(q->qid)]);
	kvm_s390_ap_matrix_queue_removed(q->qid);
}

static int ap_matrix_in_use(unsigned long *apm, unsigned long *aqm)
{
	return kvm_s390_ap_matrix_in_use(apm, aqm) ? -EBUSY : 0;
}

/*
 * Adapters, usage domains and control domains that left the AP
 * configuration leave every guest.  The QCI masks are 256 bits in MSB0
 * order, as the guest masks.
 */
static void ap_matrix_on_config_changed(struct ap_config_info *new_info,
					struct ap_config_info *old_info)
{
	DECLARE_BITMAP(apm_gone, AP_DEVICES);
	DECLARE_BITMAP(aqm_gone, AP_DOMAINS);
	DECLARE_BITMAP(adm_gone, AP_DOMAINS);
	bool gone;

	spin_lock(&ap_matrix_cfg_lock);
	bitmap_copy(ap_matrix_cfg.adm, (unsigned long *)new_info->adm,
		    AP_DOMAINS);
	spin_unlock(&ap_matrix_cfg_lock);

	gone = bitmap_andnot(apm_gone, (unsigned long *)old_info->apm,
			     (unsigned long *)new_info->apm, AP_DEVICES);
	gone |= bitmap_andnot(aqm_gone, (unsigned long *)old_info->aqm,
			      (unsigned long *)new_info->aqm, AP_DOMAINS);
	gone |= bitmap_andnot(adm_gone, (unsigned long *)old_info->adm,
			      (unsigned long *)new_info->adm, AP_DOMAINS);
	if (gone)
		kvm_s390_ap_matrix_config_removed(apm_gone, aqm_gone, adm_gone);
}

static struct ap_driver ap_matrix_drv = {
	.driver.dev_groups = ap_matrix_queue_groups,
	.probe = ap_matrix_probe,
	.remove = ap_matrix_remove,
	.in_use = ap_matrix_in_use,
	.on_config_changed = ap_matrix_on_config_changed,
	.ids = ap_matrix_queue_ids,
};

/* /dev/apmatrix: create grants */
static long ap_matrix_dev_ioctl(struct file *file, unsigned int cmd,
				unsigned long arg)
{
	struct apmatrix_grant req;

	if (cmd != APMATRIX_CREATE_GRANT)
		return -ENOTTY;
	/*
	 * Creating a grant hands out authority: it needs the device opened
	 * for writing, so a read-only open (e.g. a group given mode 0640)
	 * cannot.  EBADF, as for a write to a file not open for writing.
	 */
	if (!(file->f_mode & FMODE_WRITE))
		return -EBADF;
	if (copy_from_user(&req, (void __user *)arg, sizeof(req)))
		return -EFAULT;
	return kvm_s390_ap_matrix_grant_create(&req);
}

static const struct file_operations ap_matrix_dev_fops = {
	.owner = THIS_MODULE,
	.open = nonseekable_open,
	.unlocked_ioctl = ap_matrix_dev_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice ap_matrix_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = AP_MATRIX_DRV_NAME,
	.fops = &ap_matrix_dev_fops,
	.mode = 0600,
};

static void __init ap_matrix_init_config(void)
{
	struct ap_config_info info;
	unsigned int i;

	ap_matrix_cfg.max_apid = 63;
	ap_matrix_cfg.max_apqi = 15;
	if (!test_facility(12) || ap_qci(&info)) {
		/* no QCI: every domain the CRYCB can hold */
		for (i = 0; i <= ap_matrix_cfg.max_apqi; i++)
			set_bit_inv(i, ap_matrix_cfg.adm);
		return;
	}
	if (info.apxa) {
		if (info.na)
			ap_matrix_cfg.max_apid = info.na;
		if (info.nd)
			ap_matrix_cfg.max_apqi = info.nd;
	}
	bitmap_copy(ap_matrix_cfg.adm, (unsigned long *)info.adm, AP_DOMAINS);
}

static int __init ap_matrix_drv_init(void)
{
	int rc;

	/* If there are no AP instructions, there is nothing to pass through. */
	if (!ap_instructions_available())
		return -ENODEV;

	ap_matrix_init_config();
	rc = ap_driver_register(&ap_matrix_drv, THIS_MODULE,
				AP_MATRIX_DRV_NAME);
	if (rc)
		return rc;
	rc = misc_register(&ap_matrix_misc);
	if (rc)
		goto out_driver;
	/* KVM sees the ops only once the module cannot fail to load */
	rc = kvm_s390_ap_matrix_register(&ap_matrix_host_ops);
	if (rc)
		goto out_misc;
	return 0;

out_misc:
	misc_deregister(&ap_matrix_misc);
out_driver:
	ap_driver_unregister(&ap_matrix_drv);
	return rc;
}

static void __exit ap_matrix_drv_exit(void)
{
	/*
	 * Unregister the operations first: from now on a SET answers
	 * EOPNOTSUPP and HAS -ENXIO, so no SET claims a queue while the
	 * queues leave.  Then take every queue from every guest and wait
	 * until the CRYCBs were rewritten and the queues reset (KVM uses the
	 * PQAP instructions now), while the AP bus still asks our in_use():
	 * nobody may have a queue before its reset completed.  Only then
	 * leave the AP bus.
	 */
	kvm_s390_ap_matrix_unregister(&ap_matrix_host_ops);
	misc_deregister(&ap_matrix_misc);
	kvm_s390_ap_matrix_release_all();
	ap_driver_unregister(&ap_matrix_drv);
}

module_init(ap_matrix_drv_init);
module_exit(ap_matrix_drv_exit);

MODULE_DESCRIPTION("AP queue driver for the KVM AP matrix attribute");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(KVM_S390_AP_MATRIX);
