/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace stand-ins for the kernel APIs that arch/s390/kvm/ap_matrix.c
 * uses, so that the file compiles UNCHANGED in a process (the way
 * tools/testing/vma and tools/testing/radix-tree compile kernel code).
 *
 * Every <linux/...>, <asm/...> header under sim/shim includes this file;
 * it is also passed with -include so nothing depends on include order.
 * 64-bit hosts only (s390x and x86_64): unsigned long is 64 bits.
 *
 * The runtime behind it (mutexes with a small lock-order checker, the
 * xarray, allocation failure injection, msleep, the logs) is shim.c.
 */
#ifndef APSIM_SHIM_H
#define APSIM_SHIM_H

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>

_Static_assert(sizeof(unsigned long) == 8, "the shims assume a 64-bit host");

/* ---- types ------------------------------------------------------------ */
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;
typedef unsigned int gfp_t;
typedef long long ktime_t;

/* ---- compiler --------------------------------------------------------- */
#define __user
#define __iomem
#define __rcu
#define __force
#define __must_check __attribute__((warn_unused_result))
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#define noinline __attribute__((noinline))
#define __maybe_unused __attribute__((unused))
#define __always_unused __attribute__((unused))
#define __used __attribute__((used))
#define __packed __attribute__((packed))
#define __aligned(x) __attribute__((aligned(x)))
#define __printf(a, b) __attribute__((format(printf, a, b)))
#define __cold
#define __init
#define __exit
#define __read_mostly
#define __ro_after_init
#define __initdata
#define __must_hold(x)
#define __acquires(x)
#define __releases(x)
#define __guarded_by(x)
#ifndef fallthrough
#define fallthrough __attribute__((__fallthrough__))
#endif
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define barrier() __asm__ __volatile__("" ::: "memory")
/*
 * Marked accesses, as the kernel's: KCSAN does not report a READ_ONCE()
 * against a WRITE_ONCE(), so both are relaxed atomics for TSan (a volatile
 * store is a plain write to it, and a race with every READ_ONCE()).
 * Scalars and pointers only: the kernel's also take a struct of 1, 2, 4 or
 * 8 bytes, which nothing compiled here passes.
 */
#define READ_ONCE(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define smp_mb() __sync_synchronize()
#define smp_wmb() __sync_synchronize()
#define smp_rmb() __sync_synchronize()
#define cpu_relax() do { } while (0)
#define might_sleep() do { } while (0)
#define cond_resched() do { } while (0)

#define BUILD_BUG_ON(c) _Static_assert(!(c), "BUILD_BUG_ON(" #c ")")
#define BUILD_BUG_ON_MSG(c, m) _Static_assert(!(c), m)
#undef static_assert
#define static_assert(...) _Static_assert(__VA_ARGS__)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define sizeof_field(TYPE, MEMBER) sizeof((((TYPE *)0)->MEMBER))
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
#define __stringify_1(x) #x
#define __stringify(x) __stringify_1(x)

#define min(a, b) ({ __typeof__(a) _a = (a); __typeof__(b) _b = (b); _a < _b ? _a : _b; })
#define max(a, b) ({ __typeof__(a) _a = (a); __typeof__(b) _b = (b); _a > _b ? _a : _b; })
#define min_t(t, a, b) ({ t _a = (a); t _b = (b); _a < _b ? _a : _b; })
#define max_t(t, a, b) ({ t _a = (a); t _b = (b); _a > _b ? _a : _b; })
#define clamp(v, lo, hi) min(max(v, lo), hi)
#define DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))
/* include/linux/kconfig.h: the build passes -DCONFIG_FOO=1 for options that are on */
#define __ARG_PLACEHOLDER_1 0,
#define __take_second_arg(__ignored, val, ...) val
#define __is_defined(x) ___is_defined(x)
#define ___is_defined(val) ____is_defined(__ARG_PLACEHOLDER_##val)
#define ____is_defined(arg1_or_junk) __take_second_arg(arg1_or_junk 1, 0)
#define __or(x, y) ___or(x, y)
#define ___or(x, y) ____or(__ARG_PLACEHOLDER_##x, y)
#define ____or(arg1_or_junk, y) __take_second_arg(arg1_or_junk 1, y)
#define IS_BUILTIN(option) __is_defined(option)
#define IS_MODULE(option) __is_defined(option##_MODULE)
#define IS_ENABLED(option) __or(IS_BUILTIN(option), IS_MODULE(option))
#define IS_REACHABLE(option) IS_ENABLED(option)

#define MAX_ERRNO 4095
#define IS_ERR_VALUE(x) unlikely((unsigned long)(void *)(x) >= (unsigned long)-MAX_ERRNO)
static inline void *ERR_PTR(long error) { return (void *)error; }
static inline long PTR_ERR(const void *ptr) { return (long)ptr; }
static inline bool IS_ERR(const void *ptr) { return IS_ERR_VALUE((unsigned long)ptr); }
static inline bool IS_ERR_OR_NULL(const void *ptr) { return !ptr || IS_ERR(ptr); }

/* kernel-internal errnos that userspace does not define */
#ifndef ERESTARTSYS
#define ERESTARTSYS 512
#endif
#ifndef ENOTSUPP
#define ENOTSUPP 524
#endif
#ifndef ENOIOCTLCMD
#define ENOIOCTLCMD 515
#endif
typedef unsigned short umode_t;

/* ---- logging, WARN, BUG ----------------------------------------------- */
/* level: 0 emerg .. 7 debug, as KERN_* */
void shim_printk(int level, const char *fmt, ...) __printf(2, 3);
void shim_warn(const char *file, int line, const char *cond);
#define KERN_SOH ""
#define printk(fmt, ...) shim_printk(6, fmt, ##__VA_ARGS__)
#define pr_emerg(fmt, ...) shim_printk(0, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_alert(fmt, ...) shim_printk(1, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_crit(fmt, ...) shim_printk(2, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_err(fmt, ...) shim_printk(3, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_warn(fmt, ...) shim_printk(4, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_notice(fmt, ...) shim_printk(5, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_info(fmt, ...) shim_printk(6, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_debug(fmt, ...) shim_printk(7, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_devel pr_debug
#define pr_err_ratelimited pr_err
#define pr_warn_ratelimited pr_warn
#define pr_notice_ratelimited pr_notice
#define pr_info_ratelimited pr_info
#define pr_warn_once pr_warn
#define pr_info_once pr_info
#define pr_err_once pr_err
/* pr_fmt is defined by the file itself (before its includes) or here */
#ifndef pr_fmt
#define pr_fmt(fmt) fmt
#endif

#define WARN_ON(c) ({ bool __c = !!(c); if (unlikely(__c)) shim_warn(__FILE__, __LINE__, #c); unlikely(__c); })
#define WARN_ON_ONCE(c) WARN_ON(c)
#define WARN(c, fmt, ...) ({ bool __c = !!(c); if (unlikely(__c)) { shim_printk(4, fmt, ##__VA_ARGS__); shim_warn(__FILE__, __LINE__, #c); } unlikely(__c); })
#define WARN_ONCE WARN
#define BUG() do { fprintf(stderr, "BUG at %s:%d\n", __FILE__, __LINE__); abort(); } while (0)
#define BUG_ON(c) do { if (unlikely(c)) BUG(); } while (0)

/* ---- modules ----------------------------------------------------------- */
struct module {
	const char *name;
	int refcnt;		/* try_module_get/module_put balance, checked by the sim */
};
extern struct module __this_module;
#define THIS_MODULE (&__this_module)
bool try_module_get(struct module *m);
void module_put(struct module *m);
#define EXPORT_SYMBOL(s)
#define EXPORT_SYMBOL_GPL(s)
#define EXPORT_SYMBOL_NS_GPL(s, ns)
#if IS_ENABLED(CONFIG_KUNIT)
#define VISIBLE_IF_KUNIT
#else
#define VISIBLE_IF_KUNIT static
#endif
#define EXPORT_SYMBOL_IF_KUNIT(s)
#define MODULE_LICENSE(x)
#define MODULE_AUTHOR(x)
#define MODULE_DESCRIPTION(x)
#define MODULE_PARM_DESC(p, d)
#define MODULE_IMPORT_NS(x)
#define module_param(name, type, perm)
#define module_param_named(name, var, type, perm)
/* a module's init and exit: the simulator calls them to load and unload
 * it (one module per build: the AP driver; kvm's part has none) */
#define module_init(f) int (*shim_module_init_fn)(void) = (f)
#define module_exit(f) void (*shim_module_exit_fn)(void) = (f)
#define late_initcall(f)

/* ---- time --------------------------------------------------------------- */
/* msleep sleeps ms / APSIM_TIME_DIV (env, default 1); it also records a
 * lock-held-while-sleeping violation when the caller holds a shim mutex. */
void msleep(unsigned int ms);
#define msleep_interruptible(ms) (msleep(ms), 0UL)
void usleep_range(unsigned long min_us, unsigned long max_us);
void udelay(unsigned long us);
/* HZ=1000 so that the 1 ms reset intervals of the tests stay 1 ms */
#define HZ 1000
#define jiffies ((unsigned long)shim_jiffies())
unsigned long shim_jiffies(void);
/* rounded up, as the kernel's */
#define msecs_to_jiffies(ms) (((unsigned long)(ms) * HZ + 999) / 1000)
#define jiffies_to_msecs(j) ((unsigned int)((j) * 1000 / HZ))
#define time_after(a, b) ((long)((b) - (a)) < 0)
#define time_before(a, b) time_after(b, a)

/* ---- memory ------------------------------------------------------------ */
#define GFP_KERNEL 0x1u
#define GFP_KERNEL_ACCOUNT 0x3u
#define GFP_ATOMIC 0x4u
#define GFP_NOWAIT 0x8u
#define __GFP_NOWARN 0x10u
#define __GFP_ZERO 0x20u
#define __GFP_NOFAIL 0x40u	/* never fails: no injected failure either */
/* true when the sim injects an allocation failure here */
bool shim_alloc_fails(void);
void *kmalloc(size_t size, gfp_t gfp);
void *kzalloc(size_t size, gfp_t gfp);
void *kcalloc(size_t n, size_t size, gfp_t gfp);
void *kmalloc_array(size_t n, size_t size, gfp_t gfp);
void kfree(const void *p);
#define kvfree kfree
#define kvzalloc kzalloc
#define kvmalloc kmalloc
#define kvmalloc_array kmalloc_array
#define kfree_sensitive kfree

/* ---- user copies: the "user" buffer is the payload the sim received --- */
/* A NULL source or destination stands for a bad user address. */
unsigned long copy_from_user(void *to, const void __user *from, unsigned long n);
unsigned long copy_to_user(void __user *to, const void *from, unsigned long n);
#define u64_to_user_ptr(x) ((void __user *)(uintptr_t)(x))
#define get_user(x, p) ({ int __e = -EFAULT; if (p) { (x) = *(p); __e = 0; } __e; })
#define put_user(x, p) ({ int __e = -EFAULT; if (p) { *(p) = (x); __e = 0; } __e; })

/* ---- mutexes (pthread) with lockdep-lite ------------------------------- */
struct mutex {
	pthread_mutex_t m;
	pthread_t owner;
	int held;
	const char *name;	/* lock class: the name the kernel's lockdep would use */
	int cls;		/* class index, assigned on first acquisition */
	bool sleepable;		/* may be held across msleep (a VM's SET mutex) */
	bool ap_bus;		/* an AP bus lock: never held across a wait userspace
				 * controls (kvm->lock, a VM's SET mutex, a reset) */
};
#define __MUTEX_INITIALIZER(n) { PTHREAD_MUTEX_INITIALIZER, 0, 0, #n, -1, false }
#define DEFINE_MUTEX(n) struct mutex n = __MUTEX_INITIALIZER(n)
void shim_mutex_init(struct mutex *m, const char *name);
#define mutex_init(m) shim_mutex_init((m), #m)
void mutex_destroy(struct mutex *m);
void mutex_lock(struct mutex *m);
#define mutex_lock_nested(m, s) mutex_lock(m)
/* killable/interruptible: -EINTR when the task gets a fatal signal while
 * waiting (the client died: see shim-task.h) */
int mutex_lock_killable(struct mutex *m);
#define mutex_lock_interruptible(m) mutex_lock_killable(m)
#define mutex_lock_killable_nested(m, s) mutex_lock_killable(m)
int mutex_trylock(struct mutex *m);
void mutex_unlock(struct mutex *m);
bool mutex_is_locked(struct mutex *m);
bool shim_mutex_held_by_me(const struct mutex *m);
/* number of shim mutexes the calling thread holds (not counting sleepable ones) */
int shim_locks_held(void);
void shim_lockdep_fail(const char *what, const char *name, const char *file, int line);
#define lockdep_assert_held(l) do { if (!shim_mutex_held_by_me(l)) shim_lockdep_fail("lockdep_assert_held", (l)->name, __FILE__, __LINE__); } while (0)
#define lockdep_assert_not_held(l) do { if (shim_mutex_held_by_me(l)) shim_lockdep_fail("lockdep_assert_not_held", (l)->name, __FILE__, __LINE__); } while (0)
#define lockdep_assert_none_held_once() do { if (shim_locks_held()) shim_lockdep_fail("lockdep_assert_none_held_once", "any", __FILE__, __LINE__); } while (0)
#define lockdep_set_class(l, k) do { } while (0)
/*
 * Lockdep priming (fs_reclaim ordering) has nothing to tell here: the
 * shim's kmalloc() itself reports an allocation under ap_matrix_lock.
 */
#define might_lock(l) do { (void)(l); } while (0)
#define fs_reclaim_acquire(gfp) do { (void)(gfp); } while (0)
#define fs_reclaim_release(gfp) do { (void)(gfp); } while (0)
struct lock_class_key { int dummy; };

/* spinlocks: the same pthread mutexes (no sleeping checks) */
typedef struct mutex spinlock_t;
#define DEFINE_SPINLOCK(n) spinlock_t n = __MUTEX_INITIALIZER(n)
#define spin_lock_init(l) shim_mutex_init((l), #l)
#define spin_lock(l) mutex_lock(l)
#define spin_unlock(l) mutex_unlock(l)
#define spin_lock_irq(l) mutex_lock(l)
#define spin_unlock_irq(l) mutex_unlock(l)
#define spin_lock_irqsave(l, f) do { (f) = 0; mutex_lock(l); } while (0)
#define spin_unlock_irqrestore(l, f) do { (void)(f); mutex_unlock(l); } while (0)

/* cleanup.h guards for mutexes: guard(mutex)(&m); scoped_guard(mutex, &m) { } */
typedef struct mutex *class_mutex_t;
static inline void class_mutex_destructor(class_mutex_t *p) { if (*p) mutex_unlock(*p); }
static inline class_mutex_t class_mutex_constructor(struct mutex *m) { mutex_lock(m); return m; }
#define __shim_cat2(a, b) a##b
#define __shim_cat(a, b) __shim_cat2(a, b)
#define __shim_uniq(p) __shim_cat(p, __COUNTER__)
#define CLASS(_name, var) \
	class_##_name##_t var __attribute__((cleanup(class_##_name##_destructor))) = class_##_name##_constructor
#define guard(_name) CLASS(_name, __shim_uniq(__guard_))
#define scoped_guard(_name, args...) \
	for (CLASS(_name, scope)(args), *__done = NULL; !__done; __done = (void *)1)
#define __free(f) __attribute__((cleanup(__free_##f)))
static inline void __free_kfree(void *p) { kfree(*(void **)p); }
#define no_free_ptr(p) ({ __typeof__(p) __p = (p); (p) = NULL; __p; })
#define return_ptr(p) return no_free_ptr(p)

/* ---- atomics (only what bookkeeping might use) ------------------------- */
typedef struct { int counter; } atomic_t;
#define ATOMIC_INIT(i) { (i) }
#define atomic_read(v) __atomic_load_n(&(v)->counter, __ATOMIC_SEQ_CST)
#define atomic_set(v, i) __atomic_store_n(&(v)->counter, (i), __ATOMIC_SEQ_CST)
#define atomic_inc(v) ((void)__atomic_add_fetch(&(v)->counter, 1, __ATOMIC_SEQ_CST))
#define atomic_dec(v) ((void)__atomic_sub_fetch(&(v)->counter, 1, __ATOMIC_SEQ_CST))
#define atomic_inc_return(v) __atomic_add_fetch(&(v)->counter, 1, __ATOMIC_SEQ_CST)
#define atomic_dec_and_test(v) (__atomic_sub_fetch(&(v)->counter, 1, __ATOMIC_SEQ_CST) == 0)

/* ---- bitops and bitmaps (generic LSB0, plus s390's MSB0 *_inv) ---------- */
#define BITS_PER_LONG 64
#define BITS_PER_BYTE 8
#define BIT(n) (1UL << (n))
#define BIT_ULL(n) (1ULL << (n))
#define BIT_MASK(n) (1UL << ((n) % BITS_PER_LONG))
#define BIT_WORD(n) ((n) / BITS_PER_LONG)
#define BITS_TO_LONGS(n) DIV_ROUND_UP(n, BITS_PER_LONG)
#define DECLARE_BITMAP(name, bits) unsigned long name[BITS_TO_LONGS(bits)]
#define GENMASK(h, l) (((~0UL) << (l)) & (~0UL >> (BITS_PER_LONG - 1 - (h))))

static inline void __set_bit(unsigned long nr, volatile unsigned long *a) { a[BIT_WORD(nr)] |= BIT_MASK(nr); }
static inline void __clear_bit(unsigned long nr, volatile unsigned long *a) { a[BIT_WORD(nr)] &= ~BIT_MASK(nr); }
static inline void set_bit(unsigned long nr, volatile unsigned long *a)
{ __atomic_or_fetch(&a[BIT_WORD(nr)], BIT_MASK(nr), __ATOMIC_SEQ_CST); }
static inline void clear_bit(unsigned long nr, volatile unsigned long *a)
{ __atomic_and_fetch(&a[BIT_WORD(nr)], ~BIT_MASK(nr), __ATOMIC_SEQ_CST); }
/* the kernel's test_bit() is a single-copy-atomic read, paired with the
 * atomic set_bit()/clear_bit() by design: a relaxed atomic load here */
static inline bool test_bit(unsigned long nr, const volatile unsigned long *a)
{ return (__atomic_load_n(&a[BIT_WORD(nr)], __ATOMIC_RELAXED) & BIT_MASK(nr)) != 0; }
static inline bool test_and_set_bit(unsigned long nr, volatile unsigned long *a)
{ return (__atomic_fetch_or(&a[BIT_WORD(nr)], BIT_MASK(nr), __ATOMIC_SEQ_CST) & BIT_MASK(nr)) != 0; }
static inline bool test_and_clear_bit(unsigned long nr, volatile unsigned long *a)
{ return (__atomic_fetch_and(&a[BIT_WORD(nr)], ~BIT_MASK(nr), __ATOMIC_SEQ_CST) & BIT_MASK(nr)) != 0; }
#define __test_and_set_bit test_and_set_bit
#define __test_and_clear_bit test_and_clear_bit

unsigned long find_next_bit(const unsigned long *addr, unsigned long size, unsigned long offset);
unsigned long find_next_zero_bit(const unsigned long *addr, unsigned long size, unsigned long offset);
#define find_first_bit(a, s) find_next_bit((a), (s), 0)
#define find_first_zero_bit(a, s) find_next_zero_bit((a), (s), 0)
#define for_each_set_bit(bit, addr, size) \
	for ((bit) = find_next_bit((addr), (size), 0); (bit) < (size); \
	     (bit) = find_next_bit((addr), (size), (bit) + 1))
#define for_each_clear_bit(bit, addr, size) \
	for ((bit) = find_next_zero_bit((addr), (size), 0); (bit) < (size); \
	     (bit) = find_next_zero_bit((addr), (size), (bit) + 1))

/* arch/s390/include/asm/bitops.h: MSB0 numbering */
unsigned long find_first_bit_inv(const unsigned long *addr, unsigned long size);
unsigned long find_next_bit_inv(const unsigned long *addr, unsigned long size, unsigned long offset);
#define for_each_set_bit_inv(bit, addr, size) \
	for ((bit) = find_first_bit_inv((addr), (size)); (bit) < (size); \
	     (bit) = find_next_bit_inv((addr), (size), (bit) + 1))
static inline void set_bit_inv(unsigned long nr, volatile unsigned long *p) { set_bit(nr ^ (BITS_PER_LONG - 1), p); }
static inline void clear_bit_inv(unsigned long nr, volatile unsigned long *p) { clear_bit(nr ^ (BITS_PER_LONG - 1), p); }
static inline bool test_and_clear_bit_inv(unsigned long nr, volatile unsigned long *p)
{ return test_and_clear_bit(nr ^ (BITS_PER_LONG - 1), p); }
static inline void __set_bit_inv(unsigned long nr, volatile unsigned long *p) { __set_bit(nr ^ (BITS_PER_LONG - 1), p); }
static inline void __clear_bit_inv(unsigned long nr, volatile unsigned long *p) { __clear_bit(nr ^ (BITS_PER_LONG - 1), p); }
static inline bool test_bit_inv(unsigned long nr, const volatile unsigned long *p)
{ return test_bit(nr ^ (BITS_PER_LONG - 1), p); }

static inline unsigned long __shim_last_mask(unsigned int nbits)
{ return nbits % BITS_PER_LONG ? (1UL << (nbits % BITS_PER_LONG)) - 1 : ~0UL; }
static inline void bitmap_zero(unsigned long *d, unsigned int n) { memset(d, 0, BITS_TO_LONGS(n) * sizeof(long)); }
static inline void bitmap_fill(unsigned long *d, unsigned int n)
{ memset(d, 0xff, BITS_TO_LONGS(n) * sizeof(long)); if (n % BITS_PER_LONG) d[n / BITS_PER_LONG] &= __shim_last_mask(n); }
static inline void bitmap_copy(unsigned long *d, const unsigned long *s, unsigned int n)
{ memcpy(d, s, BITS_TO_LONGS(n) * sizeof(long)); }
#define __SHIM_BITMAP_OP(name, expr, ret)						\
static inline ret name(unsigned long *d, const unsigned long *a,			\
		       const unsigned long *b, unsigned int n)				\
{											\
	unsigned long acc = 0;								\
	unsigned int i, w = BITS_TO_LONGS(n);						\
	for (i = 0; i < w; i++) {							\
		d[i] = (expr);								\
		if (i == w - 1)								\
			d[i] &= __shim_last_mask(n);					\
		acc |= d[i];								\
	}										\
	return (ret)(acc != 0);								\
}
__SHIM_BITMAP_OP(bitmap_and, a[i] & b[i], bool)
__SHIM_BITMAP_OP(bitmap_andnot, a[i] & ~b[i], bool)
#undef __SHIM_BITMAP_OP
static inline void bitmap_or(unsigned long *d, const unsigned long *a, const unsigned long *b, unsigned int n)
{ unsigned int i; for (i = 0; i < BITS_TO_LONGS(n); i++) d[i] = a[i] | b[i]; }
static inline void bitmap_xor(unsigned long *d, const unsigned long *a, const unsigned long *b, unsigned int n)
{ unsigned int i; for (i = 0; i < BITS_TO_LONGS(n); i++) d[i] = a[i] ^ b[i]; }
static inline void bitmap_complement(unsigned long *d, const unsigned long *s, unsigned int n)
{ unsigned int i; for (i = 0; i < BITS_TO_LONGS(n); i++) d[i] = ~s[i]; if (n % BITS_PER_LONG) d[n / BITS_PER_LONG] &= __shim_last_mask(n); }
static inline bool bitmap_empty(const unsigned long *s, unsigned int n) { return find_next_bit(s, n, 0) >= n; }
static inline bool bitmap_full(const unsigned long *s, unsigned int n) { return find_next_zero_bit(s, n, 0) >= n; }
static inline bool bitmap_equal(const unsigned long *a, const unsigned long *b, unsigned int n)
{ unsigned int i; for (i = 0; i < BITS_TO_LONGS(n); i++) { unsigned long m = (i == BITS_TO_LONGS(n) - 1) ? __shim_last_mask(n) : ~0UL; if ((a[i] ^ b[i]) & m) return false; } return true; }
static inline bool bitmap_intersects(const unsigned long *a, const unsigned long *b, unsigned int n)
{ unsigned int i; for (i = 0; i < BITS_TO_LONGS(n); i++) { unsigned long m = (i == BITS_TO_LONGS(n) - 1) ? __shim_last_mask(n) : ~0UL; if (a[i] & b[i] & m) return true; } return false; }
static inline bool bitmap_subset(const unsigned long *a, const unsigned long *b, unsigned int n)
{ unsigned int i; for (i = 0; i < BITS_TO_LONGS(n); i++) { unsigned long m = (i == BITS_TO_LONGS(n) - 1) ? __shim_last_mask(n) : ~0UL; if (a[i] & ~b[i] & m) return false; } return true; }
static inline unsigned int bitmap_weight(const unsigned long *s, unsigned int n)
{ unsigned int i, c = 0; for (i = 0; i < BITS_TO_LONGS(n); i++) { unsigned long m = (i == BITS_TO_LONGS(n) - 1) ? __shim_last_mask(n) : ~0UL; c += __builtin_popcountl(s[i] & m); } return c; }
static inline void bitmap_set(unsigned long *map, unsigned int start, unsigned int len)
{ while (len--) __set_bit(start++, map); }
static inline void bitmap_clear(unsigned long *map, unsigned int start, unsigned int len)
{ while (len--) __clear_bit(start++, map); }
#define hweight_long(w) __builtin_popcountl(w)
#define hweight64(w) __builtin_popcountll(w)
#define __fls(w) (BITS_PER_LONG - 1 - __builtin_clzl(w))
#define __ffs(w) ((unsigned long)__builtin_ctzl(w))

/* ---- xarray: a flat two-level table, cost independent of the number of users */
struct xarray {
	struct mutex xa_lock;
	unsigned int flags;
	void ***chunks;		/* chunks[index >> 8][index & 0xff] */
	unsigned long nchunks;
	unsigned long count;	/* present entries */
};
#define XA_FLAGS_LOCK_IRQ 0x1u
#define XA_FLAGS_LOCK_BH 0x2u
#define XA_FLAGS_ALLOC 0x4u
#define XA_FLAGS_ALLOC1 0x8u
#define XARRAY_INIT(name, f) { __MUTEX_INITIALIZER(name.xa_lock), (f), NULL, 0, 0 }
#define DEFINE_XARRAY_FLAGS(name, f) struct xarray name = XARRAY_INIT(name, f)
#define DEFINE_XARRAY(name) DEFINE_XARRAY_FLAGS(name, 0)
#define DEFINE_XARRAY_ALLOC(name) DEFINE_XARRAY_FLAGS(name, XA_FLAGS_ALLOC)
#define XA_PRESENT ((unsigned int)8)
/* largest index the flat table takes (APQNs are 16 bits) */
#define SHIM_XA_MAX_INDEX ((1UL << 20) - 1)

static inline void *xa_mk_value(unsigned long v) { return (void *)((v << 1) | 1); }
static inline unsigned long xa_to_value(const void *e) { return (unsigned long)e >> 1; }
static inline bool xa_is_value(const void *e) { return (unsigned long)e & 1; }
static inline void *xa_mk_internal(unsigned long v) { return (void *)((v << 2) | 2); }
static inline bool xa_is_internal(const void *e) { return ((unsigned long)e & 3) == 2; }
static inline bool xa_is_err(const void *e)
{ return unlikely(xa_is_internal(e) && (unsigned long)e >= (unsigned long)xa_mk_internal(-MAX_ERRNO)); }
static inline int xa_err(void *e) { return xa_is_err(e) ? (int)((long)e >> 2) : 0; }
#define XA_ZERO_ENTRY xa_mk_internal(257)

void xa_init_flags(struct xarray *xa, unsigned int flags);
static inline void xa_init(struct xarray *xa) { xa_init_flags(xa, 0); }
void *xa_load(struct xarray *xa, unsigned long index);
void *__xa_store(struct xarray *xa, unsigned long index, void *entry, gfp_t gfp);
void *xa_store(struct xarray *xa, unsigned long index, void *entry, gfp_t gfp);
void *__xa_erase(struct xarray *xa, unsigned long index);
void *xa_erase(struct xarray *xa, unsigned long index);
int __xa_insert(struct xarray *xa, unsigned long index, void *entry, gfp_t gfp);
int xa_insert(struct xarray *xa, unsigned long index, void *entry, gfp_t gfp);
void *__xa_cmpxchg(struct xarray *xa, unsigned long index, void *old, void *entry, gfp_t gfp);
void *xa_cmpxchg(struct xarray *xa, unsigned long index, void *old, void *entry, gfp_t gfp);
int xa_reserve(struct xarray *xa, unsigned long index, gfp_t gfp);
void xa_release(struct xarray *xa, unsigned long index);
void *xa_find(struct xarray *xa, unsigned long *index, unsigned long max, unsigned int filter);
void *xa_find_after(struct xarray *xa, unsigned long *index, unsigned long max, unsigned int filter);
void xa_destroy(struct xarray *xa);
bool xa_empty(const struct xarray *xa);
#define xa_lock(xa) mutex_lock(&(xa)->xa_lock)
#define xa_unlock(xa) mutex_unlock(&(xa)->xa_lock)
#define xa_lock_irq xa_lock
#define xa_unlock_irq xa_unlock
#define xa_lock_bh xa_lock
#define xa_unlock_bh xa_unlock
#define xa_lock_irqsave(xa, f) do { (f) = 0; xa_lock(xa); } while (0)
#define xa_unlock_irqrestore(xa, f) do { (void)(f); xa_unlock(xa); } while (0)
#define xa_for_each_range(xa, index, entry, start, last) \
	for ((index) = (start), (entry) = xa_find((xa), &(index), (last), XA_PRESENT); (entry); \
	     (entry) = xa_find_after((xa), &(index), (last), XA_PRESENT))
#define xa_for_each_start(xa, index, entry, start) xa_for_each_range(xa, index, entry, start, ULONG_MAX)
#define xa_for_each(xa, index, entry) xa_for_each_start(xa, index, entry, 0)

/* ---- lists (include/linux/list.h) ---------------------------------------- */
struct list_head {
	struct list_head *next, *prev;
};
#define LIST_HEAD_INIT(name) { &(name), &(name) }
#define LIST_HEAD(name) struct list_head name = LIST_HEAD_INIT(name)
static inline void INIT_LIST_HEAD(struct list_head *l) { l->next = l; l->prev = l; }
static inline void __list_add(struct list_head *n, struct list_head *prev, struct list_head *next)
{ next->prev = n; n->next = next; n->prev = prev; prev->next = n; }
static inline void list_add(struct list_head *n, struct list_head *head) { __list_add(n, head, head->next); }
static inline void list_add_tail(struct list_head *n, struct list_head *head) { __list_add(n, head->prev, head); }
static inline void list_del(struct list_head *e)
{ e->next->prev = e->prev; e->prev->next = e->next; e->next = (void *)0x100; e->prev = (void *)0x122; }
static inline void list_del_init(struct list_head *e)
{ e->next->prev = e->prev; e->prev->next = e->next; INIT_LIST_HEAD(e); }
static inline bool list_empty(const struct list_head *h) { return h->next == h; }
#define list_entry(ptr, type, member) container_of(ptr, type, member)
#define list_first_entry(ptr, type, member) list_entry((ptr)->next, type, member)
#define list_next_entry(pos, member) list_entry((pos)->member.next, __typeof__(*(pos)), member)
#define list_for_each(pos, head) for (pos = (head)->next; pos != (head); pos = pos->next)
#define list_for_each_entry(pos, head, member) \
	for (pos = list_first_entry(head, __typeof__(*pos), member); &pos->member != (head); \
	     pos = list_next_entry(pos, member))
#define list_for_each_entry_safe(pos, n, head, member) \
	for (pos = list_first_entry(head, __typeof__(*pos), member), n = list_next_entry(pos, member); \
	     &pos->member != (head); pos = n, n = list_next_entry(n, member))

/* hash lists: a head of one pointer, zero-initialized empty */
struct hlist_node {
	struct hlist_node *next, **pprev;
};
struct hlist_head {
	struct hlist_node *first;
};
static inline void hlist_add_head(struct hlist_node *n, struct hlist_head *h)
{ n->next = h->first; if (h->first) h->first->pprev = &n->next; h->first = n; n->pprev = &h->first; }
static inline void hlist_del(struct hlist_node *n)
{ *n->pprev = n->next; if (n->next) n->next->pprev = n->pprev; n->next = (void *)0x100; n->pprev = (void *)0x122; }
static inline bool hlist_empty(const struct hlist_head *h) { return !h->first; }
#define hlist_entry_safe(ptr, type, member) \
	({ __typeof__(ptr) ____ptr = (ptr); ____ptr ? container_of(____ptr, type, member) : NULL; })
#define hlist_for_each_entry(pos, head, member) \
	for (pos = hlist_entry_safe((head)->first, __typeof__(*(pos)), member); pos; \
	     pos = hlist_entry_safe((pos)->member.next, __typeof__(*(pos)), member))

/* ---- misc ---------------------------------------------------------------- */
#define kstrtoul(s, b, r) ({ char *__e; errno = 0; *(r) = strtoul((s), &__e, (b)); (errno || __e == (s)) ? -EINVAL : 0; })
#define scnprintf snprintf
#define hex_to_bin(c) ((c) >= '0' && (c) <= '9' ? (c) - '0' : ((c) | 0x20) >= 'a' && ((c) | 0x20) <= 'f' ? ((c) | 0x20) - 'a' + 10 : -1)

#include "shim-task.h"

#endif /* APSIM_SHIM_H */
