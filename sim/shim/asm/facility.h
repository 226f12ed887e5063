/* SPDX-License-Identifier: GPL-2.0 */
/* userspace stand-in for arch/s390/include/asm/facility.h: the simulated
 * machine has the facilities the AP code asks about (12: QCI, 65: AP
 * interrupts, 15: APFT) */
#ifndef APSIM_ASM_FACILITY_H
#define APSIM_ASM_FACILITY_H
#include "../shim.h"
static inline int test_facility(unsigned long nr)
{
	return nr == 12 || nr == 15 || nr == 65;
}
#endif
