// SPDX-License-Identifier: MIT
/*
 * Description: everything at once on mirrored memory, and no byte is lost.
 * The memory is 24 slots of 16 pages, each its own mapping; two thirds are
 * written by CPU writers (writer w owns word w of every page), one third
 * is left to a device writer. Meanwhile migrators move random ranges to
 * two devices and back, one device reader checks what it reads against
 * the writers' counters, and a second one reads without looking.
 *
 * The model keeps, per slot, the last stamp written to each word (CPU
 * slots) or page (device slots). When the threads stop, every byte of
 * every slot must match it: the test reports the bytes compared and the
 * bytes lost (which must be 0).
 *
 * Each slot has a lock every thread holds shared while it names the slot's
 * address; a remapper takes it exclusively to replace or move the slot.
 * Switches (Documentation/reliability.md lists what each one found; 0
 * turns a default off):
 *
 *   HETMEM_STRESS_DEVICE_WRITES=1  (default) the device writer:
 *                           dmirror_write() of whole pages of the device
 *                           slots, alternating between the two devices
 *   HETMEM_STRESS_UNMAP=2   (default) the remapper replaces slots:
 *                           munmap(), then a fresh mmap(), the model reset
 *                           to zeroes, with the pages left on the devices
 *   HETMEM_STRESS_UNMAP=1   the same, the slot's pages brought home first
 *   HETMEM_STRESS_MREMAP=1  (default) the remapper also moves slots with
 *                           mremap(), half of the time; a slot hetmem has
 *                           registered in parts is several mappings, which
 *                           mremap() refuses (EFAULT): such a slot is
 *                           counted refused without asking
 *   HETMEM_STRESS_REUSE=1   (default) retired slots are unmapped rather
 *                           than kept reserved, so new mappings reuse
 *                           their addresses
 *   HETMEM_STRESS_RACE=1    migrations and the blind reader take no lock,
 *                           so they race with the unmaps and moves (an
 *                           error saying the range is gone is then a
 *                           correct answer)
 *
 * Runs for HETMEM_STRESS_MS milliseconds (3000 by default, 1000 under a
 * sanitizer). Needs a userfaultfd; skipped under Valgrind as every HMM
 * test is (tests/hmm/hmm-fixture.h).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>
#include <cmocka.h>

#include "../hmm/hmm-fixture.h"

#define NSLOTS	   24
#define SLOT_PAGES 16UL
#define SLOT_LEN   (SLOT_PAGES * HMM_PAGE)
#define NWRITERS   3 /* CPU writers; word w of each page of a CPU slot is writer w's */
#define WORDS	   (HMM_PAGE / sizeof(uint64_t))
#define MAX_RUN	   8UL /* pages per device command */
#define RETRIES	   1000 /* -EBUSY answers a device writer accepts in a row */

struct slot {
	pthread_rwlock_t lock; /* shared: writers, checking reader; exclusive: remapper */
	uintptr_t addr; /* (atomic) where the slot is mapped now */
	bool device; /* written by the device writer, else by the CPU writers */
	uint64_t expect[SLOT_PAGES][NWRITERS]; /* CPU slot: last stamp per page and writer */
	uint64_t dev_expect[SLOT_PAGES]; /* device slot: last stamp per page */
};

struct stress {
	struct hmm_fixture *f;
	struct slot slot[NSLOTS];
	int stop;
	uint64_t seq[NWRITERS + 1]; /* latest stamp per CPU writer, [NWRITERS]: the device's */
	/* Counters (relaxed atomics). */
	unsigned long errors, cpu_writes, dev_writes, dev_reads, blind_reads, to_dev, to_sys;
	unsigned long moves, refused, replaces;
	unsigned long gone; /* operations that found their range unmapped */
	unsigned long bytes_written;
	/* What the run includes (see the top of the file). */
	bool device_writer; /* HETMEM_STRESS_DEVICE_WRITES */
	int unmap; /* HETMEM_STRESS_UNMAP: 1 slots replaced, pages brought home first; 2 not */
	bool mremap; /* HETMEM_STRESS_MREMAP=1: slots moved */
	bool race; /* HETMEM_STRESS_RACE=1: migrations and one reader take no slot lock */
	bool reuse; /* HETMEM_STRESS_REUSE=1: retired slots are unmapped, not reserved */
};

struct worker {
	struct stress *s;
	int id;
	unsigned int rnd;
};

static bool stopped(struct stress *s)
{
	return __atomic_load_n(&s->stop, __ATOMIC_ACQUIRE);
}

static void count(unsigned long *c, unsigned long n)
{
	__atomic_add_fetch(c, n, __ATOMIC_RELAXED);
}

static void error(struct stress *s, const char *what, int ret)
{
	fprintf(stderr, "%s: %d\n", what, ret);
	count(&s->errors, 1);
}

static uintptr_t slot_addr(struct slot *sl)
{
	return __atomic_load_n(&sl->addr, __ATOMIC_ACQUIRE);
}

/* A random slot of the kind asked for (-1: any). */
static struct slot *pick(struct worker *w, int device)
{
	for (;;) {
		struct slot *sl = &w->s->slot[rand_r(&w->rnd) % NSLOTS];

		if (device < 0 || sl->device == (device == 1))
			return sl;
	}
}

/* A page of a device slot: stamp, page index, then a pattern of both. */
static void dev_page(uint64_t *p, uint64_t stamp, unsigned long page)
{
	p[0] = stamp;
	p[1] = page;
	for (unsigned long i = 2; i < WORDS; i++)
		p[i] = stamp * 0x9e3779b97f4a7c15ULL ^ (page << 32 | i);
}

static void *cpu_writer(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;
	unsigned long n = 0;

	while (!stopped(s)) {
		struct slot *sl = pick(w, 0);
		unsigned long page = rand_r(&w->rnd) % SLOT_PAGES;
		uint64_t seq = __atomic_add_fetch(&s->seq[w->id], 1, __ATOMIC_RELAXED);
		volatile uint64_t *word;

		pthread_rwlock_rdlock(&sl->lock);
		word = (volatile uint64_t *)(slot_addr(sl) + page * HMM_PAGE) + w->id;
		*word = seq;
		sl->expect[page][w->id] = seq;
		if (*word != seq)
			error(s, "CPU writer: read back a different value", 0);
		pthread_rwlock_unlock(&sl->lock);
		n++;
	}
	count(&s->cpu_writes, n);
	count(&s->bytes_written, n * sizeof(uint64_t));
	return NULL;
}

static void *device_writer(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;
	uint64_t *buf = malloc(MAX_RUN * HMM_PAGE);

	while (buf && !stopped(s)) {
		struct slot *sl = pick(w, 1);
		unsigned long first = rand_r(&w->rnd) % SLOT_PAGES;
		unsigned long n = 1 + rand_r(&w->rnd) % MAX_RUN;
		uint64_t stamp = __atomic_add_fetch(&s->seq[NWRITERS], 1, __ATOMIC_RELAXED);
		struct hmm_dmirror_cmd cmd = { .ptr = (uintptr_t)buf };
		int ret, tries = 0;

		if (first + n > SLOT_PAGES)
			n = SLOT_PAGES - first;
		for (unsigned long p = 0; p < n; p++)
			dev_page(buf + p * WORDS, stamp, first + p);
		pthread_rwlock_rdlock(&sl->lock);
		cmd.addr = slot_addr(sl) + first * HMM_PAGE;
		cmd.npages = n;
		/* A write that keeps being invalidated is retried whole: the model stays exact. */
		do
			ret = dmirror_write(s->f->mirror[stamp & 1], &cmd);
		while (ret == -EBUSY && ++tries < RETRIES);
		if (ret)
			error(s, "device writer", ret);
		else
			for (unsigned long p = 0; p < n; p++)
				sl->dev_expect[first + p] = stamp;
		pthread_rwlock_unlock(&sl->lock);
		count(&s->dev_writes, 1);
		count(&s->bytes_written, n * HMM_PAGE);
	}
	free(buf);
	return NULL;
}

/* Errors that mean "the range was unmapped or moved under me". */
static bool gone(int ret)
{
	return ret == -EFAULT || ret == -EINVAL || ret == -ENOENT || ret == -EBUSY;
}

/* Migrator 0 moves ranges to the devices, migrator 1 home; neither takes a slot lock. */
static void *migrator(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;

	for (unsigned long round = 0; !stopped(s); round++) {
		struct slot *sl = pick(w, -1);
		unsigned long first = rand_r(&w->rnd) % SLOT_PAGES;
		struct hmm_dmirror_cmd cmd = { 0 };
		int ret;

		if (!s->race)
			pthread_rwlock_rdlock(&sl->lock);
		cmd.addr = slot_addr(sl) + first * HMM_PAGE;
		cmd.npages = 1 + rand_r(&w->rnd) % (SLOT_PAGES - first);
		if (w->id == 0) {
			ret = dmirror_migrate_to_dev(s->f->mirror[round & 1], &cmd);
			count(&s->to_dev, ret ? 0 : cmd.cpages);
		} else {
			ret = dmirror_migrate_to_sys(s->f->mirror[round & 1], &cmd);
			count(&s->to_sys, ret ? 0 : cmd.cpages);
		}
		if (!s->race)
			pthread_rwlock_unlock(&sl->lock);
		if (ret && gone(ret))
			count(&s->gone, 1);
		else if (ret)
			error(s, w->id ? "migrate to system" : "migrate to device", ret);
	}
	return NULL;
}

/* What a device reads of a slot is never newer than what was written. */
static void check_read(struct stress *s, struct slot *sl, const uint64_t *buf, unsigned long n)
{
	uint64_t latest[NWRITERS + 1];

	for (int k = 0; k <= NWRITERS; k++)
		latest[k] = __atomic_load_n(&s->seq[k], __ATOMIC_RELAXED);
	for (unsigned long p = 0; p < n; p++) {
		const uint64_t *pg = buf + p * WORDS;

		if (sl->device) {
			if (pg[0] > latest[NWRITERS])
				error(s, "device reader: a device stamp from the future", 0);
			continue;
		}
		for (int k = 0; k < NWRITERS; k++)
			if (pg[k] > latest[k])
				error(s, "device reader: a CPU stamp from the future", 0);
		for (unsigned long i = NWRITERS; i < WORDS; i++)
			if (pg[i])
				error(s, "device reader: a word nobody writes is not zero", 0);
	}
}

/* Reader 0 holds the slot lock and checks; reader 1 reads wherever, whenever. */
static void *device_reader(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;
	uint64_t *buf = malloc(SLOT_LEN);

	while (buf && !stopped(s)) {
		struct slot *sl = pick(w, -1);
		unsigned long first = rand_r(&w->rnd) % SLOT_PAGES;
		struct hmm_dmirror_cmd cmd = { .ptr = (uintptr_t)buf };
		int ret;

		cmd.npages = 1 + rand_r(&w->rnd) % (SLOT_PAGES - first);
		if (w->id == 0 || !s->race)
			pthread_rwlock_rdlock(&sl->lock);
		cmd.addr = slot_addr(sl) + first * HMM_PAGE;
		ret = dmirror_read(s->f->mirror[rand_r(&w->rnd) & 1], &cmd);
		if (w->id == 0) {
			if (ret == -EBUSY)
				count(&s->gone, 1);
			else if (ret)
				error(s, "device reader", ret);
			else
				check_read(s, sl, buf, cmd.npages);
			pthread_rwlock_unlock(&sl->lock);
			count(&s->dev_reads, 1);
		} else {
			if (ret && !gone(ret))
				error(s, "blind device reader", ret);
			count(ret ? &s->gone : &s->blind_reads, 1);
			if (!s->race)
				pthread_rwlock_unlock(&sl->lock);
		}
	}
	free(buf);
	return NULL;
}

static void *new_mapping(size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * Take an address range out of use. By default it stays reserved
 * (PROT_NONE): the mapping is gone, but no later mmap() is given the same
 * addresses. With HETMEM_STRESS_REUSE=1 it is simply unmapped, and a slot
 * replaced later may land where an old one was.
 */
static void retire(struct stress *s, void *old, bool still_mapped)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;

	if (s->reuse) {
		if (still_mapped)
			munmap(old, SLOT_LEN);
		return;
	}
	/* Over a live mapping MAP_FIXED unmaps it first; over a hole, take the hole only. */
	flags |= still_mapped ? MAP_FIXED : MAP_FIXED_NOREPLACE;
	if (mmap(old, SLOT_LEN, PROT_NONE, flags, -1, 0) == MAP_FAILED && still_mapped)
		error(s, "mmap over a retired slot", -errno);
}

/*
 * Bring a slot's pages home from both devices before it is unmapped, so
 * that an unmap meets mirrored system pages only (HETMEM_STRESS_UNMAP=1).
 */
static void home(struct stress *s, void *addr)
{
	for (int d = 0; d < 2; d++) {
		struct hmm_dmirror_cmd cmd = { .addr = (uintptr_t)addr, .npages = SLOT_PAGES };
		int ret = dmirror_migrate_to_sys(s->f->mirror[d], &cmd);

		if (ret)
			error(s, "migrating a slot home before its unmap", ret);
	}
}

/*
 * mremap() of a slot refused with EFAULT (with HETMEM_STRESS_RACE=1, when a
 * migration registered part of it after one_mapping() looked): it is
 * several VMAs. Linux 6.17 moves the leading VMAs that are not registered
 * before it meets one that is: move back what went.
 */
static bool put_back(uint8_t *old, uint8_t *res)
{
	for (unsigned long p = 0; p < SLOT_PAGES;) {
		unsigned long n = 0;

		while (p + n < SLOT_PAGES && msync(old + (p + n) * HMM_PAGE, HMM_PAGE, MS_ASYNC) &&
		       errno == ENOMEM)
			n++;
		if (n && mremap(res + p * HMM_PAGE, n * HMM_PAGE, n * HMM_PAGE,
				MREMAP_MAYMOVE | MREMAP_FIXED, old + p * HMM_PAGE) == MAP_FAILED)
			return false;
		p += n ? n : 1;
	}
	return true;
}

/*
 * The mapping holding @addr, from /proc/self/maps: its bounds and
 * permissions ("rw-p"). False when nothing holds it or the file cannot be
 * read (*@known false then).
 */
static bool mapping_of(uintptr_t addr, unsigned long *lo, unsigned long *hi, char perm[8],
		       bool *known)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	bool found = false;

	*known = f != NULL;
	while (f && !found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%lx-%lx %7s", lo, hi, perm) == 3 && addr >= *lo && addr < *hi;
	if (f)
		fclose(f);
	return found;
}

/* Whether [addr, addr + len) is one mapping (one line of /proc/self/maps). */
static bool one_mapping(uintptr_t addr, size_t len)
{
	unsigned long lo, hi;
	char perm[8];
	bool known;

	if (mapping_of(addr, &lo, &hi, perm, &known))
		return addr + len <= hi;
	return !known; /* cannot tell: let mremap() say */
}

/* Moves a slot elsewhere (contents kept) or replaces it with fresh zeroes. */
static void *remapper(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;

	while (!stopped(s)) {
		struct slot *sl = pick(w, -1);
		bool move = s->mremap && (!s->unmap || (rand_r(&w->rnd) & 1));
		void *old, *dst;

		pthread_rwlock_wrlock(&sl->lock);
		old = (void *)slot_addr(sl);
		if (move && !s->race && !one_mapping((uintptr_t)old, SLOT_LEN)) {
			/*
			 * Registered in parts: mremap() would refuse it, and Linux
			 * 6.17 moves the leading mappings first, leaving a hole
			 * any thread's next mmap() may take before they are put
			 * back. Nobody registers more of the slot while it is
			 * locked, so asking first is exact.
			 */
			dst = old;
			count(&s->refused, 1);
		} else if (move) {
			/* A reserved destination, so the slot really moves. */
			void *res = new_mapping(SLOT_LEN, PROT_NONE);

			dst = res ? mremap(old, SLOT_LEN, SLOT_LEN, MREMAP_MAYMOVE | MREMAP_FIXED,
					   res) :
				    MAP_FAILED;
			if (dst == MAP_FAILED) {
				if (!res || errno != EFAULT)
					error(s, "mremap", -errno);
				else if (!put_back(old, res))
					error(s, "mremap back", -errno);
				if (res)
					munmap(res, SLOT_LEN);
				dst = old;
				count(&s->refused, 1);
			} else {
				retire(s, old, false);
				count(&s->moves, 1);
			}
		} else {
			if (s->unmap == 1)
				home(s, old);
			retire(s, old, true);
			dst = new_mapping(SLOT_LEN, PROT_READ | PROT_WRITE);
			if (!dst) {
				error(s, "mmap", -ENOMEM);
				abort();
			}
			memset(sl->expect, 0, sizeof(sl->expect));
			memset(sl->dev_expect, 0, sizeof(sl->dev_expect));
			count(&s->replaces, 1);
		}
		__atomic_store_n(&sl->addr, (uintptr_t)dst, __ATOMIC_RELEASE);
		pthread_rwlock_unlock(&sl->lock);
		usleep(500);
	}
	return NULL;
}

/*
 * Whether [addr, addr + HMM_PAGE) is mapped readable and writable, as
 * every slot page must be; if not, the mappings around it are printed
 * (reading it would fault, and the test would end without saying where).
 */
static bool page_mapped_rw(uintptr_t addr)
{
	unsigned long lo, hi;
	char perm[8], line[512];
	bool known;
	FILE *f;

	if (mapping_of(addr, &lo, &hi, perm, &known) && addr + HMM_PAGE <= hi && perm[0] == 'r' &&
	    perm[1] == 'w')
		return true;
	if (!known)
		return true; /* cannot tell: read it */
	f = fopen("/proc/self/maps", "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && hi + SLOT_LEN > addr &&
		    lo < addr + SLOT_LEN)
			fprintf(stderr, "  %s", line);
	if (f)
		fclose(f);
	return false;
}

/* Compare every byte of every slot with the model; returns the bytes that differ. */
static unsigned long bytes_lost(struct stress *s, unsigned long *compared)
{
	uint64_t want[WORDS];
	unsigned long lost = 0;

	*compared = 0;
	for (int i = 0; i < NSLOTS; i++) {
		struct slot *sl = &s->slot[i];

		for (unsigned long p = 0; p < SLOT_PAGES; p++) {
			const uint8_t *have = (const uint8_t *)(sl->addr + p * HMM_PAGE);
			unsigned long bad = 0;

			if (!page_mapped_rw((uintptr_t)have)) {
				fprintf(stderr, "slot %d page %lu at %p is not mapped read-write\n", i,
					p, (const void *)have);
				lost += HMM_PAGE;
				*compared += HMM_PAGE;
				continue;
			}
			memset(want, 0, sizeof(want));
			if (sl->device && sl->dev_expect[p])
				dev_page(want, sl->dev_expect[p], p);
			else if (!sl->device)
				memcpy(want, sl->expect[p], sizeof(sl->expect[p]));
			for (unsigned long b = 0; b < HMM_PAGE; b++)
				bad += have[b] != ((const uint8_t *)want)[b];
			if (bad)
				fprintf(stderr,
					"slot %d (%s) page %lu: %lu bytes differ; words 0-2 hold "
					"%llu %llu %llu, expected %llu %llu %llu\n",
					i, sl->device ? "device" : "CPU", p, bad,
					(unsigned long long)((const uint64_t *)have)[0],
					(unsigned long long)((const uint64_t *)have)[1],
					(unsigned long long)((const uint64_t *)have)[2],
					(unsigned long long)want[0], (unsigned long long)want[1],
					(unsigned long long)want[2]);
			lost += bad;
			*compared += HMM_PAGE;
		}
	}
	return lost;
}

static int env_int(const char *name, int dflt)
{
	const char *e = getenv(name);

	return e && *e ? atoi(e) : dflt;
}

static long duration_ms(void)
{
	const char *e = getenv("HETMEM_STRESS_MS");

	if (e && *e)
		return atol(e);
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
	return 1000;
#else
	return 3000;
#endif
}

static void test_mixed_stress(void **state)
{
	enum { NTHREADS = NWRITERS + 1 + 2 + 2 + 1 };
	struct stress *s = calloc(1, sizeof(*s));
	struct worker workers[NTHREADS];
	pthread_t threads[NTHREADS];
	long ms = duration_ms();
	struct timespec t = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	pthread_rwlockattr_t attr;
	unsigned long lost, compared;
	int n = 0;

	assert_non_null(s);
	s->f = *state;
	s->device_writer = env_int("HETMEM_STRESS_DEVICE_WRITES", 1) > 0;
	s->unmap = env_int("HETMEM_STRESS_UNMAP", 2);
	s->mremap = env_int("HETMEM_STRESS_MREMAP", 1) > 0;
	s->race = env_int("HETMEM_STRESS_RACE", 0) > 0;
	s->reuse = env_int("HETMEM_STRESS_REUSE", 1) > 0;
	pthread_rwlockattr_init(&attr);
	/* Writers come and go all the time: without this the remapper would starve. */
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	for (int i = 0; i < NSLOTS; i++) {
		pthread_rwlock_init(&s->slot[i].lock, &attr);
		s->slot[i].device = i % 3 == 2;
		s->slot[i].addr = (uintptr_t)new_mapping(SLOT_LEN, PROT_READ | PROT_WRITE);
		assert_true(s->slot[i].addr != 0);
	}
	pthread_rwlockattr_destroy(&attr);

	for (int k = 0; k < NWRITERS; k++, n++) {
		workers[n] = (struct worker){ s, k, 100u + (unsigned int)k };
		assert_int_equal(pthread_create(&threads[n], NULL, cpu_writer, &workers[n]), 0);
	}
	if (s->device_writer) {
		workers[n] = (struct worker){ s, 0, 200u };
		assert_int_equal(pthread_create(&threads[n], NULL, device_writer, &workers[n]), 0);
		n++;
	}
	for (int k = 0; k < 2; k++, n++) {
		workers[n] = (struct worker){ s, k, 300u + (unsigned int)k };
		assert_int_equal(pthread_create(&threads[n], NULL, migrator, &workers[n]), 0);
	}
	for (int k = 0; k < 2; k++, n++) {
		workers[n] = (struct worker){ s, k, 400u + (unsigned int)k };
		assert_int_equal(pthread_create(&threads[n], NULL, device_reader, &workers[n]), 0);
	}
	if (s->unmap || s->mremap) {
		workers[n] = (struct worker){ s, 0, 500u };
		assert_int_equal(pthread_create(&threads[n], NULL, remapper, &workers[n]), 0);
		n++;
	}

	nanosleep(&t, NULL);
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	for (int k = 0; k < n; k++)
		pthread_join(threads[k], NULL);

	/* Reading every byte brings what is on the devices home. */
	lost = bytes_lost(s, &compared);
	print_message("%ld ms: %lu CPU writes, %lu device writes (%lu bytes written); "
		      "%lu pages to devices, %lu home by migration; %lu checked and %lu blind "
		      "device reads; %lu slots moved (%lu refused), %lu replaced; %lu "
		      "operations found their range gone; %lu bytes compared, %lu lost\n",
		      ms, s->cpu_writes, s->dev_writes, s->bytes_written, s->to_dev, s->to_sys,
		      s->dev_reads, s->blind_reads, s->moves, s->refused, s->replaces, s->gone,
		      compared, lost);
	assert_int_equal(lost, 0);
	assert_int_equal(s->errors, 0);
	assert_true(s->cpu_writes > 0);
	if (s->device_writer)
		assert_true(s->dev_writes > 0);
	assert_true(s->to_dev > 0);
	if (s->unmap)
		assert_true(s->replaces > 0);
	if (s->mremap)
		assert_true(s->moves > 0);
	for (int i = 0; i < NSLOTS; i++) {
		munmap((void *)s->slot[i].addr, SLOT_LEN);
		pthread_rwlock_destroy(&s->slot[i].lock);
	}
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mixed_stress, hmm_fixture_setup,
						hmm_fixture_teardown),
	};

	hmm_require_uffd();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
