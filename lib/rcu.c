// SPDX-License-Identifier: MIT
/*
 * The token ThreadSanitizer orders RCU readers and grace periods on (see
 * rcu.h). Only TSan builds use it.
 */
#include "rcu.h"
#include "compiler.h"

#if defined(__SANITIZE_THREAD__)
__internal char hetmem_rcu_tsan_token;
#endif
