/* SPDX-License-Identifier: GPL-2.0 */
/* userspace stand-in for <linux/init.h>: see ../shim.h */
#include "../shim.h"
