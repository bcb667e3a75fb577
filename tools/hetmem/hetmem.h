/* SPDX-License-Identifier: MIT */
/*
 * The hetmem command-line tool: what the subcommands share.
 */
#ifndef HETMEM_TOOL_H
#define HETMEM_TOOL_H

#include <stddef.h>
#include <stdint.h>

struct machine;

/*
 * Exit codes, part of the tool's interface (hetmem(1) lists them): scripts
 * tell "it ran and something was wrong" from "it was called wrongly".
 */
enum hetmem_exit {
	HETMEM_EXIT_OK = 0,
	HETMEM_EXIT_FAILURE = 1, /* the job failed or a verification did not hold */
	HETMEM_EXIT_USAGE = 2, /* bad command line */
};

/*
 * Every subcommand is called with argv[0] set to "hetmem <name>", so
 * getopt's messages and ours name the subcommand.
 */
int cmd_demo(int argc, char **argv);
int cmd_lspci(int argc, char **argv);
int cmd_p2pmem(int argc, char **argv);
int cmd_topo(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_sysfs(int argc, char **argv);

/**
 * cli_load_machine - build the machine a subcommand works on
 * @prog: "hetmem <name>", for messages
 * @path: the --machine config file, or NULL for the embedded default
 *
 * Return: the machine, or NULL after printing why it could not be built.
 */
struct machine *cli_load_machine(const char *prog, const char *path);

/**
 * cli_usage_error - report a bad command line
 * @prog: "hetmem <name>"
 * @fmt: printf format of the complaint, or NULL when getopt already said it
 *
 * Return: HETMEM_EXIT_USAGE, for the caller to return.
 */
int cli_usage_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/**
 * cli_format_size - a byte count as people read it
 * @s: where the text goes
 * @n: size of @s
 * @bytes: the count
 *
 * "4 MiB" or "16 KiB" when @bytes is a whole number of them, else "N bytes".
 *
 * Return: @s.
 */
const char *cli_format_size(char *s, size_t n, uint64_t bytes);

#endif /* HETMEM_TOOL_H */
