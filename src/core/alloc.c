/* alloc.c: the one allocation wrapper of the engine: aligned blocks, counters, and
 * failure injection for tests. Not a pool: it forwards to the C library. */
#include "loom.h"

#include <stdlib.h>
#include <string.h>

/* A header before each block remembers its size, so frees and reallocs keep the byte
 * count right; 64 bytes keep the payload aligned for AVX-512 loads. */
#define LOOM_ALIGN 64

typedef union block_header {
    size_t bytes;
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
    if (injected_failure() || bytes > SIZE_MAX - LOOM_ALIGN)
        return NULL;
    block_header *h = aligned_alloc(LOOM_ALIGN, (sizeof *h + bytes + LOOM_ALIGN - 1) / LOOM_ALIGN * LOOM_ALIGN);
    if (!h)
        return NULL;
    h->bytes = bytes;
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
    stats.live_bytes -= (int64_t)h->bytes;
    free(h);
}

void *loom_realloc(void *block, size_t bytes)
{
    if (!block)
        return loom_malloc(bytes);
    block_header *old = (block_header *)block - 1;
    void *fresh = loom_malloc(bytes);
    if (!fresh)
        return NULL;
    memcpy(fresh, block, old->bytes < bytes ? old->bytes : bytes);
    loom_free(block);
    return fresh;
}
