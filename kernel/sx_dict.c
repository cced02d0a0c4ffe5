/* sx_dict.c — (being written) */
#include "sx_dict.h"
