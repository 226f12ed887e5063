/* SPDX-License-Identifier: GPL-2.0 */
/*
 * userspace stand-in for arch/s390/include/asm/ap.h: the types and macros
 * as the kernel defines them. The instruction wrappers reach the simulated
 * host (simhost.c) instead of PQAP.
 */
#ifndef _ASM_S390_AP_H_
#define _ASM_S390_AP_H_

#include "../shim.h"

typedef unsigned int ap_qid_t;

#define AP_MKQID(_card, _queue) (((_card) & 0xff) << 8 | ((_queue) & 0xff))
#define AP_QID_CARD(_qid) (((_qid) >> 8) & 0xff)
#define AP_QID_QUEUE(_qid) ((_qid) & 0xff)

/* as in the kernel (s390 bitfields are allocated from the most significant bit) */
struct ap_queue_status {
	unsigned int queue_empty	: 1;
	unsigned int replies_waiting	: 1;
	unsigned int queue_full		: 1;
	unsigned int			: 3;
	unsigned int async		: 1;
	unsigned int irq_enabled	: 1;
	unsigned int response_code	: 8;
	unsigned int			: 16;
};

struct ap_tapq_hwinfo {
	unsigned long value;
};

#define AP_BS_Q_USABLE		      0
#define AP_BS_Q_USABLE_NO_SECURE_KEY  1
#define AP_BS_Q_AVAIL_FOR_BINDING     2
#define AP_BS_Q_UNUSABLE	      3

/* the simulated machine answers */
bool ap_instructions_available(void);
struct ap_queue_status ap_tapq(ap_qid_t qid, struct ap_tapq_hwinfo *info);
struct ap_queue_status ap_zapq(ap_qid_t qid, int fbit);
struct ap_queue_status ap_rapq(ap_qid_t qid, int fbit);

#endif /* _ASM_S390_AP_H_ */
