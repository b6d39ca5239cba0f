/* svg_plot.h — a dependency-free line plot written as SVG, for the examples' learning
 * curves and regret plots. Include it in one example; everything is static.
 *
 *     svg_series s[2] = {{"thompson", x, y1, n}, {"50/50 split", x, y2, n}};
 *     svg_plot_write("regret.svg", "Cumulative regret", "round", "regret", s, 2);
 */
#ifndef SVG_PLOT_H
#define SVG_PLOT_H
#include <math.h>
#include <stdio.h>

typedef struct svg_series {
    const char *name;
    const double *x, *y;
    int n;
} svg_series;

/* 0 on success, -1 when the file cannot be written or there is nothing finite to plot. */
static int svg_plot_write(const char *path, const char *title, const char *xlabel, const char *ylabel,
                          const svg_series *s, int ns) {
    static const char *colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};
    const double W = 640, H = 400, L = 70, R = 20, T = 40, Bm = 50; /* canvas and margins */
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    FILE *f;
    int i, j, k;
    for (i = 0; i < ns; i++)
        for (j = 0; j < s[i].n; j++) {
            if (!isfinite(s[i].x[j]) || !isfinite(s[i].y[j])) continue;
            x0 = fmin(x0, s[i].x[j]), x1 = fmax(x1, s[i].x[j]);
            y0 = fmin(y0, s[i].y[j]), y1 = fmax(y1, s[i].y[j]);
        }
    if (!(x0 <= x1)) return -1;
    if (x1 == x0) x1 = x0 + 1;
    if (y1 == y0) y1 = y0 + 1;
    if (!(f = fopen(path, "w"))) return -1;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" font-family=\"sans-serif\" "
               "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W, H);
    fprintf(f, "<text x=\"%g\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">%s</text>\n", W / 2, title);
    fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">%s</text>\n", L + (W - L - R) / 2, H - 12, xlabel);
    fprintf(f, "<text transform=\"translate(16 %g) rotate(-90)\" text-anchor=\"middle\">%s</text>\n",
            T + (H - T - Bm) / 2, ylabel);
    for (k = 0; k <= 4; k++) { /* axes ticks: five evenly spaced labels per axis */
        double fx = L + k * (W - L - R) / 4, fy = H - Bm - k * (H - T - Bm) / 4;
        fprintf(f, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"#ddd\"/>\n", L, fy, W - R, fy);
        fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">%.4g</text>\n", fx, H - Bm + 16,
                x0 + k * (x1 - x0) / 4);
        fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"end\">%.4g</text>\n", L - 6, fy + 4, y0 + k * (y1 - y0) / 4);
    }
    fprintf(f, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"black\"/>\n", L, T,
            W - L - R, H - T - Bm);
    for (i = 0; i < ns; i++) {
        const char *c = colors[i % 6];
        int pen = 0; /* a non-finite point breaks the line instead of ending the plot */
        fprintf(f, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" d=\"", c);
        for (j = 0; j < s[i].n; j++) {
            if (!isfinite(s[i].x[j]) || !isfinite(s[i].y[j])) {
                pen = 0;
                continue;
            }
            fprintf(f, "%c%.1f %.1f ", pen ? 'L' : 'M', L + (s[i].x[j] - x0) / (x1 - x0) * (W - L - R),
                    H - Bm - (s[i].y[j] - y0) / (y1 - y0) * (H - T - Bm));
            pen = 1;
        }
        fprintf(f, "\"/>\n<text x=\"%g\" y=\"%g\" fill=\"%s\">%s</text>\n", L + 10, T + 16 + 15 * i, c, s[i].name);
    }
    fprintf(f, "</svg>\n");
    return fclose(f) == 0 ? 0 : -1;
}
#endif
