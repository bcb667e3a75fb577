/* SPDX-License-Identifier: MIT */
/*
 * Making and removing run directories (run.h) and bare sysfs trees.
 */
#ifndef HETMEM_INTERPOSE_RUNDIR_H
#define HETMEM_INTERPOSE_RUNDIR_H

#include <stddef.h>

/**
 * hi_run_prepare - make @dir a run directory for a machine
 * @dir: an existing directory (mode 0700), empty or a previous run's
 * @machine_path: the machine config, or NULL for the default machine
 * @err: a message naming what failed
 * @errlen: its size
 *
 * Writes RUN/machine.ini (the config with every namespace backed by a file
 * in @dir unless it names one), builds the machine once to describe it,
 * and writes RUN/state, RUN/bar/, RUN/sys/ and RUN/view/.
 *
 * Return: 0, or a negative errno: the config's (-ENOENT, -EINVAL, ...),
 * -E2BIG for a machine larger than a run supports, or the errno of
 * writing the files.
 */
int hi_run_prepare(const char *dir, const char *machine_path, char *err, size_t errlen);

/**
 * hi_sysfs_materialise - write a machine's sysfs tree, nothing else
 * @root: the directory that plays /sys (created when missing)
 * @machine_path: the machine config, or NULL for the default machine
 * @err: a message naming what failed
 * @errlen: its size
 *
 * Return: 0, or a negative errno as hi_run_prepare().
 */
int hi_sysfs_materialise(const char *root, const char *machine_path, char *err, size_t errlen);

/**
 * hi_remove_tree - rm -rf
 * @dir: the directory
 *
 * Return: 0 (also when @dir does not exist), or a negative errno.
 */
int hi_remove_tree(const char *dir);

/**
 * hi_view_name - the RUN/view/ directory that merges a sysfs directory
 * @rel: the directory below /sys ("bus/pci/devices", "class/nvme", ...)
 * @out: where the view's name goes
 * @len: its size
 *
 * Return: 0, or -ENOENT when @rel is not merged.
 */
int hi_view_name(const char *rel, char *out, size_t len);

/**
 * hi_view_host_dir - the @i-th merged directory
 * @i: index from 0
 * @host: its path on the host (/sys/...)
 * @name: its view's name in RUN/view/
 *
 * Return: 0, or -ENOENT past the last.
 */
int hi_view_host_dir(unsigned int i, const char **host, const char **name);

#endif /* HETMEM_INTERPOSE_RUNDIR_H */
