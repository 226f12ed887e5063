// SPDX-License-Identifier: GPL-2.0
/*
 * Runtime of shim-task.h: the calling task (credentials, pid, fatal
 * signals, fd table), files, seq_file, misc devices, workqueues with real
 * threads, wait queues, ratelimits.
 */
#include "shim.h"
#include <linux/device.h>

#include <poll.h>
#include <time.h>
#include <unistd.h>

void shim_violation(const char *fmt, ...) __printf(1, 2);

struct user_namespace init_user_ns;

static unsigned long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long)ts.tv_sec * 1000000UL + (unsigned long)ts.tv_nsec / 1000;
}

/* ---- pids ----------------------------------------------------------------- */

struct pid *shim_pid_new(pid_t nr)
{
	struct pid *p = calloc(1, sizeof(*p));

	if (p) {
		p->count = 1;
		p->nr = nr;
	}
	return p;
}

struct pid *get_pid(struct pid *pid)
{
	if (pid)
		__atomic_add_fetch(&pid->count, 1, __ATOMIC_SEQ_CST);
	return pid;
}

void put_pid(struct pid *pid)
{
	if (pid && !__atomic_sub_fetch(&pid->count, 1, __ATOMIC_SEQ_CST))
		free(pid);
}

/* ---- the task ------------------------------------------------------------- */

static __thread struct task_struct *cur_task;
static __thread struct task_struct *kthread_task;
static pthread_key_t kthread_key;
static pthread_once_t kthread_once = PTHREAD_ONCE_INIT;

/* the thread ends: its kernel-thread task goes with it */
static void kthread_free(void *p)
{
	struct task_struct *t = p;

	put_pid(t->spid);
	free(t);
}

static void kthread_key_init(void)
{
	if (pthread_key_create(&kthread_key, kthread_free))
		abort();
}

/* a thread that acts for no client: a kernel thread of this process */
static struct task_struct *kthread_self(void)
{
	struct task_struct *t = kthread_task;

	if (t)
		return t;
	pthread_once(&kthread_once, kthread_key_init);
	t = calloc(1, sizeof(*t));
	if (!t)
		abort();
	t->pid = t->tgid = getpid();
	snprintf(t->comm, sizeof(t->comm), "kworker");
	t->own_cred.cap_effective.val = ~0ULL;
	t->own_cred.user_ns = &init_user_ns;
	t->cred = &t->own_cred;
	t->spid = shim_pid_new(t->pid);
	t->hup_fd = -1;
	t->kthread = true;
	kthread_task = t;
	pthread_setspecific(kthread_key, t);
	return t;
}

struct task_struct *shim_current(void)
{
	return cur_task ? cur_task : kthread_self();
}

void shim_task_enter(struct task_struct *t, pid_t pid, uid_t uid, gid_t gid, u64 cap_eff,
		     bool init_ns, int hup_fd)
{
	static struct user_namespace other_ns;

	memset(t, 0, sizeof(*t));
	t->pid = t->tgid = pid;
	snprintf(t->comm, sizeof(t->comm), "client");
	t->own_cred.uid.val = t->own_cred.euid.val = uid;
	t->own_cred.gid.val = t->own_cred.egid.val = gid;
	t->own_cred.cap_effective.val = cap_eff;
	t->own_cred.user_ns = init_ns ? &init_user_ns : &other_ns;
	t->cred = &t->own_cred;
	t->spid = shim_pid_new(pid);
	t->hup_fd = hup_fd;
	cur_task = t;
}

void shim_task_leave(struct task_struct *t)
{
	int i;

	for (i = 0; i < SHIM_MAX_FDS; i++) {
		if (t->fds[i])
			fput(t->fds[i]);
		t->fds[i] = NULL;
	}
	put_pid(t->spid);
	t->spid = NULL;
	if (cur_task == t)
		cur_task = NULL;
}

void shim_task_install(struct task_struct *t, int fd, struct file *f)
{
	if (fd < 0 || fd >= SHIM_MAX_FDS)
		return;
	if (t->fds[fd])
		fput(t->fds[fd]);
	t->fds[fd] = f ? get_file(f) : NULL;
}

bool ns_capable(struct user_namespace *ns, int cap)
{
	const struct cred *c = current->cred;

	/* a capability counts in ns only for a task of that namespace (the
	 * simulation knows the host's and "another") */
	return c->user_ns == ns && cap_raised(c->cap_effective, cap);
}

bool capable(int cap)
{
	return ns_capable(&init_user_ns, cap);
}

bool fatal_signal_pending(struct task_struct *t)
{
	struct pollfd p;

	if (__atomic_load_n(&t->fatal, __ATOMIC_SEQ_CST))
		return true;
	if (t->hup_fd < 0)
		return false;
	p.fd = t->hup_fd;
	p.events = 0;
	p.revents = 0;
	if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR))) {
		__atomic_store_n(&t->fatal, true, __ATOMIC_SEQ_CST);
		return true;
	}
	return false;
}

unsigned int shim_time_div(void);

long shim_schedule_timeout(long timeout, bool killable)
{
	unsigned long total = (unsigned long)jiffies_to_msecs(timeout) * 1000UL / shim_time_div();
	unsigned long t0 = now_us(), spent;

	/* the kernel's might_sleep(): no spinning lock may be held */
	shim_wait_check("schedule_timeout");
	for (;;) {
		spent = now_us() - t0;
		if (spent >= total)
			return 0;
		if (killable && fatal_signal_pending(current))
			return (long)msecs_to_jiffies((total - spent) / 1000);
		usleep((useconds_t)(total - spent < 1000 ? total - spent : 1000));
	}
}

/* ---- files ------------------------------------------------------------------ */

static long files_live;

unsigned long shim_files_live(void)
{
	return (unsigned long)__atomic_load_n(&files_live, __ATOMIC_SEQ_CST);
}

struct file *fget(unsigned int fd)
{
	struct task_struct *t = current;
	struct file *f;

	if (fd >= SHIM_MAX_FDS)
		return NULL;
	f = t->fds[fd];
	return f ? get_file(f) : NULL;
}

/* the kernel's delayed_fput: release() runs later, without the caller's locks */
static void fput_work(struct work_struct *w);
static DECLARE_WORK(fput_worker, fput_work);
static pthread_mutex_t fput_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct file **fput_list;
static size_t fput_n, fput_cap;

static void release_file(struct file *f)
{
	if (f->f_op && f->f_op->release)
		f->f_op->release(file_inode(f), f);
	__atomic_sub_fetch(&files_live, 1, __ATOMIC_SEQ_CST);
	free(f);
}

void shim_fput_flush(void)
{
	struct file *f;

	for (;;) {
		pthread_mutex_lock(&fput_mtx);
		f = fput_n ? fput_list[--fput_n] : NULL;
		pthread_mutex_unlock(&fput_mtx);
		if (!f)
			break;
		release_file(f);
	}
}

static void fput_work(struct work_struct *w)
{
	(void)w;
	shim_fput_flush();
}

void fput(struct file *f)
{
	long n = __atomic_sub_fetch(&f->f_count, 1, __ATOMIC_SEQ_CST);

	if (n > 0)
		return;
	if (n < 0) {
		shim_violation("fput below zero");
		return;
	}
	pthread_mutex_lock(&fput_mtx);
	if (fput_n == fput_cap) {
		size_t cap = fput_cap ? 2 * fput_cap : 16;
		struct file **l = realloc(fput_list, cap * sizeof(*l));

		if (!l)
			abort();
		fput_list = l;
		fput_cap = cap;
	}
	fput_list[fput_n++] = f;
	pthread_mutex_unlock(&fput_mtx);
	queue_work(system_wq, &fput_worker);
}

static unsigned long next_ino = 1000;

struct file *anon_inode_getfile(const char *name, const struct file_operations *fops,
				void *priv, int flags)
{
	struct file *f;

	if (shim_alloc_fails())
		return ERR_PTR(-ENOMEM);
	f = calloc(1, sizeof(*f));
	if (!f)
		return ERR_PTR(-ENOMEM);
	f->f_op = fops;
	f->private_data = priv;
	f->f_flags = (unsigned int)flags;
	/* the VFS's OPEN_FMODE(): O_RDONLY 0, O_WRONLY 1, O_RDWR 2 */
	switch (flags & O_ACCMODE) {
	case O_RDONLY: f->f_mode = FMODE_READ; break;
	case O_WRONLY: f->f_mode = FMODE_WRITE; break;
	case O_RDWR: f->f_mode = FMODE_READ | FMODE_WRITE; break;
	}
	f->f_count = 1;
	f->anon_name = name;
	f->f_inode.i_ino = __atomic_add_fetch(&next_ino, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&files_live, 1, __ATOMIC_SEQ_CST);
	return f;
}

int get_unused_fd_flags(unsigned int flags)
{
	struct task_struct *t = current;
	int fd;

	(void)flags;
	/* 0..2 are the client's stdio: never handed out */
	for (fd = 3; fd < SHIM_MAX_FDS; fd++) {
		if (!t->fds[fd] && !t->fd_reserved[fd]) {
			t->fd_reserved[fd] = true;
			return fd;
		}
	}
	return -EMFILE;
}

void put_unused_fd(unsigned int fd)
{
	if (fd < SHIM_MAX_FDS)
		current->fd_reserved[fd] = false;
}

void fd_install(unsigned int fd, struct file *f)
{
	struct task_struct *t = current;

	if (fd >= SHIM_MAX_FDS || !t->fd_reserved[fd] || t->fds[fd]) {
		shim_violation("fd_install(%u) of an fd not reserved", fd);
		return;
	}
	t->fd_reserved[fd] = false;
	t->fds[fd] = f;		/* the reference passes to the table */
}

int anon_inode_getfd(const char *name, const struct file_operations *fops, void *priv, int flags)
{
	struct file *f;
	int fd = get_unused_fd_flags((unsigned int)flags);

	if (fd < 0)
		return fd;
	f = anon_inode_getfile(name, fops, priv, flags);
	if (IS_ERR(f)) {
		put_unused_fd((unsigned int)fd);
		return (int)PTR_ERR(f);
	}
	fd_install((unsigned int)fd, f);
	return fd;
}

const struct file_operations shim_other_fops = { .owner = NULL };

struct file *shim_other_file(void)
{
	struct file *f = anon_inode_getfile("[other]", &shim_other_fops, NULL, 0);

	return IS_ERR(f) ? NULL : f;
}

loff_t noop_llseek(struct file *f, loff_t off, int whence)
{
	(void)f;
	(void)off;
	(void)whence;
	return 0;
}

long compat_ptr_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	if (!f->f_op->unlocked_ioctl)
		return -ENOIOCTLCMD;
	return f->f_op->unlocked_ioctl(f, cmd, arg);
}

/* ---- seq_file ----------------------------------------------------------------- */

void seq_printf(struct seq_file *m, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (m->count >= m->size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(m->buf + m->count, m->size - m->count, fmt, ap);
	va_end(ap);
	if (n > 0)
		m->count = m->count + (size_t)n < m->size ? m->count + (size_t)n : m->size;
}

void seq_puts(struct seq_file *m, const char *s)
{
	seq_printf(m, "%s", s);
}

void seq_putc(struct seq_file *m, char c)
{
	seq_printf(m, "%c", c);
}

size_t shim_show_fdinfo(struct file *f, char *buf, size_t len)
{
	struct seq_file m = { .buf = buf, .size = len };

	if (!len)
		return 0;
	buf[0] = '\0';
	if (f->f_op && f->f_op->show_fdinfo)
		f->f_op->show_fdinfo(&m, f);
	if (m.count >= len)
		m.count = len - 1;
	buf[m.count] = '\0';
	return m.count;
}

/* ---- misc devices ------------------------------------------------------------ */

static pthread_mutex_t misc_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct miscdevice *miscs[16];

int misc_register(struct miscdevice *misc)
{
	int i, rc = -EBUSY;

	pthread_mutex_lock(&misc_mtx);
	for (i = 0; i < 16; i++)
		if (miscs[i] && !strcmp(miscs[i]->name, misc->name))
			goto out;
	for (i = 0; i < 16; i++) {
		if (!miscs[i]) {
			miscs[i] = misc;
			rc = 0;
			break;
		}
	}
out:
	pthread_mutex_unlock(&misc_mtx);
	return rc;
}

void misc_deregister(struct miscdevice *misc)
{
	int i;

	pthread_mutex_lock(&misc_mtx);
	for (i = 0; i < 16; i++)
		if (miscs[i] == misc)
			miscs[i] = NULL;
	pthread_mutex_unlock(&misc_mtx);
}

struct miscdevice *shim_misc_find(const char *name)
{
	struct miscdevice *m = NULL;
	int i;

	pthread_mutex_lock(&misc_mtx);
	for (i = 0; i < 16; i++)
		if (miscs[i] && !strcmp(miscs[i]->name, name))
			m = miscs[i];
	pthread_mutex_unlock(&misc_mtx);
	return m;
}

/* ---- workqueues ----------------------------------------------------------------- */

/*
 * One list of queued work items (sorted by when they are due) served by a
 * few worker threads, as the kernel's pools: a work item never runs twice
 * at once (a worker skips an item that is running elsewhere), queueing a
 * pending item is a no-op, flush waits for the instance queued when it
 * was called.
 */
#define NWORKERS 4

static struct workqueue_struct wq_system = { "events" }, wq_unbound = { "events_unbound" },
	wq_long = { "events_long" }, wq_highpri = { "events_highpri" },
	wq_freezable = { "events_freezable" };
struct workqueue_struct *system_wq = &wq_system, *system_unbound_wq = &wq_unbound,
	*system_long_wq = &wq_long, *system_highpri_wq = &wq_highpri,
	*system_freezable_wq = &wq_freezable;

static pthread_mutex_t wq_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wq_cond = PTHREAD_COND_INITIALIZER;	/* queue changed */
static pthread_cond_t wq_done = PTHREAD_COND_INITIALIZER;	/* an item finished */
static LIST_HEAD(wq_list);
static bool wq_started;
static unsigned long wq_outstanding;
/* what each worker runs: the item (a key only: its function may free it),
 * the queueing it serves, its queue */
static struct {
	struct work_struct *w;
	unsigned long seq;
	struct workqueue_struct *wq;
} wq_running[NWORKERS];

static void *worker(void *arg);

static void wq_start(void)
{
	pthread_attr_t a;
	pthread_t th;
	uintptr_t i;

	if (wq_started)
		return;
	wq_started = true;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	for (i = 0; i < NWORKERS; i++)
		if (pthread_create(&th, &a, worker, (void *)i))
			abort();
	pthread_attr_destroy(&a);
}

/* wq_mtx held */
static bool is_running(const struct work_struct *w, unsigned long upto)
{
	int i;

	for (i = 0; i < NWORKERS; i++)
		if (wq_running[i].w == w && wq_running[i].seq <= upto)
			return true;
	return false;
}

/* wq_mtx held */
static void wq_insert(struct work_struct *w)
{
	struct work_struct *pos;

	list_for_each_entry(pos, &wq_list, entry) {
		if (pos->due_us > w->due_us) {
			__list_add(&w->entry, pos->entry.prev, &pos->entry);
			return;
		}
	}
	list_add_tail(&w->entry, &wq_list);
}

static bool do_queue(struct workqueue_struct *wq, struct work_struct *w, unsigned long delay)
{
	if (w->pending)
		return false;
	w->pending = true;
	w->wq = wq;
	w->qseq++;
	w->due_us = now_us() + delay * (1000000UL / HZ);
	wq_outstanding++;
	wq_insert(w);
	wq_start();
	pthread_cond_broadcast(&wq_cond);
	return true;
}

bool queue_work(struct workqueue_struct *wq, struct work_struct *w)
{
	bool r;

	pthread_mutex_lock(&wq_mtx);
	r = do_queue(wq, w, 0);
	pthread_mutex_unlock(&wq_mtx);
	return r;
}

bool queue_delayed_work(struct workqueue_struct *wq, struct delayed_work *dw, unsigned long delay)
{
	bool r;

	pthread_mutex_lock(&wq_mtx);
	r = do_queue(wq, &dw->work, delay);
	pthread_mutex_unlock(&wq_mtx);
	return r;
}

/* wq_mtx held */
static void dequeue(struct work_struct *w)
{
	list_del_init(&w->entry);
	w->pending = false;
	wq_outstanding--;
	pthread_cond_broadcast(&wq_done);
}

bool mod_delayed_work(struct workqueue_struct *wq, struct delayed_work *dw, unsigned long delay)
{
	struct work_struct *w = &dw->work;
	bool was;

	pthread_mutex_lock(&wq_mtx);
	was = w->pending;
	if (was)
		dequeue(w);
	do_queue(wq, w, delay);
	pthread_mutex_unlock(&wq_mtx);
	return was;
}

static void *worker(void *arg)
{
	uintptr_t me = (uintptr_t)arg;
	struct work_struct *w, *pick;
	unsigned long now, wait_us;
	struct timespec ts;
	work_func_t fn;

	pthread_mutex_lock(&wq_mtx);
	for (;;) {
		pick = NULL;
		wait_us = 100000;
		now = now_us();
		list_for_each_entry(w, &wq_list, entry) {
			if (w->due_us > now) {
				/* sorted: nothing later is due sooner */
				if (w->due_us - now < wait_us)
					wait_us = w->due_us - now;
				break;
			}
			if (is_running(w, ~0UL))
				continue;	/* never twice at once */
			pick = w;
			break;
		}
		if (!pick) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += (long)(wait_us % 1000000) * 1000;
			ts.tv_sec += (time_t)(wait_us / 1000000) + ts.tv_nsec / 1000000000;
			ts.tv_nsec %= 1000000000;
			pthread_cond_timedwait(&wq_cond, &wq_mtx, &ts);
			continue;
		}
		list_del_init(&pick->entry);
		pick->pending = false;
		wq_running[me].w = pick;
		wq_running[me].seq = pick->qseq;
		wq_running[me].wq = pick->wq;
		fn = pick->func;
		pthread_mutex_unlock(&wq_mtx);
		fn(pick);	/* pick may be gone after this */
		if (shim_locks_held())
			shim_violation("a work item returned with %d lock(s) held", shim_locks_held());
		pthread_mutex_lock(&wq_mtx);
		wq_running[me].w = NULL;
		wq_running[me].wq = NULL;
		wq_outstanding--;
		pthread_cond_broadcast(&wq_done);
		pthread_cond_broadcast(&wq_cond);
	}
	return NULL;
}

static bool do_flush(struct work_struct *w, bool now)
{
	unsigned long target;
	bool waited = false;

	shim_wait_check("flush_work");
	pthread_mutex_lock(&wq_mtx);
	if (now && w->pending && w->due_us > now_us()) {
		/* flush_delayed_work: the timer fires now */
		list_del_init(&w->entry);
		w->due_us = now_us();
		wq_insert(w);
		pthread_cond_broadcast(&wq_cond);
	}
	if (!now && w->pending && w->due_us > now_us()) {
		/* flush_work of a delayed work whose timer has not fired */
		pthread_mutex_unlock(&wq_mtx);
		return false;
	}
	/* the instance queued by now: pending, or running */
	target = w->qseq;
	while ((w->pending && w->qseq <= target) || is_running(w, target)) {
		waited = true;
		pthread_cond_wait(&wq_done, &wq_mtx);
	}
	pthread_mutex_unlock(&wq_mtx);
	return waited;
}

bool flush_work(struct work_struct *w)
{
	return do_flush(w, false);
}

bool flush_delayed_work(struct delayed_work *dw)
{
	return do_flush(&dw->work, true);
}

static bool do_cancel(struct work_struct *w, bool sync)
{
	bool was;

	if (sync)
		shim_wait_check("cancel_work_sync");
	pthread_mutex_lock(&wq_mtx);
	was = w->pending;
	if (was)
		dequeue(w);
	while (sync && is_running(w, ~0UL))
		pthread_cond_wait(&wq_done, &wq_mtx);
	pthread_mutex_unlock(&wq_mtx);
	return was;
}

bool cancel_work_sync(struct work_struct *w)
{
	return do_cancel(w, true);
}

bool cancel_delayed_work_sync(struct delayed_work *dw)
{
	return do_cancel(&dw->work, true);
}

bool cancel_delayed_work(struct delayed_work *dw)
{
	return do_cancel(&dw->work, false);
}

bool work_pending(const struct work_struct *w)
{
	bool r;

	pthread_mutex_lock(&wq_mtx);
	r = w->pending;
	pthread_mutex_unlock(&wq_mtx);
	return r;
}

bool work_busy(const struct work_struct *w)
{
	bool r;

	pthread_mutex_lock(&wq_mtx);
	r = w->pending || is_running(w, ~0UL);
	pthread_mutex_unlock(&wq_mtx);
	return r;
}

unsigned long shim_work_outstanding(void)
{
	unsigned long n;

	pthread_mutex_lock(&wq_mtx);
	n = wq_outstanding;
	pthread_mutex_unlock(&wq_mtx);
	return n;
}

struct workqueue_struct *alloc_workqueue(const char *fmt, unsigned int flags, int max_active, ...)
{
	struct workqueue_struct *wq;

	(void)flags;
	(void)max_active;
	if (shim_alloc_fails())
		return NULL;
	wq = calloc(1, sizeof(*wq));
	if (wq)
		wq->name = fmt;
	return wq;
}

/* wait until no item of wq is due or running (delayed ones not yet due
 * do not count, as their timers have not fired) */
void flush_workqueue(struct workqueue_struct *wq)
{
	struct work_struct *w;
	bool busy;
	int i;

	shim_wait_check("flush_workqueue");
	pthread_mutex_lock(&wq_mtx);
	for (;;) {
		busy = false;
		list_for_each_entry(w, &wq_list, entry)
			if (w->wq == wq && w->due_us <= now_us())
				busy = true;
		for (i = 0; i < NWORKERS; i++)
			if (wq_running[i].w && wq_running[i].wq == wq)
				busy = true;
		if (!busy)
			break;
		pthread_cond_wait(&wq_done, &wq_mtx);
	}
	pthread_mutex_unlock(&wq_mtx);
}

void destroy_workqueue(struct workqueue_struct *wq)
{
	flush_workqueue(wq);
	if (wq != system_wq && wq != system_unbound_wq && wq != system_long_wq &&
	    wq != system_highpri_wq && wq != system_freezable_wq)
		free(wq);
}

/* ---- wait queues ---------------------------------------------------------------- */

void init_waitqueue_head(wait_queue_head_t *wq)
{
	pthread_mutex_init(&wq->m, NULL);
	pthread_cond_init(&wq->c, NULL);
	wq->gen = 0;
}

void wake_up_all(wait_queue_head_t *wq)
{
	pthread_mutex_lock(&wq->m);
	wq->gen++;
	pthread_cond_broadcast(&wq->c);
	pthread_mutex_unlock(&wq->m);
}

unsigned long shim_wait_gen(wait_queue_head_t *wq)
{
	unsigned long g;

	pthread_mutex_lock(&wq->m);
	g = wq->gen;
	pthread_mutex_unlock(&wq->m);
	return g;
}

void shim_wait_slice(wait_queue_head_t *wq, unsigned long gen, unsigned long slice_us)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)(slice_us % 1000000) * 1000;
	ts.tv_sec += (time_t)(slice_us / 1000000) + ts.tv_nsec / 1000000000;
	ts.tv_nsec %= 1000000000;
	pthread_mutex_lock(&wq->m);
	if (wq->gen == gen)
		pthread_cond_timedwait(&wq->c, &wq->m, &ts);
	pthread_mutex_unlock(&wq->m);
}

void shim_wait_check(const char *what)
{
	if (shim_locks_held())
		shim_violation("%s with %d lock(s) held", what, shim_locks_held());
}

/* ---- ratelimit ---------------------------------------------------------------- */

int ___ratelimit(struct ratelimit_state *rs, const char *func)
{
	unsigned long j = jiffies;
	int ok;

	(void)func;
	if (!rs->interval)
		return 1;
	pthread_mutex_lock(&rs->lock);
	if (!rs->begin || time_after(j, rs->begin + (unsigned long)rs->interval)) {
		rs->begin = j;
		rs->printed = 0;
		rs->missed = 0;
	}
	ok = rs->burst && rs->burst > rs->printed;
	if (ok)
		rs->printed++;
	else
		rs->missed++;
	pthread_mutex_unlock(&rs->lock);
	return ok;
}

/* ---- sysfs attributes ------------------------------------------------------ */

int sysfs_emit(char *buf, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, PAGE_SIZE, fmt, ap);
	va_end(ap);
	return n < (int)PAGE_SIZE ? n : (int)PAGE_SIZE - 1;
}

int sysfs_emit_at(char *buf, int at, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (at < 0 || at >= (int)PAGE_SIZE)
		return 0;
	va_start(ap, fmt);
	n = vsnprintf(buf + at, PAGE_SIZE - (size_t)at, fmt, ap);
	va_end(ap);
	return n < (int)PAGE_SIZE - at ? n : (int)PAGE_SIZE - at - 1;
}

int sysfs_create_group(struct kobject *kobj, const struct attribute_group *grp)
{
	struct device *dev = container_of(kobj, struct device, kobj);
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(dev->groups); i++) {
		if (!dev->groups[i]) {
			dev->groups[i] = grp;
			return 0;
		}
	}
	return -ENOSPC;
}

void sysfs_remove_group(struct kobject *kobj, const struct attribute_group *grp)
{
	struct device *dev = container_of(kobj, struct device, kobj);
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(dev->groups); i++)
		if (dev->groups[i] == grp)
			dev->groups[i] = NULL;
}

int device_add_groups(struct device *dev, const struct attribute_group **groups)
{
	int rc = 0;

	for (; groups && *groups && !rc; groups++)
		rc = sysfs_create_group(&dev->kobj, *groups);
	return rc;
}

void device_remove_groups(struct device *dev, const struct attribute_group **groups)
{
	for (; groups && *groups; groups++)
		sysfs_remove_group(&dev->kobj, *groups);
}

int device_create_file(struct device *dev, const struct device_attribute *attr)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(dev->files); i++) {
		if (!dev->files[i]) {
			dev->files[i] = attr;
			return 0;
		}
	}
	return -ENOSPC;
}

void device_remove_file(struct device *dev, const struct device_attribute *attr)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(dev->files); i++)
		if (dev->files[i] == attr)
			dev->files[i] = NULL;
}

static struct device_attribute *attr_in_group(const struct attribute_group *g,
					      const char *name)
{
	struct attribute **a;

	for (a = g ? g->attrs : NULL; a && *a; a++)
		if (!strcmp((*a)->name, name))
			return to_dev_attr(*a);
	return NULL;
}

/* the attribute name of dev: its driver's dev_groups, then its own */
static struct device_attribute *find_attr(struct device *dev, const char *name)
{
	const struct attribute_group **g;
	struct device_attribute *da;
	unsigned int i;

	if (dev->driver)
		for (g = dev->driver->dev_groups; g && *g; g++)
			if ((da = attr_in_group(*g, name)))
				return da;
	for (i = 0; i < ARRAY_SIZE(dev->groups); i++)
		if ((da = attr_in_group(dev->groups[i], name)))
			return da;
	for (i = 0; i < ARRAY_SIZE(dev->files); i++)
		if (dev->files[i] && !strcmp(dev->files[i]->attr.name, name))
			return (struct device_attribute *)dev->files[i];
	return NULL;
}

ssize_t shim_device_attr_show(struct device *dev, const char *name, char *buf)
{
	struct device_attribute *da = find_attr(dev, name);

	if (!da)
		return -ENOENT;
	return da->show ? da->show(dev, da, buf) : -EACCES;
}

int shim_device_attr_mode(struct device *dev, const char *name)
{
	struct device_attribute *da = find_attr(dev, name);

	return da ? da->attr.mode : -ENOENT;
}
