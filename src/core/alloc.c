/* alloc.c: the one allocation wrapper of the engine: aligned blocks, counters, and
 * failure injection for tests. Not a pool: it forwards to the C library. */
#include "loom.h"

#include <stdlib.h>
#include <string.h>

/* A header before each block remembers its size, so frees and reallocs keep the byte
 * count right, and where malloc's block starts; the payload is aligned to 64 bytes for
 * AVX-512 loads. The alignment is done by hand on a plain malloc: glibc reuses a freed
 * big malloc block for the next one, while big aligned_alloc blocks came fresh from the
 * kernel almost every time, and each of their pages faulted again when first written. */
#define LOOM_ALIGN 64

typedef union block_header {
    struct {
        size_t bytes;
        void *base; /* what malloc returned */
    } info;
    unsigned char pad[LOOM_ALIGN];
} block_header;

/* Counters are process-wide; loom runs Lua single-threaded and OpenBLAS threads never
 * allocate through this wrapper. */
static loom_alloc_stats stats;
static uint64_t fail_countdown;

void loom_alloc_fail_after(uint64_t countdown)
{
    fail_countdown = countdown;
}

loom_alloc_stats loom_alloc_get_stats(void)
{
    return stats;
}

static int injected_failure(void)
{
    if (fail_countdown == 0)
        return 0;
    return --fail_countdown == 0;
}

void *loom_malloc(size_t bytes)
{
    if (injected_failure() || bytes > SIZE_MAX - 2 * LOOM_ALIGN)
        return NULL;
    /* Header plus up to LOOM_ALIGN - 1 bytes of padding fit in the 2 * LOOM_ALIGN extra. */
    unsigned char *base = malloc(bytes + 2 * LOOM_ALIGN);
    if (!base)
        return NULL;
    uintptr_t payload = ((uintptr_t)base + sizeof(block_header) + LOOM_ALIGN - 1)
                        & ~(uintptr_t)(LOOM_ALIGN - 1);
    block_header *h = (block_header *)payload - 1;
    h->info.bytes = bytes;
    h->info.base = base;
    stats.allocations++;
    stats.live_blocks++;
    stats.live_bytes += (int64_t)bytes;
    return h + 1;
}

void *loom_calloc(size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    void *p = loom_malloc(count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

void loom_free(void *block)
{
    if (!block)
        return;
    block_header *h = (block_header *)block - 1;
    stats.frees++;
    stats.live_blocks--;
    stats.live_bytes -= (int64_t)h->info.bytes;
    free(h->info.base);
}

void *loom_realloc(void *block, size_t bytes)
{
    if (!block)
        return loom_malloc(bytes);
    block_header *old = (block_header *)block - 1;
    void *fresh = loom_malloc(bytes);
    if (!fresh)
        return NULL;
    memcpy(fresh, block, old->info.bytes < bytes ? old->info.bytes : bytes);
    loom_free(block);
    return fresh;
}
