/* SPDX-License-Identifier: GPL-2.0 */
/* userspace stand-in for <linux/types.h>: the uapi one plus the kernel types of ../shim.h */
#ifndef APSIM_LINUX_TYPES_H
#define APSIM_LINUX_TYPES_H
#include_next <linux/types.h>
#include "../shim.h"
#endif
