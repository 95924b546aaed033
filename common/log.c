/* log.c — see log.h. Warnings and errors always reach stderr; info/debug only when asked. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>

static LogLevel log_level = LOG_LEVEL_WARN;

void ls_log_set_level(LogLevel level) { log_level = level; }
LogLevel ls_log_get_level(void) { return log_level; }

void ls_log_write(LogLevel level, const char *func, const char *fmt, ...) {
    static const char *const names[] = {"error", "warning", "info", "debug"};
    if (level > log_level) return;
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    if (level >= LOG_LEVEL_DEBUG) fprintf(stderr, "[%s] %s: ", names[level], func);
    else fprintf(stderr, "[%s] ", names[level]);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}
