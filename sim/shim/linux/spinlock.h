/* SPDX-License-Identifier: GPL-2.0 */
/* userspace stand-in for <linux/spinlock.h>: see ../shim.h */
#include "../shim.h"
