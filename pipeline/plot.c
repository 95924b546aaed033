/*
 * plot.c — gnuplot scripts beside their data and PNGs when gnuplot is there (plot.h).
 * Shared by compare.c and bench_models.c; tested through their tables in tests/cli
 * (compare.tst, bench_models.tst), with and without gnuplot on PATH.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pipeline/plot.h"

int plot_file_open(OutputFile *out, const char *dir, const char *name) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return cli_output_open(out, path);
}

int plot_mkdir_p(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return ls_error(LS_ERR_IO, "%s: cannot create: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return ls_error(LS_ERR_IO, "%s: cannot create: %s", buf, strerror(errno));
    struct stat st;
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
        return ls_error(LS_ERR_IO, "%s: not a directory", buf);
    return 0;
}

/* @p text as a gnuplot single-quoted string: a quote inside is written twice. */
static void plot_quoted(FILE *f, const char *text) {
    fputc('\'', f);
    for (const char *c = text; *c; c++) {
        if (*c == '\'') fputc('\'', f);
        fputc(*c, f);
    }
    fputc('\'', f);
}

int plot_write(const char *dir, const PlotSpec *spec, const char *const *labels, int n_series,
               int *plotted, char *note, size_t note_size) {
    if (n_series == 0) return 0;
    char gp[4200];
    snprintf(gp, sizeof gp, "%s/%s.gp", dir, spec->name);
    FILE *f = fopen(gp, "w");
    if (!f) return ls_error(LS_ERR_IO, "%s: cannot create: %s", gp, strerror(errno));
    // pngcairo draws better; plain png is what a gnuplot without cairo has
    fprintf(f, "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
               "    set terminal pngcairo size 800,500\n} else {\n"
               "    set terminal png size 800,500\n}\n"
               "set output '%s.png'\nset title ", spec->name);
    plot_quoted(f, spec->title);
    fputs("\nset xlabel ", f);
    plot_quoted(f, spec->xlabel);
    fputs("\nset ylabel ", f);
    plot_quoted(f, spec->ylabel);
    fprintf(f, "\nset key %s\nset grid\n", spec->key ? spec->key : "left bottom");
    if (spec->logx) fputs("set logscale x 2\n", f);
    if (spec->logy) fputs("set logscale y 10\n", f);
    if (spec->ymin < spec->ymax) fprintf(f, "set yrange [%g:%g]\n", spec->ymin, spec->ymax);
    fputs("plot ", f);
    for (int s = 0; s < n_series; s++) {
        fprintf(f, "%s'%s.dat' index %d with linespoints title ", s ? ", " : "", spec->name, s);
        plot_quoted(f, labels[s]);
    }
    fputs("\n", f);
    if (fclose(f) != 0) return ls_error(LS_ERR_IO, "%s: cannot write: %s", gp, strerror(errno));
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        snprintf(note, note_size, "gnuplot is not installed: plots not drawn (their data and "
                 "scripts are in %s; install gnuplot, e.g. apt-get install gnuplot-nox, "
                 "and run 'gnuplot NAME.gp' there)", dir);
        return 0;
    }
    char cmd[8600];
    snprintf(cmd, sizeof cmd, "cd '%s' && gnuplot '%s.gp' 2>/dev/null", dir, spec->name);
    if (system(cmd) != 0) {
        snprintf(note, note_size, "gnuplot failed on %s (no png written)", gp);
        return 0;
    }
    (*plotted)++;
    return 0;
}

void plot_say_written(const char *dir, const char *table, int plotted, const char *note) {
    fprintf(stderr, "wrote %s/%s, %s/report.md and %d plot%s in %s/plots\n", dir, table, dir,
            plotted, plotted == 1 ? "" : "s", dir);
    if (note && *note) fprintf(stderr, "%s\n", note);
}
