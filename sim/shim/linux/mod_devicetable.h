/* SPDX-License-Identifier: GPL-2.0 */
/* userspace stand-in for <linux/mod_devicetable.h>: the AP bus's id table */
#ifndef APSIM_LINUX_MOD_DEVICETABLE_H
#define APSIM_LINUX_MOD_DEVICETABLE_H
#include "../shim.h"
typedef unsigned long kernel_ulong_t;
struct ap_device_id {
	__u16 match_flags;
	__u8 dev_type;
	kernel_ulong_t driver_info;
};
#define AP_DEVICE_ID_MATCH_CARD_TYPE 0x01
#define AP_DEVICE_ID_MATCH_QUEUE_TYPE 0x02
#define MODULE_DEVICE_TABLE(type, name)
#endif
