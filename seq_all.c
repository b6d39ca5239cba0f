/* Every seq implementation in one object file, for build systems that want one. */
#define SEQ_IMPLEMENTATION
#include "seq.h"
