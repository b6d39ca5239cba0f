#include "seq_test.h"
#include "../seq_quant.h"

/* Integer grids: 0 exact, the ends of the range reachable, half-way values to even,
 * NaN and out-of-range values clamped, bad arguments refused. */
static void test_grid(void) {
    seq_quant_grid g;
    CHECK(seq_quant_grid_fit(&g, 4, 0, -1.0f, 2.0f) == SEQ_OK);
    CHECK(g.qmin == 0 && g.qmax == 15);
    CHECK(seq_quant_grid_dq(&g, seq_quant_grid_q(&g, 0.0f)) == 0.0f);
    CHECK_NEAR(seq_quant_grid_dq(&g, seq_quant_grid_q(&g, 2.0f)), 2.0f, 0.2f / 2);
    CHECK(seq_quant_grid_q(&g, 100.0f) == 15 && seq_quant_grid_q(&g, -100.0f) == 0);
    CHECK(seq_quant_grid_q(&g, NAN) == 0);
    CHECK(seq_quant_grid_fit(&g, 8, 1, -3.0f, 1.27f) == SEQ_OK);
    CHECK(g.qmin == -127 && g.qmax == 127 && g.zero == 0);
    CHECK(seq_quant_grid_q(&g, -3.0f) == -127);
    CHECK(seq_quant_grid_fit(&g, 3, 1, 0.0f, 4.0f) == SEQ_OK); /* scale 4/3 */
    CHECK(seq_quant_grid_q(&g, 2.0f) == 2);                     /* 1.5 rounds to even */
    CHECK(seq_quant_grid_fit(&g, 8, 1, 0.0f, 0.0f) == SEQ_OK && g.scale == 1.0f);
    CHECK(seq_quant_grid_fit(&g, 1, 1, 0.0f, 1.0f) == SEQ_ERR_INVALID);
    CHECK(seq_quant_grid_fit(&g, 4, 0, 2.0f, 1.0f) == SEQ_ERR_INVALID);
    CHECK(seq_quant_grid_fit(&g, 4, 0, 0.0f, INFINITY) == SEQ_ERR_INVALID);
    CHECK(strstr(seq_last_error(), "seq_quant_grid_fit") != NULL);
}

void seq_tests_quant_formats(void) { RUN(test_grid); }
