/* SPDX-License-Identifier: GPL-2.0 */
/*
 * userspace stand-in for drivers/s390/crypto/ap_bus.h: what an AP device
 * driver (ap_matrix_drv.c) sees of the AP bus. The bus itself is played by
 * the simulator (simhost.c): it registers drivers, binds queue devices as
 * apmask/aqmask say and calls probe/remove/in_use/on_config_changed as
 * ap_bus.c does; QCI answers from the simulated configuration.
 */
#ifndef APSIM_AP_BUS_H
#define APSIM_AP_BUS_H

#include "shim.h"
#include <asm/ap.h>
#include <linux/device.h>
#include <linux/mod_devicetable.h>

#define AP_DEVICES 256
#define AP_DOMAINS 256

#define AP_DEVICE_TYPE_CEX4 10
#define AP_DEVICE_TYPE_CEX5 11
#define AP_DEVICE_TYPE_CEX6 12
#define AP_DEVICE_TYPE_CEX7 13
#define AP_DEVICE_TYPE_CEX8 14

/* QCI's answer, as asm/ap.h lays it out (masks in MSB0 order) */
struct ap_config_info {
	union {
		unsigned int flags;
		struct {
			unsigned int apsc : 1;
			unsigned int apxa : 1;
			unsigned int qact : 1;
			unsigned int rc8a : 1;
			unsigned int l : 1;
			unsigned int : 3;
			unsigned int apsb : 1;
			unsigned int : 23;
		};
	};
	unsigned char na;
	unsigned char nd;
	unsigned char _reserved0[10];
	/* unsigned int[8] in the kernel; here as the unsigned longs drivers
	 * cast them to, so the MSB0 *_inv helpers read them as on s390 */
	unsigned long apm[4];
	unsigned long aqm[4];
	unsigned long adm[4];
	unsigned char _reserved1[16];
} __aligned(8);

struct ap_device {
	struct device device;
	int device_type;
};

struct ap_queue {
	struct ap_device ap_dev;
	ap_qid_t qid;
};

#define to_ap_dev(x) container_of((x), struct ap_device, device)
#define to_ap_queue(x) container_of((x), struct ap_queue, ap_dev.device)

struct ap_driver {
	struct device_driver driver;
	struct ap_device_id *ids;
	unsigned int flags;
	int (*probe)(struct ap_device *);
	void (*remove)(struct ap_device *);
	int (*in_use)(unsigned long *apm, unsigned long *aqm);
	void (*on_config_changed)(struct ap_config_info *new_config_info,
				  struct ap_config_info *old_config_info);
	void (*on_scan_complete)(struct ap_config_info *new_config_info,
				 struct ap_config_info *old_config_info);
};

#define to_ap_drv(x) container_of((x), struct ap_driver, driver)

int ap_driver_register(struct ap_driver *drv, struct module *owner, char *name);
void ap_driver_unregister(struct ap_driver *drv);

/* the AP bus's permission lock (apmask/aqmask) */
extern struct mutex ap_perms_mutex;
/* apmask/aqmask (MSB0), written under ap_perms_mutex by the simulator */
struct ap_perms {
	unsigned long apm[4];
	unsigned long aqm[4];
	unsigned long adm[4];
};
extern struct ap_perms ap_perms;
extern struct mutex ap_scan_bus_mutex;
int ap_owned_by_def_drv(int card, int queue);
int ap_apqn_in_matrix_owned_by_def_drv(unsigned long *apm, unsigned long *aqm);
int ap_qci(struct ap_config_info *info);
void ap_bus_force_rescan(void);

#endif /* APSIM_AP_BUS_H */
