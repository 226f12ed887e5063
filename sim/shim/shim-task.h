/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's notion of "the calling task" and what hangs off it, for the
 * simulated host: credentials and capable(), pids, fatal signals, the file
 * descriptor table (fget/fput, anon inode files, fd_install), seq_file
 * (show_fdinfo), misc devices, workqueues with real threads, wait queues,
 * ratelimits and RCU's reader side. The runtime is task.c.
 *
 * A thread acting for a client (apsimd's connection threads) sets
 * `current` with shim_task_enter(): the client's pid, credentials (read
 * from its real ones) and the files it passed along. Every other thread
 * (the stress run, workers) is a kernel thread: pid of the process, all
 * capabilities, an fd table of its own.
 *
 * Included by shim.h; not a header of its own for kernel code.
 */
#ifndef APSIM_SHIM_TASK_H
#define APSIM_SHIM_TASK_H

#include <fcntl.h>
#include <sys/types.h>

/* ---- RCU: readers are plain (nothing is freed under a reader here) ---- */
#define rcu_read_lock() do { } while (0)
#define rcu_read_unlock() do { } while (0)
#define rcu_dereference(p) READ_ONCE(p)
#define rcu_dereference_protected(p, c) (p)
#define rcu_access_pointer(p) READ_ONCE(p)
#define rcu_assign_pointer(p, v) __atomic_store_n(&(p), (v), __ATOMIC_RELEASE)
#define RCU_INIT_POINTER(p, v) ((p) = (v))
#define synchronize_rcu() do { } while (0)
#define kfree_rcu(p, f) kfree(p)

/* ---- pids ----------------------------------------------------------------- */
struct pid {
	int count;
	pid_t nr;
};
enum pid_type { PIDTYPE_PID, PIDTYPE_TGID, PIDTYPE_PGID, PIDTYPE_SID, PIDTYPE_MAX };
struct pid *shim_pid_new(pid_t nr);
struct pid *get_pid(struct pid *pid);
void put_pid(struct pid *pid);
static inline pid_t pid_nr(struct pid *pid) { return pid ? pid->nr : 0; }
#define pid_vnr pid_nr

/* ---- credentials ------------------------------------------------------------ */
typedef struct { uid_t val; } kuid_t;
typedef struct { gid_t val; } kgid_t;
typedef struct { u64 val; } kernel_cap_t;
#define CAP_SYS_ADMIN 21
#define CAP_NET_ADMIN 12
#define GLOBAL_ROOT_UID ((kuid_t){ 0 })
struct user_namespace { int dummy; };
extern struct user_namespace init_user_ns;
struct cred {
	kuid_t uid, euid;
	kgid_t gid, egid;
	kernel_cap_t cap_effective;
	struct user_namespace *user_ns;	/* &init_user_ns, or not */
};
static inline bool uid_eq(kuid_t a, kuid_t b) { return a.val == b.val; }
static inline uid_t from_kuid(struct user_namespace *ns, kuid_t u) { (void)ns; return u.val; }
#define from_kuid_munged from_kuid
static inline bool cap_raised(kernel_cap_t c, int cap) { return (c.val >> cap) & 1; }

/* ---- the task ------------------------------------------------------------- */
#define SHIM_MAX_FDS 1024
struct file;
struct task_struct {
	pid_t pid, tgid;
	char comm[16];
	const struct cred *cred;
	struct cred own_cred;
	struct pid *spid;		/* this task's struct pid */
	struct file *fds[SHIM_MAX_FDS];	/* the fd table (only what the sim knows) */
	bool fd_reserved[SHIM_MAX_FDS];
	int hup_fd;			/* fatal signal = this fd (the client's end) hung up */
	bool fatal;			/* a fatal signal, injected */
	bool kthread;
};
struct task_struct *shim_current(void);
#define current (shim_current())
#define current_cred() (current->cred)
#define current_uid() (current->cred->uid)
#define current_euid() (current->cred->euid)
#define task_pid_nr(t) ((t)->pid)
#define task_tgid_nr(t) ((t)->tgid)
#define task_tgid_vnr(t) ((t)->tgid)
#define task_pid(t) ((t)->spid)
#define task_tgid(t) ((t)->spid)
static inline struct pid *get_task_pid(struct task_struct *t, enum pid_type type)
{ (void)type; return get_pid(t->spid); }
bool capable(int cap);
bool ns_capable(struct user_namespace *ns, int cap);
#define file_ns_capable(f, ns, cap) ns_capable((ns), (cap))
bool fatal_signal_pending(struct task_struct *t);
#define signal_pending(t) fatal_signal_pending(t)
#define __fatal_signal_pending(t) fatal_signal_pending(t)
#define PF_KTHREAD 0x00200000

/* sleeping: timeouts in jiffies; the killable/interruptible ones end at a
 * fatal signal and return the jiffies left (0: the whole time passed) */
#define TASK_RUNNING 0
#define TASK_INTERRUPTIBLE 1
#define TASK_UNINTERRUPTIBLE 2
#define TASK_KILLABLE 0x102
#define set_current_state(s) do { } while (0)
#define __set_current_state(s) do { } while (0)
long shim_schedule_timeout(long timeout, bool killable);
#define schedule_timeout(t) shim_schedule_timeout((t), false)
#define schedule_timeout_uninterruptible(t) shim_schedule_timeout((t), false)
#define schedule_timeout_killable(t) shim_schedule_timeout((t), true)
#define schedule_timeout_interruptible(t) shim_schedule_timeout((t), true)
#define schedule_timeout_idle(t) shim_schedule_timeout((t), false)
#define MAX_SCHEDULE_TIMEOUT LONG_MAX
static inline bool shim_is_kthread(void) { return current->kthread; }

/*
 * Act as a client's task on this thread until shim_task_leave():
 * pid/tgid, uid/gid and effective capabilities as given, init_ns true if
 * its user namespace is the host's, hup_fd an fd whose hang-up means the
 * client died (a fatal signal), -1 none.
 */
void shim_task_enter(struct task_struct *t, pid_t pid, uid_t uid, gid_t gid, u64 cap_eff,
		     bool init_ns, int hup_fd);
void shim_task_leave(struct task_struct *t);
/* fd -> file in the task's table (takes a reference); NULL removes */
void shim_task_install(struct task_struct *t, int fd, struct file *f);

/* ---- files ------------------------------------------------------------------ */
struct inode { unsigned long i_ino; };
struct seq_file;
struct poll_table_struct;
struct vm_area_struct;

struct file_operations {
	struct module *owner;
	loff_t (*llseek)(struct file *, loff_t, int);
	ssize_t (*read)(struct file *, char __user *, size_t, loff_t *);
	ssize_t (*write)(struct file *, const char __user *, size_t, loff_t *);
	unsigned int (*poll)(struct file *, struct poll_table_struct *);
	long (*unlocked_ioctl)(struct file *, unsigned int, unsigned long);
	long (*compat_ioctl)(struct file *, unsigned int, unsigned long);
	int (*mmap)(struct file *, struct vm_area_struct *);
	int (*open)(struct inode *, struct file *);
	int (*flush)(struct file *, void *);
	int (*release)(struct inode *, struct file *);
	void (*show_fdinfo)(struct seq_file *, struct file *);
};
/* what the file was opened for, as <linux/fs.h> */
typedef unsigned int fmode_t;
#define FMODE_READ	((fmode_t)(1 << 0))
#define FMODE_WRITE	((fmode_t)(1 << 1))
struct file {
	const struct file_operations *f_op;
	void *private_data;
	unsigned int f_flags;
	fmode_t f_mode;			/* from f_flags' O_ACCMODE */
	long f_count;
	const char *anon_name;		/* anon_inode_getfile()'s name, else NULL */
	struct inode f_inode;
	void *sim;			/* the simulator's handle (e.g. a client's fd) */
};
#define file_inode(f) (&(f)->f_inode)
static inline struct file *get_file(struct file *f)
{ __atomic_add_fetch(&f->f_count, 1, __ATOMIC_SEQ_CST); return f; }
struct file *fget(unsigned int fd);
void fput(struct file *f);
/* struct fd and fdget() as 6.12 has them */
struct fd { struct file *file; };
static inline struct fd fdget(unsigned int fd) { struct fd f = { fget(fd) }; return f; }
static inline void fdput(struct fd f) { if (f.file) fput(f.file); }
#define fd_file(f) ((f).file)
#define fd_empty(f) (!(f).file)
/* CLASS(fd, f)(fd), as <linux/file.h>'s DEFINE_CLASS(fd, ...) */
typedef struct fd class_fd_t;
static inline void class_fd_destructor(class_fd_t *p) { fdput(*p); }
static inline class_fd_t class_fd_constructor(int fd) { return fdget(fd); }
struct file *anon_inode_getfile(const char *name, const struct file_operations *fops,
				void *priv, int flags);
int anon_inode_getfd(const char *name, const struct file_operations *fops, void *priv, int flags);
int get_unused_fd_flags(unsigned int flags);
void put_unused_fd(unsigned int fd);
void fd_install(unsigned int fd, struct file *f);
/* a file of another kind (what a client passed that is not the sim's) */
struct file *shim_other_file(void);
extern const struct file_operations shim_other_fops;
loff_t noop_llseek(struct file *f, loff_t off, int whence);
static inline int nonseekable_open(struct inode *inode, struct file *f)
{ (void)inode; (void)f; return 0; }
#define stream_open nonseekable_open
#define no_llseek noop_llseek
long compat_ptr_ioctl(struct file *f, unsigned int cmd, unsigned long arg);
/* files released (release() run) so far, and those still alive */
unsigned long shim_files_live(void);
/* run the releases fput() deferred (as the kernel's delayed_fput) */
void shim_fput_flush(void);

struct seq_file {
	char *buf;
	size_t size, count;
	void *private;
};
void seq_printf(struct seq_file *m, const char *fmt, ...) __printf(2, 3);
void seq_puts(struct seq_file *m, const char *s);
void seq_putc(struct seq_file *m, char c);
/* f's fdinfo lines (show_fdinfo) into buf; returns the length */
size_t shim_show_fdinfo(struct file *f, char *buf, size_t len);

/* misc devices: registered by name; the sim opens them on a client's behalf */
#define MISC_DYNAMIC_MINOR 255
struct device;
struct attribute_group;
struct miscdevice {
	int minor;
	const char *name;
	const struct file_operations *fops;
	struct device *this_device;
	const struct attribute_group **groups;
	const char *nodename;
	unsigned short mode;
};
int misc_register(struct miscdevice *misc);
void misc_deregister(struct miscdevice *misc);
struct miscdevice *shim_misc_find(const char *name);

/* ---- workqueues: real threads ----------------------------------------------- */
struct work_struct;
typedef void (*work_func_t)(struct work_struct *work);
struct workqueue_struct {
	const char *name;
};
struct work_struct {
	work_func_t func;
	struct list_head entry;
	struct workqueue_struct *wq;
	unsigned long due_us;
	unsigned long qseq, runseq, doneseq;
	bool pending, running;
};
struct timer_list { int dummy; };
struct delayed_work {
	struct work_struct work;
	struct timer_list timer;
};
#define __WORK_INITIALIZER(n, f) { .func = (f), .entry = LIST_HEAD_INIT((n).entry) }
#define DECLARE_WORK(n, f) struct work_struct n = __WORK_INITIALIZER(n, f)
#define DECLARE_DELAYED_WORK(n, f) \
	struct delayed_work n = { .work = __WORK_INITIALIZER((n).work, f) }
#define INIT_WORK(w, f) do { memset((w), 0, sizeof(*(w))); (w)->func = (f); INIT_LIST_HEAD(&(w)->entry); } while (0)
#define INIT_DELAYED_WORK(dw, f) INIT_WORK(&(dw)->work, (f))
#define to_delayed_work(w) container_of(w, struct delayed_work, work)
extern struct workqueue_struct *system_wq, *system_unbound_wq, *system_long_wq,
	*system_highpri_wq, *system_freezable_wq;
#define WQ_UNBOUND 0x2
#define WQ_FREEZABLE 0x4
#define WQ_MEM_RECLAIM 0x8
#define WQ_HIGHPRI 0x10
struct workqueue_struct *alloc_workqueue(const char *fmt, unsigned int flags, int max_active, ...);
#define alloc_ordered_workqueue(fmt, flags, args...) alloc_workqueue(fmt, flags, 1, ##args)
void destroy_workqueue(struct workqueue_struct *wq);
void flush_workqueue(struct workqueue_struct *wq);
bool queue_work(struct workqueue_struct *wq, struct work_struct *w);
bool queue_delayed_work(struct workqueue_struct *wq, struct delayed_work *dw, unsigned long delay);
bool mod_delayed_work(struct workqueue_struct *wq, struct delayed_work *dw, unsigned long delay);
#define schedule_work(w) queue_work(system_wq, (w))
#define schedule_delayed_work(dw, d) queue_delayed_work(system_wq, (dw), (d))
bool flush_work(struct work_struct *w);
bool flush_delayed_work(struct delayed_work *dw);
bool cancel_work_sync(struct work_struct *w);
bool cancel_delayed_work_sync(struct delayed_work *dw);
bool cancel_delayed_work(struct delayed_work *dw);
bool work_pending(const struct work_struct *w);
#define delayed_work_pending(dw) work_pending(&(dw)->work)
bool work_busy(const struct work_struct *w);
/* work items queued or running right now (tests, shutdown) */
unsigned long shim_work_outstanding(void);

/* ---- wait queues ------------------------------------------------------------- */
typedef struct wait_queue_head {
	pthread_mutex_t m;
	pthread_cond_t c;
	unsigned long gen;
} wait_queue_head_t;
#define __WAIT_QUEUE_HEAD_INITIALIZER(n) { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 }
#define DECLARE_WAIT_QUEUE_HEAD(n) wait_queue_head_t n = __WAIT_QUEUE_HEAD_INITIALIZER(n)
void init_waitqueue_head(wait_queue_head_t *wq);
void wake_up_all(wait_queue_head_t *wq);
#define wake_up(wq) wake_up_all(wq)
#define wake_up_interruptible(wq) wake_up_all(wq)
#define wake_up_interruptible_all(wq) wake_up_all(wq)
unsigned long shim_wait_gen(wait_queue_head_t *wq);
/* sleep until wq's generation moves past gen, or slice_us passed */
void shim_wait_slice(wait_queue_head_t *wq, unsigned long gen, unsigned long slice_us);
void shim_wait_check(const char *what);
/*
 * The condition is evaluated without wq's lock (as in the kernel); a wake
 * up between the evaluation and the sleep is not lost (generation count),
 * and the sleep is sliced so a missed wake_up costs at most 10 ms.
 * Timeouts are in jiffies (10 ms).
 */
#define __shim_wait_event(wq, cond, killable, timeout)				\
({										\
	long __ret = 1;								\
	unsigned long __end = jiffies + (timeout);				\
	shim_wait_check("wait_event");						\
	for (;;) {								\
		unsigned long __g = shim_wait_gen(&(wq));			\
		if (cond) {							\
			if ((timeout) >= 0)					\
				__ret = max_t(long, 1, (long)(__end - jiffies)); \
			else							\
				__ret = 0;					\
			break;							\
		}								\
		if ((killable) && fatal_signal_pending(current)) {		\
			__ret = -ERESTARTSYS;					\
			break;							\
		}								\
		if ((timeout) >= 0 && time_after_eq(jiffies, __end)) {		\
			__ret = (cond) ? 1 : 0;					\
			break;							\
		}								\
		shim_wait_slice(&(wq), __g, 10000);				\
	}									\
	__ret;									\
})
#define wait_event(wq, cond) ((void)__shim_wait_event(wq, cond, false, -1L))
#define wait_event_killable(wq, cond) ((int)__shim_wait_event(wq, cond, true, -1L))
#define wait_event_interruptible(wq, cond) ((int)__shim_wait_event(wq, cond, true, -1L))
#define wait_event_timeout(wq, cond, t) __shim_wait_event(wq, cond, false, (long)(t))
#define wait_event_killable_timeout(wq, cond, t) __shim_wait_event(wq, cond, true, (long)(t))
#define wait_event_interruptible_timeout(wq, cond, t) __shim_wait_event(wq, cond, true, (long)(t))
#define time_after_eq(a, b) ((long)((a) - (b)) >= 0)
#define time_before_eq(a, b) time_after_eq(b, a)

/* ---- ratelimit ----------------------------------------------------------- */
struct ratelimit_state {
	pthread_mutex_t lock;
	int interval, burst, printed, missed;
	unsigned long begin;
};
#define DEFAULT_RATELIMIT_INTERVAL (5 * HZ)
#define DEFAULT_RATELIMIT_BURST 10
#define RATELIMIT_STATE_INIT(n, i, b) { PTHREAD_MUTEX_INITIALIZER, (i), (b), 0, 0, 0 }
#define DEFINE_RATELIMIT_STATE(n, i, b) struct ratelimit_state n = RATELIMIT_STATE_INIT(n, i, b)
static inline void ratelimit_state_init(struct ratelimit_state *rs, int i, int b)
{ memset(rs, 0, sizeof(*rs)); pthread_mutex_init(&rs->lock, NULL); rs->interval = i; rs->burst = b; }
int ___ratelimit(struct ratelimit_state *rs, const char *func);
#define __ratelimit(rs) ___ratelimit((rs), __func__)

#endif /* APSIM_SHIM_TASK_H */
