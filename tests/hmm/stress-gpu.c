// SPDX-License-Identifier: MIT
/*
 * Description: the stress test of stress.c on two emulated GPUs: CPU
 * writers stamp pages while the GPUs migrate them back and forth with
 * their copy engines, read them through their MMUs, and a GPU kernel adds
 * to them atomically. No write of either side is lost.
 */
#define HMM_STRESS_GPU 1
#include "stress.c"
