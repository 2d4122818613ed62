/* status.c: text for loom_status codes. Not error handling policy: callers decide. */
#include "loom.h"

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
