/* SPDX-License-Identifier: GPL-2.0 */
/* userspace stand-in for <linux/module.h>: the uapi header, then ../shim.h */
#include_next <linux/module.h>
#include "../shim.h"
