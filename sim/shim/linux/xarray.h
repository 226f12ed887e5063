/* SPDX-License-Identifier: GPL-2.0 */
/* userspace stand-in for <linux/xarray.h>: see ../shim.h */
#include "../shim.h"
