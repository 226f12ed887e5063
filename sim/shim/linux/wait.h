/* SPDX-License-Identifier: GPL-2.0 */
/* userspace stand-in for <linux/wait.h>: the uapi header, then ../shim.h */
#include_next <linux/wait.h>
#include "../shim.h"
