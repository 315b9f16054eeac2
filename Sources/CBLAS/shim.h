// OpenBLAS's CBLAS interface plus its configuration calls (openblas_get_config,
// openblas_set_num_threads). Debian: libopenblas-dev.
#include <cblas.h>
