/*
 * A bare-metal s390x guest that runs a table of AP instructions and records
 * what each did, for qemu/tcg-ap/tests/test_tcg_ap.py.
 *
 * The harness loads the table at 0x20000 (-device loader). Each entry is 8
 * doublewords: kind, GR0, GR1, GR2, GR4, GR5, GR6, GR7. Kinds:
 *   0 end, 1 PQAP, 2 NQAP 4,6, 3 DQAP 4,6, 4 PQAP in the problem state,
 *   5 CHSC with GR2 as the request address, 6 STFLE 0(GR2)
 * For each entry the guest stores 8 doublewords at 0x30000 + 64 * n:
 *   GR0, GR1, GR2, condition code (or -1 after a program interruption),
 *   program interruption code (0 if none), GR6, GR7, 0x600d (done marker)
 * then it enters a disabled wait.
 */
	.section .text
	.globl	_start
_start:
	larl	%r1,pgm_new_psw
	mvc	0x1d0(16,%r0),0(%r1)	/* program-new PSW */
	llilf	%r10,0x20000		/* table */
	llilf	%r11,0x30000		/* results */
next:
	lg	%r9,0(%r10)
	ltgr	%r9,%r9
	jz	done
	lg	%r0,8(%r10)
	lg	%r1,16(%r10)
	lg	%r2,24(%r10)
	lg	%r4,32(%r10)
	lg	%r5,40(%r10)
	lg	%r6,48(%r10)
	lg	%r7,56(%r10)
	cghi	%r9,1
	je	do_pqap
	cghi	%r9,2
	je	do_nqap
	cghi	%r9,3
	je	do_dqap
	cghi	%r9,4
	je	do_problem
	cghi	%r9,5
	je	do_chsc
	cghi	%r9,6
	je	do_stfle
	j	done
do_pqap:
	.insn	rre,0xb2af0000,0,0
	j	after
do_nqap:
	.insn	rre,0xb2ad0000,4,6
	j	after
do_dqap:
	.insn	rre,0xb2ae0000,4,6
	j	after
do_chsc:
	.insn	rre,0xb25f0000,2,0
	j	after
do_stfle:
	.insn	s,0xb2b00000,0(%r2)
	j	after
do_problem:
	larl	%r8,problem_psw
	lpswe	0(%r8)
after:
	ipm	%r8
	srlg	%r8,%r8,28
	nill	%r8,3
	stg	%r8,24(%r11)
	mvghi	32(%r11),0
store:
	stg	%r0,0(%r11)
	stg	%r1,8(%r11)
	stg	%r2,16(%r11)
	stg	%r6,40(%r11)
	stg	%r7,48(%r11)
	mvghi	56(%r11),0x600d
	aghi	%r10,64
	aghi	%r11,64
	j	next
pgm_handler:
	mvghi	24(%r11),-1
	llgh	%r8,0x8e(%r0)
	stg	%r8,32(%r11)
	j	store
done:
	larl	%r8,wait_psw
	lpswe	0(%r8)

	.align	8
pgm_new_psw:
	.quad	0x0000000180000000, pgm_handler
problem_psw:				/* problem state, 64-bit */
	.quad	0x0001000180000000, do_pqap
wait_psw:				/* disabled wait */
	.quad	0x0002000180000000, 0
