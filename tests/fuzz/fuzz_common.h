/*
 * fuzz_common.h - what the fuzz targets share with the corpus generator
 * (make_corpus.c): the wire target's key and the layout of an engine-fuzz
 * script, so that the committed seeds stay in step with the targets.
 *
 * Owns: the engine script format (docs/FUZZ.md describes it in prose).
 * Byte 0 picks the cluster set-up (FZ_CFG_*). Every later op is one byte:
 * its low 4 bits name the op (enum fz_op), its high 4 bits are the op's
 * parameter; some ops read more bytes, always a number fixed by the bytes
 * themselves (never by engine state), so one script means one run. A script
 * that runs out reads zeros and ends at the next op.
 *
 * Record spec (FZ_OP_FORGE, per record): type byte (fz_rec_types[(t & 0x7f)
 * % FZ_REC_TYPES]; bit 7 set: a FORWARD/ATTEST keeps the selected instance
 * instead of its command's sequence number), instance selector, ballot
 * selector, aux selector (0xff: 8 raw aux bytes follow), then for 1B a
 * value spec and (aux >> 5) history entries of (aux byte, value spec), for
 * 2A/2AV/2B/DECIDED/VALUE a value spec (a VALUE that names no DIGEST value
 * carries a fixed 40-byte pattern), for FORWARD/ATTEST a command spec.
 * Nothing more for 1A, 1B_RANGE and STATUS.
 *
 * Value spec: one selector byte (low 3 bits enum fz_val, high 5 bits its
 * argument) and, per kind, more bytes: BATCH: per command a command spec
 * (count 1 + arg % 4); INLINE: a fill byte; DIGEST: a length byte and a fill
 * byte. Command spec: a submitter byte (party = b & 3, mode = b >> 2), then
 * for the Byzantine party a byte (seq mode = low 3 bits, length index next
 * 3 bits, 8 raw seq bytes when the seq mode is FZ_SEQ_RAW) and a fill byte;
 * for an honest party a submission index byte and a fill byte.
 */
#ifndef BPC_FUZZ_COMMON_H
#define BPC_FUZZ_COMMON_H

#include <stdint.h>

#include "bpcon.h"

/* Key of every frame fuzz_wire checks and make_corpus writes. */
static const uint8_t fuzz_wire_key[BPC_KEY_BYTES] = {
    0x62, 0x70, 0x63, 0x6f, 0x6e, 0x2d, 0x66, 0x75, 0x7a, 0x7a, 0x2d, 0x77, 0x69, 0x72, 0x65, 0x00,
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
};

/* Byte 0 of an engine script. */
#define FZ_CFG_BYZ(b) ((uint32_t)(b)&3u)              /* the party the script speaks for */
#define FZ_CFG_WINDOW(b) (4u << (((b) >> 2) & 3u))    /* 4, 8, 16 or 32 slots */
#define FZ_CFG_PACED(b) ((((b) >> 4) & 1u) != 0)      /* paced mode, else fast */
#define FZ_CFG_BATCH(b) ((((b) >> 5) & 1u) ? 4u : 1u) /* commands per value */
#define FZ_CFG_CLUSTER(b) (1u + (((b) >> 6) & 3u))    /* cluster id: moves the leaders */
#define FZ_CFG(byz, win_log, paced, batch4, cluster)                                               \
    ((uint8_t)((byz) | ((win_log) << 2) | ((paced) << 4) | ((batch4) << 5) | ((cluster) << 6)))

enum fz_op {
    FZ_OP_DELIVER = 0,     /* param + 1 queued frames, oldest first */
    FZ_OP_DELIVER_ALL = 1, /* every queued frame (bounded) */
    FZ_OP_DROP = 2,        /* drops the param + 1 oldest frames (loss) */
    FZ_OP_PICK = 3,        /* +1 byte k: delivers queued frame k % count (reorder) */
    FZ_OP_TICK = 4,        /* clock += fz_tick_ns[param & 7], every party steps */
    FZ_OP_SUBMIT = 5,      /* at party param & 3; +1 byte: length index (low 3 bits), fill */
    FZ_OP_FORGE = 6,       /* a Byzantine frame to honest party param & 3 (3: to each
                              honest party), (param >> 2) + 1 record specs */
    FZ_OP_BYZ_MODE = 7,    /* the Byzantine engine's own frames: mode param & 7
                              (enum fz_byz); +1 byte: its argument */
    FZ_OP_DUP = 8,         /* delivers the last delivered frame again */
    FZ_OP_RESTART = 9,     /* honest party (param % 3) crashes, restarts from its disk */
    /* 10..12 deliver every queued frame, 13..15 deliver param + 1 frames. */
};

#define FZ_OP(op, param) ((uint8_t)((op) | ((param) << 4)))

/* Modes of FZ_OP_BYZ_MODE. */
enum fz_byz {
    FZ_BYZ_PASS = 0,       /* sent as the engine wrote them (fresh sequence numbers) */
    FZ_BYZ_SILENT = 1,     /* dropped */
    FZ_BYZ_VALUES = 2,     /* values replaced by pool value arg % pool size */
    FZ_BYZ_BALLOTS = 3,    /* ballots raised by 1 + (arg & 7) */
    FZ_BYZ_EQUIVOCATE = 4, /* FZ_BYZ_VALUES, to party arg & 3 only */
    FZ_BYZ_INSTANCES = 5,  /* instances moved by (arg & 15) - 4 */
    FZ_BYZ_SPLIT = 6,      /* dropped to party arg & 3 only */
};

/* Value spec selector kinds (low 3 bits). */
enum fz_val {
    FZ_VAL_NOOP = 0,
    FZ_VAL_POOL = 1,   /* a value seen on the network: arg % pool size */
    FZ_VAL_BATCH = 2,  /* a batch of 1 + arg % 4 command specs */
    FZ_VAL_INLINE = 3, /* arg (0..31) bytes of a fill pattern */
    FZ_VAL_DIGEST = 4, /* 33 + 2 * length byte bytes of a fill pattern */
    FZ_VAL_CMD = 5,    /* arg odd: the frame's previous record's value; else
                          the last Byzantine command's bytes */
    FZ_VAL_BATCH2 = 6, /* as FZ_VAL_BATCH */
    FZ_VAL_BATCH3 = 7, /* as FZ_VAL_BATCH, one count wrong when arg & 16 */
};

/* Byzantine command sequence modes. */
enum fz_seq {
    FZ_SEQ_NEXT = 0, /* one above the highest used so far */
    FZ_SEQ_LAST = 1, /* the last command again (same sequence, same bytes) */
    FZ_SEQ_SAME = 2, /* the highest sequence used, new bytes */
    FZ_SEQ_GAP = 3,  /* two above the highest */
    FZ_SEQ_INC = 4,  /* the first of the next incarnation */
    FZ_SEQ_RAW = 5,  /* 8 bytes follow */
    FZ_SEQ_ONE = 6,  /* sequence 1 */
    FZ_SEQ_ZERO = 7, /* sequence 0 */
};

/* Instance selector modes (low 3 bits; high 5 bits d). */
enum fz_inst {
    FZ_INST_NEAR = 0,  /* receiver's next undecided + d - 4 (modes 0..2) */
    FZ_INST_ABS = 3,   /* d */
    FZ_INST_REUSE = 4, /* next undecided + window + d - 8 */
    FZ_INST_TOP = 5,   /* UINT64_MAX - d */
    FZ_INST_RAW = 6,   /* 8 bytes follow */
    FZ_INST_PREV = 7,  /* the previous record's instance */
};

/* Ballot selector modes (low 3 bits; high 5 bits d). */
enum fz_bal {
    FZ_BAL_NEAR = 0, /* receiver's ballot + (d & 7) - 2 (modes 0, 1) */
    FZ_BAL_OWN = 2,  /* first ballot at or above receiver's + (d & 3) the
                        Byzantine party leads */
    FZ_BAL_ABS = 3,  /* d */
    FZ_BAL_TOP = 4,  /* BPC_BALLOT_MAX - (d & 3) */
    FZ_BAL_RAW = 5,  /* 8 bytes follow (clamped) */
    FZ_BAL_PREV = 6, /* the previous record's ballot */
    FZ_BAL_CUR = 7,  /* receiver's ballot */
};

#define FZ_SEL(mode, d) ((uint8_t)((mode) | ((d) << 3)))

/* Record types a FORGE type byte names (t % FZ_REC_TYPES); 1B_HIST comes
 * with 1B. */
#define FZ_REC_TYPES 13u
static const uint8_t fz_rec_types[FZ_REC_TYPES] = {
    BPC_MSG_1A,    BPC_MSG_1B,      BPC_MSG_1B_RANGE, BPC_MSG_2A,      BPC_MSG_2AV,
    BPC_MSG_2B,    BPC_MSG_DECIDED, BPC_MSG_STATUS,   BPC_MSG_FORWARD, BPC_MSG_ATTEST,
    BPC_MSG_VALUE, BPC_MSG_VOTES,   BPC_MSG_REFUSE,
};
_Static_assert(BPC_MSG_TYPES_COUNT == BPC_MSG_REFUSE + 1,
               "a new record type: add it to fz_rec_types, fuzz_engine.c (its pooling and "
               "swaps: fuzz_engine_world.c) and fuzz_wire.c");

/* The FORGE type byte of a record type (inverse of fz_rec_types). */
static inline uint8_t
fz_type_byte(uint8_t type)
{
    for (uint8_t t = 0; t < FZ_REC_TYPES; t++) {
        if (fz_rec_types[t] == type) {
            return t;
        }
    }
    return 0;
}

#endif
