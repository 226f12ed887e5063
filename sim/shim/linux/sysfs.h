/* SPDX-License-Identifier: GPL-2.0 */
/* userspace stand-in for <linux/sysfs.h>: see device.h */
#include "device.h"
