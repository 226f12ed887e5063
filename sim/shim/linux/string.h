/* SPDX-License-Identifier: GPL-2.0 */
/* userspace stand-in for <linux/string.h>: the uapi header, then ../shim.h */
#include_next <linux/string.h>
#include "../shim.h"
