/* status.c: text for loom_status codes, and the one status-with-message helper. Not error
 * handling policy: callers decide. */
#include "loom.h"

#include <stdio.h>

#include "kernel.h"

const char *loom_strerror(loom_status status)
{
    switch (status) {
    case LOOM_OK: return "no error";
    case LOOM_EDIM: return "shapes do not match";
    case LOOM_ENOMEM: return "not enough memory";
    case LOOM_ESINGULAR: return "matrix is singular";
    case LOOM_ENOTPD: return "matrix is not positive definite";
    case LOOM_EARG: return "argument out of range";
    case LOOM_ERANGE: return "size exceeds the BLAS integer range";
    case LOOM_EIO: return "input/output error";
    case LOOM_EFORMAT: return "malformed input";
    case LOOM_ENOCONV: return "iteration did not converge";
    case LOOM_ELAPACK: return "LAPACK rejected an argument (internal error)";
    }
    return "unknown status";
}

loom_status loom_failv(char *error, size_t size, loom_status st, const char *fmt, va_list ap)
{
    if (error && size > 0)
        vsnprintf(error, size, fmt, ap);
    return st;
}

loom_status loom_fail(char *error, size_t size, loom_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    loom_failv(error, size, st, fmt, ap);
    va_end(ap);
    return st;
}
