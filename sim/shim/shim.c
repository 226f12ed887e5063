// SPDX-License-Identifier: GPL-2.0
/*
 * Runtime of the userspace shims (see shim.h): pthread mutexes with a
 * small lock-order checker in the spirit of lockdep, a flat xarray,
 * allocation failure injection, msleep, printk into a log the simulator
 * can show, and the MSB0 bit search of arch/s390/lib/find.c.
 *
 * Kernel code is global by nature; so is this file's state. Every
 * "violation" (an inverted lock order, sleeping with a lock held, a failed
 * lockdep assertion, a WARN) is counted and printed; the simulator reports
 * the count and the tests assert it stays 0.
 */
#include "shim.h"

#include <time.h>
#include <unistd.h>

struct module __this_module = { .name = "kvm", .refcnt = 0 };

/* ---- violations and log ----------------------------------------------- */

static pthread_mutex_t log_mtx = PTHREAD_MUTEX_INITIALIZER;
static unsigned long violations;
static void (*log_sink)(int level, const char *line);

void shim_set_log_sink(void (*sink)(int level, const char *line))
{
	log_sink = sink;
}

unsigned long shim_violations(void)
{
	unsigned long v;

	pthread_mutex_lock(&log_mtx);
	v = violations;
	pthread_mutex_unlock(&log_mtx);
	return v;
}

static void emit(int level, const char *line)
{
	if (log_sink)
		log_sink(level, line);
	else if (level <= 4 || getenv("APSIM_VERBOSE"))
		fprintf(stderr, "[kernel] %s\n", line);
}

void shim_printk(int level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	emit(level, buf);
}

static void violation(const char *fmt, ...) __printf(1, 2);
static void violation(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&log_mtx);
	violations++;
	pthread_mutex_unlock(&log_mtx);
	fprintf(stderr, "apsim: VIOLATION: %s\n", buf);
	emit(2, buf);
}

void shim_violation(const char *fmt, ...) __printf(1, 2);
void shim_violation(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	violation("%s", buf);
}

void shim_warn(const char *file, int line, const char *cond)
{
	violation("WARNING at %s:%d: %s", file, line, cond);
}

/* ---- modules ------------------------------------------------------------ */

bool try_module_get(struct module *m)
{
	if (m)
		__atomic_add_fetch(&m->refcnt, 1, __ATOMIC_SEQ_CST);
	return true;
}

void module_put(struct module *m)
{
	if (m && __atomic_sub_fetch(&m->refcnt, 1, __ATOMIC_SEQ_CST) < 0)
		violation("module_put on %s below zero", m->name ? m->name : "?");
}

/* ---- time --------------------------------------------------------------- */

static unsigned int time_div(void)
{
	static unsigned int div;
	unsigned int d = __atomic_load_n(&div, __ATOMIC_RELAXED);
	const char *s;

	if (!d) {
		s = getenv("APSIM_TIME_DIV");
		d = (s && atoi(s) > 0) ? (unsigned int)atoi(s) : 1;
		__atomic_store_n(&div, d, __ATOMIC_RELAXED);
	}
	return d;
}

unsigned int shim_time_div(void)
{
	return time_div();
}

void msleep(unsigned int ms)
{
	if (shim_locks_held())
		violation("msleep(%u) with %d lock(s) held", ms, shim_locks_held());
	usleep((useconds_t)ms * 1000 / time_div());
}

void usleep_range(unsigned long min_us, unsigned long max_us)
{
	(void)max_us;
	if (shim_locks_held())
		violation("usleep_range with %d lock(s) held", shim_locks_held());
	usleep((useconds_t)(min_us / time_div()));
}

void udelay(unsigned long us)
{
	usleep((useconds_t)(us / time_div()));
}

unsigned long shim_jiffies(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long)ts.tv_sec * HZ + (unsigned long)ts.tv_nsec / (1000000000 / HZ);
}

/* ---- memory ------------------------------------------------------------- */

/* fail the n-th allocation from now (1 = the next one); 0 = never */
static long fail_nth;
static unsigned long allocs;

void shim_fail_alloc_nth(long n)
{
	__atomic_store_n(&fail_nth, n, __ATOMIC_SEQ_CST);
}

unsigned long shim_live_allocs(void)
{
	return __atomic_load_n(&allocs, __ATOMIC_SEQ_CST);
}

bool shim_alloc_fails(void)
{
	long n = __atomic_load_n(&fail_nth, __ATOMIC_SEQ_CST);

	if (n <= 0)
		return false;
	return __atomic_sub_fetch(&fail_nth, 1, __ATOMIC_SEQ_CST) == 0;
}

static void alloc_check(size_t size);

void *kmalloc(size_t size, gfp_t gfp)
{
	void *p;

	alloc_check(size);

	if (!(gfp & __GFP_NOFAIL) && shim_alloc_fails())
		return NULL;
	p = (gfp & __GFP_ZERO) ? calloc(1, size ? size : 1) : malloc(size ? size : 1);
	if (p)
		__atomic_add_fetch(&allocs, 1, __ATOMIC_SEQ_CST);
	return p;
}

void *kzalloc(size_t size, gfp_t gfp)
{
	return kmalloc(size, gfp | __GFP_ZERO);
}

void *kcalloc(size_t n, size_t size, gfp_t gfp)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	return kmalloc(n * size, gfp | __GFP_ZERO);
}

void *kmalloc_array(size_t n, size_t size, gfp_t gfp)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	return kmalloc(n * size, gfp);
}

void kfree(const void *p)
{
	if (!p)
		return;
	__atomic_sub_fetch(&allocs, 1, __ATOMIC_SEQ_CST);
	free((void *)p);
}

/* ---- user copies ------------------------------------------------------- */

unsigned long copy_from_user(void *to, const void __user *from, unsigned long n)
{
	if (!from)
		return n;
	memcpy(to, from, n);
	return 0;
}

unsigned long copy_to_user(void __user *to, const void *from, unsigned long n)
{
	if (!to)
		return n;
	memcpy(to, from, n);
	return 0;
}

/* ---- mutexes and lockdep-lite ----------------------------------------- */

#define MAX_CLASSES 64
#define MAX_HELD 16

static pthread_mutex_t dep_mtx = PTHREAD_MUTEX_INITIALIZER;
static const char *class_name[MAX_CLASSES];
/* per lock class: nothing may be allocated while it is held */
static bool no_alloc[MAX_CLASSES];
static int nclasses;
static bool after[MAX_CLASSES][MAX_CLASSES];	/* after[a][b]: b was taken while a was held */

static __thread struct mutex *held[MAX_HELD];
static __thread int nheld;

static int class_of(struct mutex *m)
{
	int i;

	if (m->cls >= 0)
		return m->cls;
	pthread_mutex_lock(&dep_mtx);
	for (i = 0; i < nclasses; i++)
		if (!strcmp(class_name[i], m->name))
			break;
	if (i == nclasses && nclasses < MAX_CLASSES) {
		no_alloc[nclasses] = !strcmp(m->name, "ap_matrix_lock");
		class_name[nclasses++] = m->name;
	}
	pthread_mutex_unlock(&dep_mtx);
	m->cls = i < MAX_CLASSES ? i : MAX_CLASSES - 1;
	return m->cls;
}

/* is there a path from a to b in the "taken after" graph? dep_mtx held */
static bool reaches(int a, int b, unsigned long long *seen)
{
	int i;

	if (a == b)
		return true;
	*seen |= 1ULL << a;
	for (i = 0; i < nclasses; i++)
		if (after[a][i] && !(*seen & (1ULL << i)) && reaches(i, b, seen))
			return true;
	return false;
}

static void note_acquire(struct mutex *m)
{
	int c = class_of(m), i, h;
	unsigned long long seen;

	pthread_mutex_lock(&dep_mtx);
	for (i = 0; i < nheld; i++) {
		h = held[i]->cls;
		if (h == c) {
			pthread_mutex_unlock(&dep_mtx);
			violation("lock class %s taken twice (nested)", m->name);
			pthread_mutex_lock(&dep_mtx);
			continue;
		}
		seen = 0;
		if (!after[h][c] && reaches(c, h, &seen)) {
			const char *hn = class_name[h];

			pthread_mutex_unlock(&dep_mtx);
			violation("lock order inversion: %s taken while holding %s, but %s was taken before %s elsewhere",
				  m->name, hn, m->name, hn);
			pthread_mutex_lock(&dep_mtx);
			continue;
		}
		after[h][c] = true;
	}
	pthread_mutex_unlock(&dep_mtx);
	/* the contract: AP bus locks are never held across a wait userspace
	 * controls; the VMM holds kvm->lock, and a VM's SET mutex across its
	 * hand-over */
	if (!strcmp(m->name, "&kvm->lock") || m->sleepable)
		for (i = 0; i < nheld; i++)
			if (held[i]->ap_bus)
				violation("%s taken while holding the AP bus lock %s",
					  m->name, held[i]->name);
	if (nheld < MAX_HELD)
		held[nheld++] = m;
	else
		violation("more than %d locks held", MAX_HELD);
}

static void note_release(struct mutex *m)
{
	int i;

	for (i = nheld - 1; i >= 0; i--) {
		if (held[i] == m) {
			memmove(&held[i], &held[i + 1], (size_t)(nheld - i - 1) * sizeof(held[0]));
			nheld--;
			return;
		}
	}
}

/*
 * ap_matrix.c allocates nothing under ap_matrix_lock or an AP bus lock (a
 * SET allocates before it takes them; remove(), on_config_changed() and
 * the workers allocate nothing): an allocation there, __GFP_NOFAIL
 * included, is a violation.
 */
static void alloc_check(size_t size)
{
	int i;

	for (i = 0; i < nheld; i++)
		if (held[i]->ap_bus || no_alloc[held[i]->cls])
			violation("allocation of %zu bytes with %s held", size,
				  held[i]->name);
}

int shim_locks_held(void)
{
	int i, n = 0;

	for (i = 0; i < nheld; i++)
		n += !held[i]->sleepable || held[i]->ap_bus;
	return n;
}

/* lock waits longer than the bound: callers blocked past it (kvm->lock,
 * which the VMM holds, is not counted) */
static unsigned int lock_bound_ms;
static unsigned long lock_waits_over, lock_wait_max_us;
static const char *lock_wait_max_cls;

void shim_set_lock_bound(unsigned int ms)
{
	__atomic_store_n(&lock_bound_ms, ms, __ATOMIC_SEQ_CST);
}

unsigned long shim_lock_waits_over(unsigned long *max_us, const char **cls)
{
	unsigned long n;

	pthread_mutex_lock(&dep_mtx);
	n = lock_waits_over;
	if (max_us)
		*max_us = lock_wait_max_us;
	if (cls)
		*cls = lock_wait_max_cls;
	pthread_mutex_unlock(&dep_mtx);
	return n;
}

static unsigned long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long)ts.tv_sec * 1000000UL + (unsigned long)ts.tv_nsec / 1000;
}

static void note_wait(struct mutex *m, unsigned long us)
{
	unsigned int bound = __atomic_load_n(&lock_bound_ms, __ATOMIC_SEQ_CST);

	/* kvm->lock is held by the VMM (vCPU ioctls); a VM's SET mutex by
	 * that VM's earlier SET, for its bounded hand-over: waiting for
	 * either is the VM's own business */
	if (!bound || !strcmp(m->name, "&kvm->lock") || m->sleepable)
		return;
	pthread_mutex_lock(&dep_mtx);
	if (us > lock_wait_max_us) {
		lock_wait_max_us = us;
		lock_wait_max_cls = m->name;
	}
	if (us > bound * 1000UL)
		lock_waits_over++;
	pthread_mutex_unlock(&dep_mtx);
}

static void set_owner(struct mutex *m, bool held)
{
	__atomic_store_n(&m->owner, held ? pthread_self() : (pthread_t)0, __ATOMIC_RELEASE);
	__atomic_store_n(&m->held, held ? 1 : 0, __ATOMIC_RELEASE);
}

void shim_mutex_init(struct mutex *m, const char *name)
{
	pthread_mutex_init(&m->m, NULL);
	m->held = 0;
	m->name = name;
	m->cls = -1;
	m->sleepable = false;
}

void mutex_destroy(struct mutex *m)
{
	if (__atomic_load_n(&m->held, __ATOMIC_ACQUIRE))
		violation("mutex_destroy of held mutex %s", m->name);
	pthread_mutex_destroy(&m->m);
}

void mutex_lock(struct mutex *m)
{
	if (shim_mutex_held_by_me(m)) {
		violation("recursive mutex_lock(%s): deadlock", m->name);
		abort();
	}
	if (pthread_mutex_trylock(&m->m)) {
		unsigned long t0 = now_us();

		pthread_mutex_lock(&m->m);
		note_wait(m, now_us() - t0);
	}
	set_owner(m, true);
	note_acquire(m);
}

int mutex_lock_killable(struct mutex *m)
{
	struct timespec ts;
	unsigned long t0;

	if (shim_mutex_held_by_me(m)) {
		violation("recursive mutex_lock_killable(%s): deadlock", m->name);
		abort();
	}
	if (pthread_mutex_trylock(&m->m)) {
		t0 = now_us();
		for (;;) {
			/* the kernel looks at signals while it sleeps on the lock */
			if (fatal_signal_pending(current))
				return -EINTR;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 5000000;
			ts.tv_sec += ts.tv_nsec / 1000000000;
			ts.tv_nsec %= 1000000000;
			if (!pthread_mutex_timedlock(&m->m, &ts))
				break;
		}
		note_wait(m, now_us() - t0);
	}
	set_owner(m, true);
	note_acquire(m);
	return 0;
}

int mutex_trylock(struct mutex *m)
{
	if (pthread_mutex_trylock(&m->m))
		return 0;
	set_owner(m, true);
	if (nheld < MAX_HELD)
		held[nheld++] = m;
	return 1;
}

void mutex_unlock(struct mutex *m)
{
	if (!shim_mutex_held_by_me(m)) {
		violation("mutex_unlock(%s) by a thread that does not hold it", m->name);
		return;
	}
	note_release(m);
	set_owner(m, false);
	pthread_mutex_unlock(&m->m);
}

bool mutex_is_locked(struct mutex *m)
{
	return __atomic_load_n(&m->held, __ATOMIC_SEQ_CST) != 0;
}

bool shim_mutex_held_by_me(const struct mutex *m)
{
	return __atomic_load_n(&m->held, __ATOMIC_ACQUIRE) &&
	       pthread_equal(__atomic_load_n(&m->owner, __ATOMIC_ACQUIRE), pthread_self());
}

void shim_lockdep_fail(const char *what, const char *name, const char *file, int line)
{
	violation("%s(%s) failed at %s:%d", what, name, file, line);
}

/* ---- bit search ---------------------------------------------------------- */

unsigned long find_next_bit(const unsigned long *addr, unsigned long size, unsigned long off)
{
	unsigned long w;

	while (off < size) {
		w = addr[off / BITS_PER_LONG] & (~0UL << (off % BITS_PER_LONG));
		if (w) {
			off = (off & ~(BITS_PER_LONG - 1)) + __builtin_ctzl(w);
			return off < size ? off : size;
		}
		off = (off | (BITS_PER_LONG - 1)) + 1;
	}
	return size;
}

unsigned long find_next_zero_bit(const unsigned long *addr, unsigned long size, unsigned long off)
{
	unsigned long w;

	while (off < size) {
		w = ~addr[off / BITS_PER_LONG] & (~0UL << (off % BITS_PER_LONG));
		if (w) {
			off = (off & ~(BITS_PER_LONG - 1)) + __builtin_ctzl(w);
			return off < size ? off : size;
		}
		off = (off | (BITS_PER_LONG - 1)) + 1;
	}
	return size;
}

unsigned long find_next_bit_inv(const unsigned long *addr, unsigned long size, unsigned long off)
{
	unsigned long w;

	while (off < size) {
		w = addr[off / BITS_PER_LONG] & (~0UL >> (off % BITS_PER_LONG));
		if (w) {
			off = (off & ~(BITS_PER_LONG - 1)) + __builtin_clzl(w);
			return off < size ? off : size;
		}
		off = (off | (BITS_PER_LONG - 1)) + 1;
	}
	return size;
}

unsigned long find_first_bit_inv(const unsigned long *addr, unsigned long size)
{
	return find_next_bit_inv(addr, size, 0);
}

/* ---- xarray ----------------------------------------------------------- */

#define CHUNK_SHIFT 8
#define CHUNK_SIZE (1UL << CHUNK_SHIFT)

void xa_init_flags(struct xarray *xa, unsigned int flags)
{
	shim_mutex_init(&xa->xa_lock, "xa->xa_lock");
	xa->flags = flags;
	xa->chunks = NULL;
	xa->nchunks = 0;
	xa->count = 0;
}

static void **slot(struct xarray *xa, unsigned long index)
{
	unsigned long c = index >> CHUNK_SHIFT;
	void **chunk;

	if (c >= __atomic_load_n(&xa->nchunks, __ATOMIC_ACQUIRE))
		return NULL;
	chunk = __atomic_load_n(&xa->chunks[c], __ATOMIC_ACQUIRE);
	return chunk ? &chunk[index & (CHUNK_SIZE - 1)] : NULL;
}

/* make room for index; false on allocation failure. The top array has a
 * fixed size and chunks are only freed by xa_destroy(), so readers need no
 * lock (as the kernel's RCU readers). */
#define NCHUNKS ((SHIM_XA_MAX_INDEX >> CHUNK_SHIFT) + 1)
static bool grow(struct xarray *xa, unsigned long index)
{
	unsigned long c = index >> CHUNK_SHIFT;
	void **chunk;

	if (!xa->chunks) {
		xa->chunks = calloc(NCHUNKS, sizeof(*xa->chunks));
		if (!xa->chunks)
			return false;
		__atomic_store_n(&xa->nchunks, NCHUNKS, __ATOMIC_RELEASE);
	}
	if (!xa->chunks[c]) {
		chunk = calloc(CHUNK_SIZE, sizeof(void *));
		if (!chunk)
			return false;
		__atomic_store_n(&xa->chunks[c], chunk, __ATOMIC_RELEASE);
	}
	return true;
}

void *xa_load(struct xarray *xa, unsigned long index)
{
	void **s = slot(xa, index);
	void *e = s ? __atomic_load_n(s, __ATOMIC_ACQUIRE) : NULL;

	return e == XA_ZERO_ENTRY ? NULL : e;
}

void *__xa_store(struct xarray *xa, unsigned long index, void *entry, gfp_t gfp)
{
	void **s, *old;

	if (index > SHIM_XA_MAX_INDEX || xa_is_internal(entry))
		return xa_mk_internal(-EINVAL);
	s = slot(xa, index);
	if (!entry) {
		if (!s || !*s)
			return NULL;
		old = *s;
		__atomic_store_n(s, NULL, __ATOMIC_RELEASE);
		xa->count--;
		return old == XA_ZERO_ENTRY ? NULL : old;
	}
	if (!s || !*s) {
		alloc_check(sizeof(void *));
		/* a new entry is where the kernel may need a node: inject here */
		if ((!(gfp & __GFP_NOFAIL) && shim_alloc_fails()) ||
		    !grow(xa, index))
			return xa_mk_internal(-ENOMEM);
		s = slot(xa, index);
		xa->count++;
	}
	old = *s;
	__atomic_store_n(s, entry, __ATOMIC_RELEASE);
	return old == XA_ZERO_ENTRY ? NULL : old;
}

void *xa_store(struct xarray *xa, unsigned long index, void *entry, gfp_t gfp)
{
	void *old;

	xa_lock(xa);
	old = __xa_store(xa, index, entry, gfp);
	xa_unlock(xa);
	return old;
}

void *__xa_erase(struct xarray *xa, unsigned long index)
{
	return __xa_store(xa, index, NULL, 0);
}

void *xa_erase(struct xarray *xa, unsigned long index)
{
	return xa_store(xa, index, NULL, 0);
}

int __xa_insert(struct xarray *xa, unsigned long index, void *entry, gfp_t gfp)
{
	void **s = slot(xa, index);
	void *r;

	if (s && *s)
		return -EBUSY;
	r = __xa_store(xa, index, entry ? entry : XA_ZERO_ENTRY, gfp);
	return xa_err(r);
}

int xa_insert(struct xarray *xa, unsigned long index, void *entry, gfp_t gfp)
{
	int r;

	xa_lock(xa);
	r = __xa_insert(xa, index, entry, gfp);
	xa_unlock(xa);
	return r;
}

void *__xa_cmpxchg(struct xarray *xa, unsigned long index, void *old, void *entry, gfp_t gfp)
{
	void **s = slot(xa, index);
	void *cur = s ? *s : NULL, *r;

	if (cur == XA_ZERO_ENTRY)
		cur = NULL;
	if (cur != old)
		return cur;
	r = __xa_store(xa, index, entry, gfp);
	return xa_is_err(r) ? r : cur;
}

void *xa_cmpxchg(struct xarray *xa, unsigned long index, void *old, void *entry, gfp_t gfp)
{
	void *r;

	xa_lock(xa);
	r = __xa_cmpxchg(xa, index, old, entry, gfp);
	xa_unlock(xa);
	return r;
}

int xa_reserve(struct xarray *xa, unsigned long index, gfp_t gfp)
{
	int r = 0;
	void **s;

	xa_lock(xa);
	s = slot(xa, index);
	if (!s || !*s)
		r = xa_err(__xa_store(xa, index, XA_ZERO_ENTRY, gfp));
	xa_unlock(xa);
	return r;
}

void xa_release(struct xarray *xa, unsigned long index)
{
	void **s;

	xa_lock(xa);
	s = slot(xa, index);
	if (s && *s == XA_ZERO_ENTRY) {
		*s = NULL;
		xa->count--;
	}
	xa_unlock(xa);
}

void *xa_find(struct xarray *xa, unsigned long *index, unsigned long max, unsigned int filter)
{
	unsigned long i, c;
	void **chunk, *e;

	(void)filter;
	if (max > SHIM_XA_MAX_INDEX)
		max = SHIM_XA_MAX_INDEX;
	for (i = *index; i <= max; ) {
		c = i >> CHUNK_SHIFT;
		if (c >= __atomic_load_n(&xa->nchunks, __ATOMIC_ACQUIRE))
			break;
		chunk = __atomic_load_n(&xa->chunks[c], __ATOMIC_ACQUIRE);
		if (!chunk) {
			i = (c + 1) << CHUNK_SHIFT;
			continue;
		}
		e = __atomic_load_n(&chunk[i & (CHUNK_SIZE - 1)], __ATOMIC_ACQUIRE);
		if (e && e != XA_ZERO_ENTRY) {
			*index = i;
			return e;
		}
		i++;
	}
	return NULL;
}

void *xa_find_after(struct xarray *xa, unsigned long *index, unsigned long max, unsigned int filter)
{
	unsigned long i = *index + 1;
	void *e;

	if (*index >= SHIM_XA_MAX_INDEX || i > max)
		return NULL;
	e = xa_find(xa, &i, max, filter);
	if (e)
		*index = i;
	return e;
}

void xa_destroy(struct xarray *xa)
{
	unsigned long c;

	xa_lock(xa);
	for (c = 0; xa->chunks && c < xa->nchunks; c++)
		free(xa->chunks[c]);
	free(xa->chunks);
	xa->chunks = NULL;
	xa->nchunks = 0;
	xa->count = 0;
	xa_unlock(xa);
}

bool xa_empty(const struct xarray *xa)
{
	return __atomic_load_n(&xa->count, __ATOMIC_SEQ_CST) == 0;
}
