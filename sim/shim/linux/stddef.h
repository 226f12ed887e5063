/* SPDX-License-Identifier: GPL-2.0 */
/* userspace stand-in for <linux/stddef.h>: the uapi header (glibc uses it too) */
#include_next <linux/stddef.h>
