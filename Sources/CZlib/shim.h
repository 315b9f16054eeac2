// zlib, for reading .gz IDX files. Debian: zlib1g-dev.
#include <zlib.h>
