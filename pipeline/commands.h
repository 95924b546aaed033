/* commands.h — one entry point per subcommand, int main_<sub>(argc, argv), argv[0] = "<sub>". */
#ifndef LS_COMMANDS_H
#define LS_COMMANDS_H

int main_info(int argc, char **argv);
int main_train(int argc, char **argv);
/** `longscan resume MODEL [options]` = `longscan train --resume MODEL [options]`. */
int main_resume(int argc, char **argv);
int main_eval(int argc, char **argv);
int main_predict(int argc, char **argv);
int main_embed(int argc, char **argv);
int main_score(int argc, char **argv);
int main_generate(int argc, char **argv);
int main_bench(int argc, char **argv);
/** `longscan export -m MODEL -o OUT`: a transformers directory, or a longscan file (export.c). */
int main_export(int argc, char **argv);
/** `longscan compare`: a grid of experiments within --minutes (compare.c). */
int main_compare(int argc, char **argv);

/**
 * Shared body of a subcommand whose issue has not landed: `--help` prints @p help and exits 0;
 * anything else prints one line saying which issue brings it and returns 2.
 */
int command_not_ready(const char *sub, const char *help, const char *issue, int argc,
                      char **argv);

#endif
