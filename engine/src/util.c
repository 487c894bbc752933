/* util.c: placeholder until written. */
#include "bpcon.h"
