/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A model of Linux 6.12's vfio_ap `ap_config` store path, for comparing
 * costs with apmatrix's SET (see vfio-ap-model.c for what is modelled).
 *
 * Masks are 4 x 64-bit words in the architecture's order (ID n is bit
 * 63 - n % 64 of word n / 64), as in the CRYCB and sysfs.
 */
#ifndef BENCH_VFIO_AP_MODEL_H
#define BENCH_VFIO_AP_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct kvm;
struct vfio_model;
struct vfio_mdev;

/*
 * The host: an AP configuration of (max_apid + 1) x (max_apqi + 1) queues
 * (APXA), every one a queue device on the AP bus bound to vfio_ap (its
 * struct vfio_ap_queue made at probe), nothing reserved for the default
 * drivers (apmask = aqmask = 0). NULL on allocation failure.
 */
struct vfio_model *vfio_model_create(unsigned int max_apid, unsigned int max_apqi);
void vfio_model_free(struct vfio_model *m);

/*
 * A mediated device (setup, not measured: its queues are linked directly,
 * as the end state of writing its ap_config). kvm: the guest it is
 * attached to, or NULL. NULL on allocation failure.
 */
struct vfio_mdev *vfio_model_add_mdev(struct vfio_model *m, const uint64_t apm[4],
				      const uint64_t aqm[4], const uint64_t adm[4],
				      struct kvm *kvm);

/* A write of buf (count bytes) to the mdev's ap_config attribute, from
 * kernfs's copy of the user buffer on: count, or a negative errno. */
ssize_t vfio_model_ap_config_write(struct vfio_model *m, struct vfio_mdev *mdev,
				   const char *buf, size_t count);

/* Back to an empty mdev (setup between measurements, not a modelled path). */
void vfio_model_mdev_clear(struct vfio_model *m, struct vfio_mdev *mdev);

/* kvm_arch_crypto_set_masks() calls made by the model so far */
unsigned long vfio_model_installs(const struct vfio_model *m);

#endif
