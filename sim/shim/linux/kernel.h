/* SPDX-License-Identifier: GPL-2.0 */
/* userspace stand-in for <linux/kernel.h>: the uapi header, then ../shim.h */
#include_next <linux/kernel.h>
#include "../shim.h"
