// SPDX-License-Identifier: MIT
/*
 * Logging: level from HETMEM_LOG, an optional handler, a guest-error count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>

#include <hetmem/log.h>

#ifndef CONFIG_LOG_DEFAULT_LEVEL
#define CONFIG_LOG_DEFAULT_LEVEL HETMEM_LOG_WARN
#endif

static int log_level = -1;
static unsigned long guest_errors;
static hetmem_log_fn log_handler;
static void *log_handler_arg;
static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static const char *const level_names[] = { "err", "warn", "info", "debug" };

static int clamp_level(int level)
{
	if (level < HETMEM_LOG_ERR)
		return HETMEM_LOG_ERR;
	if (level > HETMEM_LOG_DEBUG)
		return HETMEM_LOG_DEBUG;
	return level;
}

static void log_init(void)
{
	const char *env = getenv("HETMEM_LOG");
	int level = CONFIG_LOG_DEFAULT_LEVEL;

	if (env && *env) {
		char *end;
		long v = strtol(env, &end, 10);

		if (*end == '\0') {
			level = (int)v;
		} else {
			for (unsigned int i = 0; i < 4; i++)
				if (!strcasecmp(env, level_names[i]))
					level = (int)i;
		}
	}
	/* An explicit hetmem_log_set_level() before the first message wins. */
	if (__atomic_load_n(&log_level, __ATOMIC_RELAXED) < 0)
		__atomic_store_n(&log_level, clamp_level(level), __ATOMIC_RELAXED);
}

int hetmem_log_get_level(void)
{
	pthread_once(&log_once, log_init);
	return __atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

int hetmem_log_set_level(int level)
{
	int old = hetmem_log_get_level();

	__atomic_store_n(&log_level, clamp_level(level), __ATOMIC_RELAXED);
	return old;
}

void hetmem_log_set_handler(hetmem_log_fn fn, void *arg)
{
	log_handler_arg = arg;
	__atomic_store_n(&log_handler, fn, __ATOMIC_RELEASE);
}

unsigned long hetmem_guest_errors(void)
{
	return __atomic_load_n(&guest_errors, __ATOMIC_RELAXED);
}

__attribute__((format(printf, 3, 0)))
static void vlog(int level, int guest, const char *fmt, va_list ap)
{
	hetmem_log_fn fn;
	char msg[512];
	int n = 0;

	if (level > hetmem_log_get_level())
		return;
	if (guest)
		n = snprintf(msg, sizeof(msg), "guest error: ");
	vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	/* Messages are single lines; drop a trailing newline the caller gave. */
	n = (int)strlen(msg);
	if (n && msg[n - 1] == '\n')
		msg[n - 1] = '\0';

	fn = __atomic_load_n(&log_handler, __ATOMIC_ACQUIRE);
	if (fn)
		fn(level, guest, msg, log_handler_arg);
	else
		fprintf(stderr, "hetmem: %s\n", msg);
}

void hetmem_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, 0, fmt, ap);
	va_end(ap);
}

void hetmem_log_guest(const char *fmt, ...)
{
	va_list ap;

	__atomic_add_fetch(&guest_errors, 1, __ATOMIC_RELAXED);
	va_start(ap, fmt);
	vlog(HETMEM_LOG_WARN, 1, fmt, ap);
	va_end(ap);
}
