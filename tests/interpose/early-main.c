// SPDX-License-Identifier: MIT
/*
 * interpose-early-hooks, the program: reports what the preloaded early.c
 * found in its constructor, and does the same once more from main().
 */
#include <dlfcn.h>

#include "interpose-test.h"

int main(void)
{
	int (*result)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "early_result");
	int (*constructed)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "hetmem_preload_constructed");

	CHECK(result, "the early library is not preloaded");
	CHECK(!result || !result(), "its constructor's checks (%d)", result ? result() : -1);
	CHECK(constructed && constructed(), "the interposer's constructor has run by now");
	CHECK(it_attr("/sys/class/nvme/nvme0", "cntlid") >= 0, "a sysfs attribute from main");
	return it_result("interpose-early-hooks");
}
