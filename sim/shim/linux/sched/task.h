/* SPDX-License-Identifier: GPL-2.0 */
/* userspace stand-in for <linux/sched/task.h>: see ../shim.h and ../shim-task.h */
#include "../../shim.h"
