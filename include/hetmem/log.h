/* SPDX-License-Identifier: MIT */
/*
 * Logging. Every message carries its file's prefix (define pr_fmt before
 * including this header, as in the kernel); the level comes from the
 * HETMEM_LOG environment variable (err, warn, info, debug or 0-3) and
 * defaults to CONFIG_LOG_DEFAULT_LEVEL.
 *
 * A "guest error" is a mistake made by whoever drives an emulated device:
 * a malformed config-space access, a bad register write, a malformed NVMe
 * command. It is logged at warning level with a "guest error:" marker,
 * answered the way the hardware would answer, and counted.
 */
#ifndef HETMEM_LOG_H
#define HETMEM_LOG_H

#include <stdarg.h>

enum hetmem_log_level {
	HETMEM_LOG_ERR = 0,
	HETMEM_LOG_WARN = 1,
	HETMEM_LOG_INFO = 2,
	HETMEM_LOG_DEBUG = 3,
};

/**
 * typedef hetmem_log_fn - receives every message at or below the level
 * @level: the message's level
 * @guest: non-zero for a guest error
 * @msg: the formatted message, prefix included, no trailing newline
 * @arg: the argument given to hetmem_log_set_handler()
 */
typedef void (*hetmem_log_fn)(int level, int guest, const char *msg, void *arg);

/**
 * hetmem_log_set_level - set the level above which messages are dropped
 * @level: one of enum hetmem_log_level
 *
 * Return: the previous level. Values out of range are clamped.
 */
int hetmem_log_set_level(int level);

/**
 * hetmem_log_get_level - the level in force
 *
 * Return: one of enum hetmem_log_level.
 */
int hetmem_log_get_level(void);

/**
 * hetmem_log_set_handler - send messages to @fn instead of stderr
 * @fn: the handler, or NULL to go back to stderr
 * @arg: passed to @fn
 *
 * The handler runs on the logging thread, outside any hetmem lock; it must
 * not log itself.
 */
void hetmem_log_set_handler(hetmem_log_fn fn, void *arg);

/**
 * hetmem_guest_errors - how many guest errors were logged since start
 *
 * Counted whatever the level, so a test can assert that a bad input was
 * noticed.
 *
 * Return: the count.
 */
unsigned long hetmem_guest_errors(void);

/**
 * hetmem_log - log a message
 * @level: one of enum hetmem_log_level
 * @fmt: printf format, already carrying the file's prefix
 */
void hetmem_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/**
 * hetmem_log_guest - log and count a guest error
 * @fmt: printf format, already carrying the file's prefix
 */
void hetmem_log_guest(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#ifndef pr_fmt
#define pr_fmt(fmt) fmt
#endif

#define pr_err(fmt, ...) hetmem_log(HETMEM_LOG_ERR, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_warn(fmt, ...) hetmem_log(HETMEM_LOG_WARN, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_info(fmt, ...) hetmem_log(HETMEM_LOG_INFO, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_debug(fmt, ...) hetmem_log(HETMEM_LOG_DEBUG, pr_fmt(fmt), ##__VA_ARGS__)
#define guest_err(fmt, ...) hetmem_log_guest(pr_fmt(fmt), ##__VA_ARGS__)

#endif /* HETMEM_LOG_H */
