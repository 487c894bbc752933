/*
 * state.h - the step engine's state by owning module: the sub-structs of
 * struct bpc_engine (core.h), one per module, with the constants that size
 * them.
 *
 * Owns: nothing at run time; the definitions only. Included by core.h
 * alone, after the element types (slots, generations, queued records) these
 * structs point to; a module includes core.h, never this header. Must
 * never: hold code, or be included outside core.h.
 */
#ifndef BPC_STATE_H
#define BPC_STATE_H

/* ------------------------------------------------------------------------
 * State, by owning module.
 * ---------------------------------------------------------------------- */

/* ballot.c: the party-wide ballot, its leader, deadlines, paced events. */
/* How far above the current ballot a 2a is taken early (instance.c), and
 * the ballots whose leaders are kept besides the current one's (bl.ahead). */
#define ENG_2A_AHEAD 4u
struct eng_ballot_state {
    uint64_t bal; /* current ballot */
    int leader;
    bool sent_1a;
    bool got_1a;
    uint32_t events;
    uint64_t round_start_ns;
    uint64_t deadline_ns;
    uint64_t retx_ns;
    uint32_t fails; /* failed ballots since the last decision: the deadline's doublings */
    bool idle;      /* the deadline last passed with no work, or none with company (eng_bl_work) */
    struct bpc_prng prng;
    uint64_t *peer_bal; /* highest ballot seen in any message of each party */
    struct bpc_ballot_w *bal_scratch;
    /* Weight of the parties known to be at bal or above (peer_bal), this
     * one included: kept as peer_bal rises, recounted when bal moves. */
    bpc_u128 w_at;
    bpc_u128 w_above;      /* weight of the parties seen above bal (peer_bal > bal) */
    uint64_t peer_bal_top; /* highest peer_bal of any other party */
    /* Per submitter, its command next in line watched for starvation
     * (eng_starved): the command (0: none), since when, and the
     * doublings of its period. */
    uint64_t *watch_q;
    uint64_t *watch_ns;
    uint8_t *watch_shift;
    uint64_t joined_ns; /* when this party joined bal (paced mode's watch) */
    /* Fast mode's watch counts from here too: when weight above F was
     * first known at bal (on joining it, or as the others came). */
    uint64_t company_ns;
    /* Leaders of ballots bal + 1 to bal + ENG_2A_AHEAD, each elected once
     * (eng_leader_of): entry k is ballot's when ballot is bal + 1 + k;
     * leader1 is the leader + 1, 0 for an empty entry. */
    struct {
        uint64_t ballot;
        int32_t leader1;
    } ahead[ENG_2A_AHEAD];
};

/* outbox.c: shorter runs of votes go one by one: hashing a run costs
 * about what it saves on tags below this length (bench/RESULTS.md). */
#define ENG_RUN_MIN 8u

/* runs.c: digests of VOTES runs over this party's own 2a values; an
 * entry is used only when its ballot, first instance, length and all k
 * value ids are the ones asked for. */
#define ENG_RUN_CACHE 8u
struct eng_run_cache {
    uint8_t used; /* 0: empty */
    uint32_t k;
    uint64_t ballot;
    uint64_t first;
    uint8_t digest[BPC_DIGEST_BYTES];
    struct bpc_vid vids[BPC_VOTES_RUN_MAX];
};

/* runs.c: a VOTES run that arrived before a 2a it needs. */
#define ENG_RUN_WAIT 16u
#define ENG_RUN_WAIT_PER_SENDER 4u
/* Runs of a sender that may mismatch after a digest was computed for them
 * (counted at its highest such ballot); then its runs at or below that
 * ballot are checked only against digests already held, else dropped
 * unhashed (votes_barred): see runs.c, eng_votes_barred. */
#define ENG_RUN_MISMATCH_MAX 4u
struct eng_run_wait {
    uint32_t p;
    bool used;
    struct bpc_record r;
};

/* instance.c: transitions that span instances. */
struct eng_instance_state {
    uint64_t next_prop; /* leader: next instance to consider */
    /* The leader's last pick that found no value safe, or a value
     * (nopick_vid) it may lack the bytes of (nopick_instance at
     * nopick_ballot, its view as of ty.view_epoch): not judged again until
     * that view changes or a tick passes (eng_pick_value). */
    uint64_t nopick_instance, nopick_ballot, nopick_epoch;
    struct bpc_vid nopick_vid; /* kind NONE: no value safe */
    bool nopick_valid;
    bool recheck;      /* a 1b arrived or an event fired: re-check pending 2a */
    bool voted_at_bal; /* a 2av or 2b at bal left: 1b(bal) can no longer be rebuilt */
    /* The step's 2b votes on decided instances, sent after its 2av votes
     * on them (eng_vote_decided_2b) so each kind forms runs. */
    uint32_t vouch_2b_count;
    struct eng_vouch_2b {
        uint64_t instance, ballot;
        struct bpc_vid vid;
    } vouch_2b[ENG_VOUCH_MAX];
};

/* held.c (the instance module's): the held 2a values at hd.bal, so that
 * a re-check looks at them only (docs/ENGINE.md, "Held 2a values"). */
enum eng_held {
    ENG_HELD_NONE,  /* not held (no 2a at bal, voted, or not examined yet) */
    ENG_HELD_SAFE,  /* KnowsSafeAt does not hold yet: waits for 1b messages */
    ENG_HELD_AUTH,  /* safe by case (a), a command not proven: waits for a MAC
                       (or a view in which a weak quorum vouches for it) */
    ENG_HELD_VALUE, /* malformed, or the application refuses it */
};
struct eng_held_state {
    uint64_t *bits;    /* W / 64 words: bit k, slot k's 2a is held */
    uint32_t count;    /* bits set */
    uint64_t bal;      /* the ballot the bits are for (another: walk the window) */
    uint64_t range_lo; /* range 1b messages at bal changed the views of */
    uint64_t range_hi; /* [range_lo, range_hi) (empty: none) */
    uint32_t epoch;    /* bumped when every held value's notes are void */
    bool full, parked; /* parked: a slot waits for nu; full: the next re-check walks the window */
    uint64_t walk_lo;  /* ... else walks [walk_lo, walk_hi), the instances */
    uint64_t walk_hi;  /* that entered its range (empty: none) */
    bool stale_view;   /* a view changed that no re-check looked at ... */
    bool stale_auth;   /* ... or a proof, of a value held for one */
    uint64_t nu_seen;  /* nu when eng_held_nu last looked */
    bool auth_any;     /* some held value waits for a proof (recomputed by re-checks) */
    bool cmds_due;     /* commands applied or own ones submitted since the last tick */
    bool asked;        /* a change a held value waits for asked for the re-check */
    bool saw_1b;       /* a 1b at bal came since the last re-check ... */
    bool saw_mac;      /* ... an ATTEST or FORWARD */
    uint32_t stop_sub; /* the command the last failed command check */
    uint64_t stop_seq; /* stopped at (submitter UINT32_MAX: an own */
    bool stop_set;     /* one, or none), for the ENG_HELD_AUTH note next */
    bool stop_own;     /* it was an own command */
    uint32_t marks[ENG_HELD_MARKS]; /* held slots a 1b at bal named since the last re-check */
    uint32_t nmarks; /* ENG_HELD_MARKS + 1: more (the re-check looks at every held slot) */
    bool visit_all;  /* ... as for a MAC a held value waits for */
    uint64_t looked; /* held slots re-checks looked at (tests read it) */
};

/* runs.c: runs of votes. */
struct eng_runs_state {
    struct eng_run_cache *cache;   /* ENG_RUN_CACHE digests of runs (layout: vote_runs) */
    struct eng_run_wait *wait;     /* ENG_RUN_WAIT runs waiting for a 2a (same region) */
    uint8_t tmp[BPC_DIGEST_BYTES]; /* a digest when there is no cache */
    uint32_t waiting;              /* entries of wait in use */
    uint64_t *bad_bal;             /* n: the ballot of the sender's last mismatched run */
    uint32_t *bad;                 /* n: its mismatched runs at that ballot */
    bool fresh_2a;                 /* a 2a value arrived since the last re-check */
    uint64_t retry_bal, retry_nu;  /* ballot and nu at the last re-check */
};

/* report.c: what this party's 1b messages at bal covered. */
struct eng_report_state {
    bool sent_1b;
    uint64_t sent_1b_lo; /* lowest instance this party's 1b at bal covers */
    uint64_t sent_1b_hi; /* ... and the end of its explicit reports (the range record's start) */
    uint64_t values_lo;  /* VALUE records resent after voting cover [values_lo, sent_1b_hi) */
    uint64_t held_lo;    /* lowest decided instance a lagging leader asked about */
    uint64_t asked_lo;   /* lowest instance the leader's 1a at bal named (UINT64_MAX: none) */
    uint64_t held_next;  /* held reports: the next instance the pass reports */
    uint64_t held_end;   /* ... and where it ends (held_next >= held_end: no pass) */
    bool pass_asked;     /* the leader's 1a at bal came since the last pass began */
    uint32_t pass_gap;   /* retransmit ticks the next pass waits once one ended (doubles) */
    uint32_t pass_wait;  /* ... and those it waited so far */
};

/* A sender's 1b range start and the weight of the ranges before it. */
struct eng_cover {
    uint64_t from, weight;
    bpc_u128 below;
};

/* tally.c and claims.c: sender sets, the claim pool, range coverage (the
 * pool's element types are claims.c's, in tally.h). */
struct eng_claim;
struct eng_name;
struct eng_tally_state {
    uint64_t *bits; /* per slot: ENG_GENS * SEEN_PER_GEN + 1 bitsets */
    struct eng_claim *claims;
    uint32_t claims_cap;
    uint32_t claims_free;  /* free list head (entry + 1; 0: empty) */
    uint32_t claims_fresh; /* entries ever taken: the rest were never written */
    /* The names index (claims.c): chain heads (entry + 1), picked by
     * the top bits (names_shift) of a sum of the name's 32-bit words times
     * names_mul; entries from a free list, else the never-used rest in
     * order; names_visits counts the entries its look-ups pass. */
    uint32_t *names, names_mask, names_shift, names_free, names_fresh;
    uint64_t names_mul[10]; /* the id's eight 32-bit halves, slot-generation-length, sum */
    struct eng_name *name_pool;
    uint64_t names_visits;
    /* Changes of the 1b view of instance view_watch at the current
     * ballot (a report taken or dropped, a range moved over it) and joins:
     * the leader's pick memo reads it (eng_pick_value). */
    uint64_t view_epoch, view_watch;
    /* The 1b ranges at ballot cover_bal by start and weight, with the
     * weight below each (cover_count entries and a last one, the total),
     * kept as ranges at bal move (eng_cover_move), rebuilt when cover_ok
     * is false: a view's range term by a binary search (tally.c). */
    struct eng_cover *cover;
    uint32_t cover_count;
    uint64_t cover_bal;
    bool cover_ok;
    struct bpc_1b_report *scratch;    /* n reports */
    struct bpc_ballot_w *clean_w;     /* n: the view's clean floor claims */
    struct bpc_safe_cand *safe_cands; /* BPC_HISTORY_MAX x n: the leader's pick */
    struct bpc_safe_low *safe_low;    /* n + 1: the leader's pick */
    uint32_t *held;                   /* n: claim pool entries each sender holds */
    /* 2n: each sender's newest entry + 1 (0: none), then the tournament
     * of the senders' shares (claims.c, eng_claim_tree). */
    uint32_t *claims_by;
    uint32_t claims_used; /* entries taken and not given back */
    /* The tournament is valid: the eviction rule reads its root, the
     * sender holding the most entries per unit of weight (claims.c,
     * eng_claim_top). */
    bool top_ok;
    uint64_t *range_bal;
    uint64_t *range_from;
    uint64_t claims_hi; /* one past the highest instance 1b reports of votes at bal weigh > F */
};

/* window.c: slots, their value buffers, the recent-decision ring. */
struct eng_window_state {
    uint64_t nu; /* next instance to emit (all below are decided) */
    struct eng_slot *slots;
    uint8_t *values;       /* per slot: ENG_VALUE_BUFS value buffers */
    struct eng_dec *dring; /* recent decisions by instance modulo dring_len */
    uint32_t dring_len;
    uint8_t *dring_bytes; /* DIGEST bytes of recent decisions (vbytes each) */
};

/* outbox.c: broadcast ring, unicast list, self queue, flush rounds. */
struct eng_outbox_state {
    struct eng_out *bq;
    uint32_t bq_cap;
    uint32_t bq_head;
    uint32_t bq_count;
    uint32_t bq_round; /* records of the round being flushed */
    uint32_t flush_peer;
    uint32_t flush_k; /* where flush_peer's round stopped: broadcast index */
    uint32_t flush_u; /* ... and unicast index */
    struct eng_out *uq;
    uint32_t uq_cap;
    uint32_t uq_count;
    uint32_t uq_round;  /* unicasts of the round being flushed */
    uint32_t *uq_first; /* n: the round's first unicast for each peer (UINT32_MAX: none) */
    uint32_t uq_peers[ENG_UQ_FEW]; /* a round without broadcasts: its unicasts' peers, ascending */
    uint32_t uq_few;               /* ENG_UQ_FEW + 1: more, or broadcasts (every peer flushed) */
    uint64_t peer_flushes;         /* eng_flush_peer calls (tests read it) */
    bool flush_mid;                /* flush_k and flush_u hold where flush_peer stopped */
    bool round_open;               /* a flush round is under way (it can span steps) */
    uint64_t rounds_done;          /* flush rounds completed (catch-up answer budgets) */
    uint64_t tx_seq_max;           /* the highest frame sequence number used */
    bool small_buf;                /* this flush met a lent tx buffer below the minimum */
    uint32_t frame_min;            /* bpc_frame_bytes_min(value_bytes_max), set at start */
    struct eng_out *selfq;
    uint32_t selfq_cap;
    uint32_t selfq_count;
    uint64_t *tx_seq;
    /* Frames of this step's flush that hold only broadcast records, as the
     * first peer to need them got them: a later peer's frame over the same
     * records is that frame re-addressed (eng_flush_peer). */
    struct eng_tmpl {
        const uint8_t *bytes; /* the frame (a lent tx buffer of this step) */
        uint32_t len;
        uint32_t cap;     /* the writer's capacity it was packed under */
        uint32_t k_start; /* broadcast records [k_start, k_end) */
        uint32_t k_end;
    } tmpl[ENG_TMPL_MAX];
    uint32_t tmpl_count;
};

#define ENG_TICKET_SUBMITTED (UINT64_C(1) << 62)
#define ENG_TICKET_RESTORING (UINT64_C(1) << 63)
#define ENG_TICKET_INC_MASK (ENG_TICKET_SUBMITTED - 1u)

/* submit.c: commands. The submit ring is the only structure other threads
 * touch (bounded MPMC ring in the style of D. Vyukov's queue; one consumer). */
struct eng_submit_state {
    struct eng_cell *ring;
    _Atomic uint64_t ring_tail;
    /* 1 + the incarnation this run's commands are sequenced in (the
     * restored one, plus one when the restart bumps it at start), with
     * ENG_TICKET_SUBMITTED once a command was submitted and
     * ENG_TICKET_RESTORING while a restore runs: set by init and restore,
     * read and marked by bpc_submit in one atomic step for its ticket. */
    _Atomic uint64_t ticket_inc1;
    /* bpc_submit's -EAGAIN refusals (a full ring), counted by the threads
     * that submit; the engine's thread copies it into its counters at
     * each step (eng_ring_drain). Before (review E1), nothing counted
     * them and the counter submit_eagain stayed 0. */
    _Atomic uint64_t eagain;
    uint64_t ring_head;
    uint32_t cmd_mask;   /* commands_max - 1, for ring, own and lq */
    uint32_t cmd_stride; /* bytes per command buffer (cmd_max rounded up to 8) */
    uint32_t cmd_max;    /* longest command a value can hold (bpc_command_bytes_max) */
    uint8_t *ring_bytes;
    /* Own commands not yet applied, in sequence order. */
    struct eng_cmd *own;
    uint8_t *own_bytes;
    uint64_t own_head;
    uint64_t own_tail;
    uint64_t own_sent; /* next own command to forward to the leader */
    _Atomic uint64_t applied_own;
    /* 1 + the last own command applied before the first one of
     * applied_own's incarnation, once this run saw that jump (0: unknown):
     * what bpc_ticket_status knows of the incarnation before. */
    _Atomic uint64_t applied_own_prev1;
    /* Leader: commands waiting for a value. */
    struct eng_cmd *lq;
    uint8_t *lq_bytes;
    uint64_t lq_head;
    uint64_t lq_tail;
    uint32_t lq_solo; /* the one submitter of every queued entry, or UINT32_MAX */
    uint32_t lq_turn; /* the submitter whose command started the last value */
    /* Each submitter's queued entries, chained in queue (so sequence)
     * order: lq_next per entry, and per submitter its oldest untaken
     * entry, its newest and how many are untaken (leaderq.c). */
    uint64_t *lq_next;
    uint64_t *lq_first;
    uint64_t *lq_last;
    uint32_t *lq_count;
    uint64_t *applied_hi;    /* per submitter: last applied sequence number */
    uint64_t *queued_hi;     /* per submitter: last queued at this leader */
    uint32_t *applied_dirty; /* submitters whose applied_hi changed since the
                                last durable batch */
    uint32_t applied_dirty_count;
    uint8_t *applied_listed;
    uint64_t queued_bal;
    struct eng_hold *hold; /* per submitter: refusals and holds (leaderq.c) */
    uint8_t *strikes;      /* per submitter: holds without a long pause between */
    uint64_t hold_any;     /* no submitter is held from this time on */
    uint64_t alone_any;    /* no submitter is kept alone from this time on */
    uint8_t *batch_buf;    /* value_bytes_max: encode scratch */
    struct eng_att *att;   /* per submitter: att_slots MACs by sequence number */
    uint32_t att_slots;    /* power of two: own commands forwarded ahead of the
                              oldest unapplied one, at most */
    uint64_t *witness;     /* per submitter: a forwarded command next in line */
};

/* catchup.c: pipelined catch-up requests. */
struct eng_catchup_state {
    bool catching_up;      /* decisions learned from DECIDED this step: ask for more */
    uint64_t cu_req_nu;    /* nu when the last pipelined catch-up request left */
    uint64_t asked_hi;     /* one past the last instance asked for */
    uint32_t bytes_from;   /* the last peer the last pipelined request asked for bytes */
    uint64_t *answer_step; /* n: flush rounds done + 1 at each peer's last DECIDED answer */
    uint32_t *answered;    /* n: DECIDED answers to the peer since that round */
    uint64_t *answer_tat;  /* n: when the peer's paced answers are all used (ns) */
    uint64_t answer_win;   /* flush rounds done + 1 when the window below began */
    uint32_t win_total;    /* answers to all peers in the window */
    uint32_t win_shared;   /* the sum over peers of min(answered, share) */
};

/* persist.c: durable party-wide facts and the records to persist. */
struct eng_persist_state {
    uint64_t max_bal; /* durable: never lowered */
    bool max_bal_dirty;
    uint64_t incarnation; /* this run's: its frame and command numbers start
                             at incarnation << ENG_SEQ_BITS */
    /* The incarnation records carry: at least that of every sequence
     * number used (a number may run past 2^40 into the next incarnation's
     * range; a restart starts above what records carry). inc_out: what
     * the last batch carried; inc_durable: what a confirmed batch carried
     * (no number above its range is used); seq_watch: numbers below it
     * need no look (eng_seq_room). */
    uint64_t inc_rec, inc_out, inc_durable, seq_watch;
    bool persist_pending;
    struct bpc_durable *dur;
    uint32_t dur_cap;
    struct bpc_durable *vouch; /* votes on decided instances whose slots are
                                  gone (eng_vote_decided), to persist */
    uint32_t vouch_count;
    struct bpc_durable_value *vals; /* the bytes of DIGEST values the batch's
                                       vote records name, to persist */
    uint32_t vals_cap;
    uint32_t *dirty;
    uint32_t dirty_count;
    bool floor_due;     /* the floor moved without a vote to carry it (claims
                           learned, or an idle tick): persist a batch */
    uint64_t floor_out; /* the floor the last batch carried (or restored) */
};

/* admit.c: frame admission. */
struct eng_rx_state {
    uint64_t *replay;        /* per sender, side by side (one cache miss per
                                frame, not two): the highest sequence number
                                seen, then replay_bits / 64 bitmap words */
    uint32_t replay_stride;  /* u64 words per sender: 1 + replay_bits / 64 */
    uint32_t replay_bits;    /* a power of two, 64..ENG_REPLAY_BITS */
    struct bpc_record *recs; /* decode scratch */
    uint32_t recs_cap;
};

#endif /* BPC_STATE_H */
