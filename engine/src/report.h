/*
 * report.h - this party's 1b reports (report.c): what a 1b(b) says about
 * each instance, by where the party's knowledge of it lives.
 */
#ifndef BPC_REPORT_H
#define BPC_REPORT_H

#include "core.h"

static inline bool
eng_sent_1b(const struct bpc_engine *e)
{
    return e->rp.sent_1b;
}

/* Lowest decided instance a lagging leader asked about (re-checks start
 * there). */
static inline uint64_t
eng_held_lo(const struct bpc_engine *e)
{
    return e->rp.held_lo;
}

/* Highest instance in the window this party voted on or decided,
 * UINT64_MAX when none. */
ENG_FN uint64_t eng_voted_hi(const struct bpc_engine *e);
/* 1b(bal) for every instance from nu up. */
ENG_FN void eng_send_1b(struct bpc_engine *e);
/* 1b(bal) for the decided instances in [lo, covered) a lagging leader
 * starting at lo needs. */
ENG_FN void eng_send_1b_held(struct bpc_engine *e, uint64_t lo);
/* Retransmit tick: the 1b again while no vote at bal has left. */
ENG_FN void eng_rp_retransmit(struct bpc_engine *e);
ENG_FN void eng_rp_on_join(struct bpc_engine *e);
ENG_FN void eng_rp_resume(struct bpc_engine *e);

#endif /* BPC_REPORT_H */
