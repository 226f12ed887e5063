/* SPDX-License-Identifier: GPL-2.0 */
/* userspace stand-in for <asm/bitops.h>: see ../shim.h (the MSB0 *_inv helpers of s390) */
#include "../shim.h"
