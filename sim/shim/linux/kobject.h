/* SPDX-License-Identifier: GPL-2.0 */
/* userspace stand-in for <linux/kobject.h>: see device.h */
#include "device.h"
