/* SPDX-License-Identifier: MIT */
/*
 * Read-copy-update, from liburcu's bulletproof flavour (no thread
 * registration: any thread of any program linked with hetmem may read).
 *
 * ThreadSanitizer cannot see a grace period: liburcu waits for readers with
 * membarrier and counters it does not understand, so it would report every
 * free after synchronize_rcu() as a race with the readers before it. Under
 * TSan each read-side section therefore ends with a release on one token,
 * and each grace period with an acquire on it: exactly the ordering RCU
 * guarantees, stated in terms TSan checks.
 */
#ifndef HETMEM_LIB_RCU_H
#define HETMEM_LIB_RCU_H

#include <urcu/urcu-bp.h>

#if defined(__SANITIZE_THREAD__)
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
extern char hetmem_rcu_tsan_token;
#define rcu_tsan_release() __tsan_release(&hetmem_rcu_tsan_token)
#define rcu_tsan_acquire() __tsan_acquire(&hetmem_rcu_tsan_token)
#else
#define rcu_tsan_release() do { } while (0)
#define rcu_tsan_acquire() do { } while (0)
#endif

static inline void hm_rcu_read_lock(void)
{
	urcu_bp_read_lock();
}

static inline void hm_rcu_read_unlock(void)
{
	rcu_tsan_release();
	urcu_bp_read_unlock();
}

static inline void hm_synchronize_rcu(void)
{
	urcu_bp_synchronize_rcu();
	rcu_tsan_acquire();
}

#endif /* HETMEM_LIB_RCU_H */
