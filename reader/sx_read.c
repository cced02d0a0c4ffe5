/* sx_read.c — (being written) */
#include "sx_value.h"
