/* sx_host.h — pieces shared by the sx command-line tools: the server loop
 * and error reporting. */
#ifndef SX_HOST_H
#define SX_HOST_H

#include "sx_buf.h"
#include "sx_vm.h"

/* Run the sx_server line protocol on stdin/stdout until EOF. Returns the
 * process exit status. */
int sx_server_main(sx_vm *vm);

/* "message (at file:line:col)" for an error value, without the backtrace. */
void sx_host_format_error(sx_buf *b, sx_val err);

#endif
