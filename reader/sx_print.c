/* sx_print.c — (being written) */
#include "sx_value.h"
