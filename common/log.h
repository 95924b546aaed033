/*
 * log.h — leveled logging to stderr, with the calling function's name.
 *
 * The level is set once by the CLI from --verbosity (0 errors only .. 4 debug); library code
 * logs through the macros and never prints to stdout.
 */
#ifndef LS_LOG_H
#define LS_LOG_H

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    LOG_LEVEL_ERROR = 0,
    LOG_LEVEL_WARN  = 1,
    LOG_LEVEL_INFO  = 2,
    LOG_LEVEL_DEBUG = 3,
} LogLevel;

void     ls_log_set_level(LogLevel level);
LogLevel ls_log_get_level(void);
void     ls_log_write(LogLevel level, const char *func, const char *fmt, ...) LS_PRINTF(3, 4);

#define ls_log_error(...) ls_log_write(LOG_LEVEL_ERROR, __func__, __VA_ARGS__)
#define ls_log_warn(...)  ls_log_write(LOG_LEVEL_WARN,  __func__, __VA_ARGS__)
#define ls_log_info(...)  ls_log_write(LOG_LEVEL_INFO,  __func__, __VA_ARGS__)
#define ls_log_debug(...) ls_log_write(LOG_LEVEL_DEBUG, __func__, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
