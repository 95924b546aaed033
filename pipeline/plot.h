/* plot.h — results folders with gnuplot plots, shared by `longscan compare` and `longscan
 * bench models`: each plot is NAME.dat (one block of "x y" lines per series, blocks separated
 * by two blank lines, gnuplot's `index`) beside NAME.gp, and NAME.png when gnuplot is
 * installed. Without gnuplot the data and scripts are still written and a note says how to
 * draw them. Private to pipeline/. */
#ifndef LS_PLOT_H
#define LS_PLOT_H

#include <stddef.h>
#include <stdio.h>

#include "common/error.h"
#include "pipeline/cli.h"

/** How one plot looks. */
typedef struct {
    const char *name;   /* file stem: NAME.dat, NAME.gp, NAME.png */
    const char *title;
    const char *xlabel;
    const char *ylabel;
    int logx;           /* 1: log2 x axis */
    int logy;           /* 1: log10 y axis */
    double ymin, ymax;  /* ymin < ymax: fixed y range */
    const char *key;    /* gnuplot key position, e.g. "left top" */
} PlotSpec;

/** Open @p dir/@p name for writing as an OutputFile (written whole by cli_output_commit, or not
 *  at all). @return 0 or the error of cli_output_open. */
int plot_file_open(OutputFile *out, const char *dir, const char *name) LS_RESULT_USED;

/** mkdir -p @p path. @return 0 or LS_ERR_IO naming the folder that could not be made. */
int plot_mkdir_p(const char *path) LS_RESULT_USED;

/**
 * Write @p dir/NAME.gp plotting the @p n_series blocks of @p dir/NAME.dat (written by the
 * caller) titled @p labels, then draw NAME.png with gnuplot when it is installed: *plotted
 * counts the PNGs drawn; otherwise @p note (of @p note_size) says why none was and how to
 * draw it. @return 0, or LS_ERR_IO when the script cannot be written (a missing or failing
 * gnuplot is a note, not an error).
 */
int plot_write(const char *dir, const PlotSpec *spec, const char *const *labels, int n_series,
               int *plotted, char *note, size_t note_size) LS_RESULT_USED;

/** On stderr: which files a results folder @p dir got (@p table: its CSV's name) and how
 *  many plots were drawn, then @p note when there is one (plot_write's). */
void plot_say_written(const char *dir, const char *table, int plotted, const char *note);

#endif
