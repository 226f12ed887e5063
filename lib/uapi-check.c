// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libapmatrix: build-time checks that lib/kvm-abi.h spells /dev/apmatrix's
 * ABI as the uapi header does (arch/s390/include/uapi/asm/apmatrix.h).
 * No code.
 */
#include <stddef.h>
#include <asm/apmatrix.h>

#include "kvm-abi.h"

_Static_assert(sizeof(struct apmatrix_grant) == sizeof(struct apmatrix_grant_abi),
	       "struct apmatrix_grant size");
_Static_assert(offsetof(struct apmatrix_grant, apm) == offsetof(struct apmatrix_grant_abi, mask[0]),
	       "apm");
_Static_assert(offsetof(struct apmatrix_grant, aqm) == offsetof(struct apmatrix_grant_abi, mask[1]),
	       "aqm");
_Static_assert(offsetof(struct apmatrix_grant, adm) == offsetof(struct apmatrix_grant_abi, mask[2]),
	       "adm");
_Static_assert(offsetof(struct apmatrix_grant, flags) == offsetof(struct apmatrix_grant_abi, flags),
	       "flags");
_Static_assert(APMATRIX_CREATE_GRANT == APMATRIX_ABI_CREATE_GRANT, "APMATRIX_CREATE_GRANT");

/* ISO C forbids an empty translation unit */
extern int apm_uapi_checked;
