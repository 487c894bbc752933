/* safe.c: placeholder until written. */
#include "bpcon.h"
