/* SPDX-License-Identifier: GPL-2.0 */
/* userspace stand-in for <linux/debugfs.h>: see ../shim.h */
#include "../shim.h"
