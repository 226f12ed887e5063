/* SPDX-License-Identifier: GPL-2.0 */
/* userspace stand-in for <kunit/visibility.h>: see ../shim.h */
#include "../shim.h"
