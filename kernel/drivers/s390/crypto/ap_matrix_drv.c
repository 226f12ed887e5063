// SPDX-License-Identifier: GPL-2.0
/*
 * AP queue driver for KVM's AP matrix attribute
 * (KVM_S390_VM_CRYPTO_SET_AP_MATRIX).
 *
 * The driver binds the AP queues that the administrator took away from the
 * host's default drivers (/sys/bus/ap/apmask, aqmask) and hands KVM the host
 * operations it needs: the AP bus permission lock, the configuration
 * limits, whether a queue is available to KVM, ZAPQ and TAPQ.  It lives
 * beside the AP bus, as vfio_ap does, so that kvm.ko does not depend on
 * ap.ko.
 */

#define KMSG_COMPONENT "apmatrix"
#define pr_fmt(fmt) KMSG_COMPONENT ": " fmt

#include <linux/bitmap.h>
#include <linux/bitops.h>
#include <linux/lockdep.h>
#include <linux/mod_devicetable.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <asm/ap.h>
#include <asm/facility.h>
#include <asm/kvm_ap_matrix.h>

#include "ap_bus.h"

#define AP_MATRIX_DRV_NAME "apmatrix"
#define AP_MATRIX_APQNS (AP_DEVICES * AP_DOMAINS)

/* APQNs bound to this driver: set by probe(), cleared by remove() */
static DECLARE_BITMAP(ap_matrix_bound, AP_MATRIX_APQNS);

/* the host's highest APID and APQI (QCI Na/Nd with APXA, else 63/15) */
static unsigned int ap_matrix_max_apid = 63;
static unsigned int ap_matrix_max_apqi = 15;

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

static void ap_matrix_host_lock(void)
{
	mutex_lock(&ap_perms_mutex);
}

static void ap_matrix_host_unlock(void)
{
	mutex_unlock(&ap_perms_mutex);
}

static void ap_matrix_host_limits(unsigned int *max_apid,
				  unsigned int *max_apqi)
{
	*max_apid = ap_matrix_max_apid;
	*max_apqi = ap_matrix_max_apqi;
}

static int ap_matrix_host_available(unsigned int apqn)
{
	lockdep_assert_held(&ap_perms_mutex);
	if (apqn >= AP_MATRIX_APQNS ||
	    ap_owned_by_def_drv(AP_QID_CARD(apqn), AP_QID_QUEUE(apqn)) ||
	    !test_bit(apqn, ap_matrix_bound))
		return -EADDRNOTAVAIL;
	return 0;
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
	.limits = ap_matrix_host_limits,
	.available = ap_matrix_host_available,
	.zapq = ap_matrix_host_zapq,
	.tapq = ap_matrix_host_tapq,
};

static int ap_matrix_probe(struct ap_device *apdev)
{
	struct ap_queue *q = to_ap_queue(&apdev->device);

	set_bit(q->qid, ap_matrix_bound);
	return 0;
}

static void ap_matrix_remove(struct ap_device *apdev)
{
	struct ap_queue *q = to_ap_queue(&apdev->device);

	/* not available any more, then taken from the guest holding it */
	clear_bit(q->qid, ap_matrix_bound);
	kvm_s390_ap_matrix_queue_removed(q->qid);
}

static int ap_matrix_in_use(unsigned long *apm, unsigned long *aqm)
{
	return kvm_s390_ap_matrix_in_use(apm, aqm) ? -EBUSY : 0;
}

/* adapters and domains that left the AP configuration leave every guest */
static void ap_matrix_on_config_changed(struct ap_config_info *new_info,
					struct ap_config_info *old_info)
{
	DECLARE_BITMAP(apm_gone, AP_DEVICES);
	DECLARE_BITMAP(aqm_gone, AP_DOMAINS);
	bool gone;

	/* the QCI masks are 256 bits in MSB0 order, as the guest masks */
	gone = bitmap_andnot(apm_gone, (unsigned long *)old_info->apm,
			     (unsigned long *)new_info->apm, AP_DEVICES);
	gone |= bitmap_andnot(aqm_gone, (unsigned long *)old_info->aqm,
			      (unsigned long *)new_info->aqm, AP_DOMAINS);
	if (gone)
		kvm_s390_ap_matrix_config_removed(apm_gone, aqm_gone);
}

static struct ap_driver ap_matrix_drv = {
	.probe = ap_matrix_probe,
	.remove = ap_matrix_remove,
	.in_use = ap_matrix_in_use,
	.on_config_changed = ap_matrix_on_config_changed,
	.ids = ap_matrix_queue_ids,
};

static void __init ap_matrix_init_limits(void)
{
	struct ap_config_info info;

	if (!test_facility(12) || ap_qci(&info) || !info.apxa)
		return;
	if (info.na)
		ap_matrix_max_apid = info.na;
	if (info.nd)
		ap_matrix_max_apqi = info.nd;
}

static int __init ap_matrix_drv_init(void)
{
	int rc;

	/* If there are no AP instructions, there is nothing to pass through. */
	if (!ap_instructions_available())
		return -ENODEV;

	ap_matrix_init_limits();
	rc = ap_driver_register(&ap_matrix_drv, THIS_MODULE,
				AP_MATRIX_DRV_NAME);
	if (rc)
		return rc;
	/* KVM sees the ops only once the module cannot fail to load */
	rc = kvm_s390_ap_matrix_register(&ap_matrix_host_ops);
	if (rc)
		ap_driver_unregister(&ap_matrix_drv);
	return rc;
}

static void __exit ap_matrix_drv_exit(void)
{
	/*
	 * Unregister the AP driver first: its remove() takes every queue from
	 * the guest holding it and KVM resets it through the ops, which must
	 * still be registered then.
	 */
	ap_driver_unregister(&ap_matrix_drv);
	kvm_s390_ap_matrix_unregister(&ap_matrix_host_ops);
}

module_init(ap_matrix_drv_init);
module_exit(ap_matrix_drv_exit);

MODULE_DESCRIPTION("AP queue driver for the KVM AP matrix attribute");
MODULE_LICENSE("GPL");
