/* SPDX-License-Identifier: GPL-2.0 */
/* userspace stand-in for <linux/array_size.h>: see ../shim.h */
#include "../shim.h"
