/* SPDX-License-Identifier: GPL-2.0 */
/* userspace stand-in for <linux/sched.h>: the uapi header, then ../shim.h */
#include_next <linux/sched.h>
#include "../shim.h"
