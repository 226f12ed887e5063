/* SPDX-License-Identifier: GPL-2.0 */
/* userspace stand-in for <linux/sched/mm.h>: see ../../shim.h */
#include "../../shim.h"
