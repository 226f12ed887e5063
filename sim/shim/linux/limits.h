/* SPDX-License-Identifier: GPL-2.0 */
/* userspace stand-in for <linux/limits.h>: the uapi header (glibc uses it too) */
#include_next <linux/limits.h>
