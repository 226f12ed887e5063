/* SPDX-License-Identifier: GPL-2.0 */
/* userspace stand-in for <linux/math.h>: see ../shim.h */
#include "../shim.h"
