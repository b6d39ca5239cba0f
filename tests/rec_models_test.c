#include "seq_test.h"
#include "../seq_rec.h"

void seq_tests_rec_models(void) {}
