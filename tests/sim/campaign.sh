#!/bin/sh
# campaign.sh - runs bpcon-sim's Byzantine campaign: every Byzantine kind
# against each of the three weight sets (1,1,1,1 with party 3 Byzantine;
# 5,1,1,1,1 with parties 3 and 4; 100,1,2,3,4 with parties 1 and 4), SEEDS
# seeds each from SEED0, one aggregate JSON line per pair, prefixed by the
# weights and the kind. Exits 1 when any run failed (its seed and problem
# are on stderr; replay one with the same flags and --seed N alone), or
# when a Byzantine party's record was left unsent (byz_unsent).
#
# With BPC_CAMPAIGN_PACED=1 every run is in paced mode instead: a
# Byzantine phase of five 1.2 s rounds (--byz-phase-us 6000000), the
# Byzantine parties acting every millisecond, and 20 instances (a paced
# round decides one).
#
# With BPC_CAMPAIGN_STAY=1 (either mode) the Byzantine parties do not
# crash at the heal: they keep acting (--byz-stay), the liveness bound is
# checked with them still Byzantine, and a fast run decides 600 instances
# so that most of it comes after the heal.
#
# usage: campaign.sh BPCON_SIM SEEDS [SEED0] [KINDS...]
set -u
sim=$1
seeds=$2
seed0=${3:-1}
shift 2
[ $# -gt 0 ] && shift
kinds=${*:-wrongballot silent equivocate lie1b votes replay malformed evict decided-lie forge unattested}
# The phase flags every campaign run uses (docs/SIM.md, "Campaigns").
common="--ballot-timeout-us 2000 --churn-us 500 --byz-phase-us 20000 --loss 0.02 --dup 0.02"
if [ "${BPC_CAMPAIGN_PACED:-0}" = 1 ]; then
    common="--mode paced --churn-us 500 --byz-phase-us 6000000 --byz-period-us 1000 --instances 20 --loss 0.02 --dup 0.02"
fi
if [ "${BPC_CAMPAIGN_STAY:-0}" = 1 ]; then
    common="$common --byz-stay"
    [ "${BPC_CAMPAIGN_PACED:-0}" = 1 ] || common="$common --instances 600"
fi
status=0
for set in 1,1,1,1:3 5,1,1,1,1:3,4 100,1,2,3,4:1,4; do
    weights=${set%%:*}
    ids=$(echo "${set##*:}" | tr ',' ' ')
    for kind in $kinds; do
        byz=""
        for id in $ids; do
            byz="$byz --byz $id:$kind"
        done
        # shellcheck disable=SC2086 # the flag lists split on purpose
        line=$("$sim" --weights "$weights" $byz $common --seeds "$seeds" --seed "$seed0" \
            --isolate --quiet)
        rc=$?
        echo "$weights $kind $line"
        [ $rc -ne 0 ] && status=1
        # A record the Byzantine writer refused or could fit in no frame is
        # one the campaign claims to send and does not (a generator defect:
        # every Byzantine VALUE record was dropped so once).
        case $line in
        *'"byz_unsent":0,'*) ;;
        *)
            echo "campaign.sh: $weights $kind: Byzantine records left unsent (byz_unsent)" >&2
            status=1
            ;;
        esac
    done
done
exit $status
