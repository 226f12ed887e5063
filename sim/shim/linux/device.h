/* SPDX-License-Identifier: GPL-2.0 */
/*
 * userspace stand-in for <linux/device.h> and <linux/sysfs.h>: devices,
 * drivers and their attributes as far as an AP driver uses them. The
 * simulator shows a device's attributes (its driver's dev_groups) in its
 * tree and to clients through the preload library.
 */
#ifndef APSIM_LINUX_DEVICE_H
#define APSIM_LINUX_DEVICE_H
#include "../shim.h"

#define PAGE_SIZE 4096UL

struct attribute {
	const char *name;
	umode_t mode;
};
struct kobject;
struct attribute_group {
	const char *name;
	umode_t (*is_visible)(struct kobject *, struct attribute *, int);
	struct attribute **attrs;
};
struct kobject {
	const char *name;
};
struct device;
struct device_attribute {
	struct attribute attr;
	ssize_t (*show)(struct device *dev, struct device_attribute *attr, char *buf);
	ssize_t (*store)(struct device *dev, struct device_attribute *attr, const char *buf,
			 size_t count);
};
struct device_driver {
	const char *name;
	struct module *owner;
	const struct attribute_group **groups;
	const struct attribute_group **dev_groups;
};
struct device {
	struct kobject kobj;
	struct device *parent;
	struct device_driver *driver;
	void *driver_data;
	const struct attribute_group *groups[8];	/* added by device_add_groups() & co */
	const struct device_attribute *files[8];	/* added by device_create_file() */
};
static inline void *dev_get_drvdata(const struct device *dev) { return dev->driver_data; }
static inline void dev_set_drvdata(struct device *dev, void *data) { dev->driver_data = data; }
static inline const char *dev_name(const struct device *dev) { return dev->kobj.name; }
#define get_device(d) (d)
#define put_device(d) do { } while (0)

#define __ATTR(_name, _mode, _show, _store) \
	{ .attr = { .name = __stringify(_name), .mode = (_mode) }, .show = (_show), .store = (_store) }
#define __ATTR_RO(_name) __ATTR(_name, 0444, _name##_show, NULL)
#define __ATTR_RW(_name) __ATTR(_name, 0644, _name##_show, _name##_store)
#define __ATTR_WO(_name) __ATTR(_name, 0200, NULL, _name##_store)
#define DEVICE_ATTR(_name, _mode, _show, _store) \
	struct device_attribute dev_attr_##_name = __ATTR(_name, _mode, _show, _store)
#define DEVICE_ATTR_RO(_name) struct device_attribute dev_attr_##_name = __ATTR_RO(_name)
#define DEVICE_ATTR_RW(_name) struct device_attribute dev_attr_##_name = __ATTR_RW(_name)
#define DEVICE_ATTR_WO(_name) struct device_attribute dev_attr_##_name = __ATTR_WO(_name)
#define DEVICE_ATTR_ADMIN_RO(_name) \
	struct device_attribute dev_attr_##_name = __ATTR(_name, 0400, _name##_show, NULL)
#define __ATTRIBUTE_GROUPS(_name)						\
	static const struct attribute_group *_name##_groups[] = {		\
		&_name##_group,							\
		NULL,								\
	}
#define ATTRIBUTE_GROUPS(_name)							\
	static const struct attribute_group _name##_group = {			\
		.attrs = _name##_attrs,						\
	};									\
	__ATTRIBUTE_GROUPS(_name)
#define to_dev_attr(a) container_of((a), struct device_attribute, attr)

int sysfs_emit(char *buf, const char *fmt, ...) __printf(2, 3);
int sysfs_emit_at(char *buf, int at, const char *fmt, ...) __printf(3, 4);
int device_add_groups(struct device *dev, const struct attribute_group **groups);
void device_remove_groups(struct device *dev, const struct attribute_group **groups);
int sysfs_create_group(struct kobject *kobj, const struct attribute_group *grp);
void sysfs_remove_group(struct kobject *kobj, const struct attribute_group *grp);
int device_create_file(struct device *dev, const struct device_attribute *attr);
void device_remove_file(struct device *dev, const struct device_attribute *attr);
/* the attribute name of dev (its driver's dev_groups, then its own): the
 * text show() gives, or -ENOENT */
ssize_t shim_device_attr_show(struct device *dev, const char *name, char *buf);
/* its mode (0444, 0400 ...), or -ENOENT */
int shim_device_attr_mode(struct device *dev, const char *name);

#define dev_err(d, fmt, ...) pr_err(fmt, ##__VA_ARGS__)
#define dev_warn(d, fmt, ...) pr_warn(fmt, ##__VA_ARGS__)
#define dev_info(d, fmt, ...) pr_info(fmt, ##__VA_ARGS__)
#define dev_dbg(d, fmt, ...) pr_debug(fmt, ##__VA_ARGS__)
#endif
