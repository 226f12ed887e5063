/* SPDX-License-Identifier: GPL-2.0 */
/* userspace stand-in for <linux/delay.h>: see ../shim.h */
#include "../shim.h"
