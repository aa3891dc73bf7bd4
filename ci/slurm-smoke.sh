#!/usr/bin/env bash
# ci/slurm-smoke.sh — run the README's Slurm example on a real one-node cluster.
#
#   ci/slurm-smoke.sh [path/to/fleetsim]      (default: target/release/fleetsim)
#
# What it does, in order:
#  1. Takes the two code blocks of README.md's Slurm example (the one that
#     starts `# sweep.sbatch`, and the submit commands right after it) and
#     writes them out unchanged: the README is the only copy, so the example
#     and what this script submits cannot drift apart. It fails if the blocks
#     are missing or no longer look like an array sweep plus a dependent merge.
#  2. Runs the same sweep unsharded: `bash sweep.sbatch` with a `fleetsim`
#     stand-in on PATH that drops `--shard` and `--out` and writes to direct/.
#  3. Installs Slurm and munge from the system packages if they are missing
#     (apt-get; needs root), then starts munged, slurmctld and slurmd (no
#     systemd, no cgroups), with every file under one temporary directory and
#     ports nobody listens on.
#  4. Runs the README's submit block as written: the array job, then the merge
#     held by --dependency=afterok. Waits for both to leave the queue and reads
#     their final states from `scontrol show job` (there is no accounting, so
#     no sacct): every array task and the merge must be COMPLETED.
#  5. Compares every CSV of the merge with the unsharded sweep's, byte for
#     byte, except perf.csv (wall-clock times), and the sweep page
#     (report.html), results.json and every chart in charts/, which merge
#     draws from the merged summary.csv.
#  6. On exit, whatever happened, stops the daemons it started and removes the
#     directory (FLEETSIM_SLURM_KEEP=1 keeps it); on failure it prints the
#     daemons' logs and the jobs' output first.
#
# Where Slurm cannot run (not root, or no apt-get and no Slurm installed) it
# says so and exits 1; with FLEETSIM_SKIP_SLURM=1 it exits 0 instead, after
# steps 1 and 2, which need neither. Daemons left behind by a run that was
# killed before it could clean up (their directory's owner.pid no longer
# running) are stopped at the start of the next run.
set -euo pipefail
umask 022

repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$repo/target/release/fleetsim}
if [[ ! -x $bin ]]; then
  echo "slurm-smoke: no fleetsim binary at $bin (build it with cargo build --release)" >&2
  exit 2
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

start=$EPOCHREALTIME
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f s", b - a }'; }
say() { printf '== slurm-smoke: %s\n' "$*"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/fleetsim-slurm.XXXXXX")
chmod 0755 "$work" # munged wants every directory above its socket searchable by all
echo $$ >"$work/owner.pid"
mkdir -p "$work"/{pids,log,run/bin,direct-bin}
array_id='' merge_id='' cannot_run=0

stop_pid() { # name pidfile: TERM, up to 10 s, then KILL; only if it is still that daemon
  local name=$1 file=$2 pid i
  [[ -s $file ]] || return 0
  pid=$(<"$file")
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$name" ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  echo "slurm-smoke: $name (pid $pid) ignored TERM; killing it" >&2
  kill -KILL "$pid" 2>/dev/null || true
}

stepds() { # the live slurmstepd processes of the cluster in directory $1 (they inherit
  # slurmd's SLURM_CONF); zombies are skipped: reaping them is init's job
  local p stat
  for p in /proc/[0-9]*; do
    [[ $(cat "$p/comm" 2>/dev/null) == slurmstepd ]] || continue
    stat=$(cat "$p/stat" 2>/dev/null) || continue
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]] || continue
    if { tr '\0' '\n' <"$p/environ" | grep -qxF "SLURM_CONF=$1/etc/slurm.conf"; } 2>/dev/null; then
      echo "${p#/proc/}"
    fi
  done
}

stop_cluster() { # directory: the job steps (given 10 s to finish), then the daemons
  local dir=${1%/} i p
  for ((i = 0; i < 100; i++)); do
    [[ -n $(stepds "$dir") ]] || break
    sleep 0.1
  done
  stop_pid slurmd "$dir/pids/slurmd.pid"
  for p in $(stepds "$dir"); do
    echo "slurm-smoke: killing job step slurmstepd (pid $p) of $dir" >&2
    kill -KILL "$p" 2>/dev/null || true
  done
  stop_pid slurmctld "$dir/pids/slurmctld.pid"
  stop_pid munged "$dir/pids/munged.pid"
}

print_logs() {
  local f
  for f in "$work"/log/* "$work"/run/slurm-*.out; do
    [[ -f $f ]] || continue
    echo "---- $f (last 60 lines)"
    tail -n 60 "$f"
  done
  if [[ -n $array_id ]]; then
    echo "---- scontrol show job $array_id $merge_id"
    scontrol -o show job "$array_id" 2>&1 || true
    [[ -z $merge_id ]] || scontrol -o show job "$merge_id" 2>&1 || true
  fi
}

finish() {
  local rc=$?
  set +e
  if ((rc != 0 && ! cannot_run)); then
    echo "slurm-smoke: FAILED (exit $rc)" >&2
    print_logs >&2
    if [[ -n $array_id ]]; then scancel "$array_id" ${merge_id:+"$merge_id"} 2>/dev/null; fi
  fi
  stop_cluster "$work"
  if [[ ${FLEETSIM_SLURM_KEEP:-0} == 1 ]]; then
    echo "slurm-smoke: kept $work"
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap finish EXIT

# --- 1. The README's example --------------------------------------------------
run=$work/run
awk -v sb="$run/sweep.sbatch" -v sm="$run/submit.sh" '
  /^```/ {
    if (!open) { open = 1; n = 0; next }
    open = 0
    is_sbatch = 0
    for (i = 1; i <= n; i++) if (body[i] == "# sweep.sbatch") is_sbatch = 1
    if (is_sbatch) { sbatches++; for (i = 1; i <= n; i++) print body[i] > sb; want_submit = 1 }
    else if (want_submit) { for (i = 1; i <= n; i++) print body[i] > sm; want_submit = 0 }
    next
  }
  open { body[++n] = $0 }
  END { if (sbatches != 1) { print "README.md has " sbatches + 0 " blocks with a `# sweep.sbatch` line; want exactly 1" > "/dev/stderr"; exit 1 } }
' "$repo/README.md"
readme_needs() { # file text: fail unless the README block contains the text
  if ! grep -qF -- "$2" "$run/$1"; then
    echo "slurm-smoke: README.md's Slurm example changed: $1 no longer contains: $2" >&2
    echo "  (this script runs the README's blocks as written; update one or the other)" >&2
    exit 1
  fi
}
readme_needs sweep.sbatch '#SBATCH --array='
readme_needs sweep.sbatch 'fleetsim sweep '
# shellcheck disable=SC2016 # the README's text, $ and all
readme_needs sweep.sbatch '--shard "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT"'
readme_needs submit.sh 'sbatch --parsable sweep.sbatch'
# shellcheck disable=SC2016 # the README's text, $ and all
readme_needs submit.sh '--dependency=afterok:"$jid"'
readme_needs submit.sh 'fleetsim merge '
merged=$(sed -n "s/.*fleetsim merge .* --out \([^ '\"]*\).*/\1/p" "$run/submit.sh")
if [[ -z $merged ]]; then
  echo "slurm-smoke: cannot find the merge's --out directory in README.md's submit block" >&2
  exit 1
fi
tasks=''
if [[ $(grep -o -- '--array=[0-9]*-[0-9]*$' "$run/sweep.sbatch") =~ =([0-9]+)-([0-9]+) ]]; then
  tasks=$((BASH_REMATCH[2] - BASH_REMATCH[1] + 1))
fi
say "README.md's example: sweep.sbatch ($(grep -c '' "$run/sweep.sbatch") lines, ${tasks:-?} array tasks), submit block, merge into $merged"

# --- 2. The same sweep, unsharded ---------------------------------------------
# The sbatch script itself, run by bash with a `fleetsim` on PATH that drops
# --shard and --out: the same arguments, whatever the README says.
ln -s "$repo/scenarios" "$run/scenarios"
ln -s "$bin" "$run/bin/fleetsim"
cat >"$work/direct-bin/fleetsim" <<'EOF'
#!/usr/bin/env bash
args=()
while (($#)); do
  case $1 in
    --shard | --out) shift; (($#)) && shift ;;
    --shard=* | --out=*) shift ;;
    *) args+=("$1"); shift ;;
  esac
done
exec "$SMOKE_FLEETSIM" "${args[@]}" --out "$SMOKE_DIRECT"
EOF
chmod +x "$work/direct-bin/fleetsim"
t=$EPOCHREALTIME
(cd "$run" && SMOKE_FLEETSIM=$bin SMOKE_DIRECT=$work/direct PATH=$work/direct-bin:$PATH \
  SLURM_ARRAY_TASK_ID=0 SLURM_ARRAY_TASK_COUNT=1 SLURM_CPUS_PER_TASK=$(nproc) \
  bash sweep.sbatch)
[[ -s $work/direct/summary.csv ]] || { echo "slurm-smoke: the unsharded sweep wrote no summary.csv" >&2; exit 1; }
say "unsharded sweep: $(($(grep -c '' "$work/direct/summary.csv") - 1)) runs in $(elapsed "$t")"

# --- 3. Slurm and munge -------------------------------------------------------
cannot() {
  if [[ ${FLEETSIM_SKIP_SLURM:-0} == 1 ]]; then
    say "SKIPPED the Slurm cluster: $* (FLEETSIM_SKIP_SLURM=1); only README.md's example and the unsharded sweep were checked"
    exit 0
  fi
  cannot_run=1
  {
    echo
    echo "!!!! slurm-smoke: CANNOT RUN the Slurm smoke test: $*"
    echo "!!!! It needs root and apt-get (Debian/Ubuntu), or Slurm and munge already installed and root."
    echo "!!!! Set FLEETSIM_SKIP_SLURM=1 to skip it on purpose."
    echo
  } >&2
  exit 1
}
((EUID == 0)) || cannot "not root (slurmd runs jobs as their owner and must be root)"
need=(munged munge slurmctld slurmd sbatch squeue scontrol scancel sinfo)
missing() { local c; for c in "${need[@]}"; do command -v "$c" >/dev/null || return 0; done; return 1; }
if missing; then
  command -v apt-get >/dev/null || cannot "Slurm is not installed and there is no apt-get"
  t=$EPOCHREALTIME
  pkgs=(slurmctld slurmd slurm-client munge)
  say "installing ${pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=120 "${pkgs[@]}" >"$work/log/apt.log" 2>&1; then
    say "apt-get install failed; apt-get update, then once more"
    if ! apt-get update -o DPkg::Lock::Timeout=120 >>"$work/log/apt.log" 2>&1 \
      || ! apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=120 "${pkgs[@]}" >>"$work/log/apt.log" 2>&1; then
      tail -n 30 "$work/log/apt.log" >&2
      cannot "apt-get could not install ${pkgs[*]} (the end of its output is above)"
    fi
  fi
  say "installed in $(elapsed "$t")"
  ! missing || cannot "installed the packages but still missing one of: ${need[*]}"
fi

# Daemons of an earlier run that died before its trap ran: its owner is gone.
for old in "${TMPDIR:-/tmp}"/fleetsim-slurm.*/; do
  [[ $old != "$work/" && -f $old/owner.pid ]] || continue
  ! kill -0 "$(<"$old/owner.pid")" 2>/dev/null || continue # still running: not ours to stop
  for d in slurmd slurmctld munged; do
    if [[ -s $old/pids/$d.pid ]] && kill -0 "$(<"$old/pids/$d.pid")" 2>/dev/null; then
      say "$d (pid $(<"$old/pids/$d.pid")) was left running by an earlier run in $old"
    fi
  done
  stop_cluster "$old"
  rm -rf "$old"
done

t=$EPOCHREALTIME
mkdir -p "$work"/{etc,state,spool,munge-socket,munge-key}
chmod 0755 "$work/munge-socket" # munged refuses a socket directory others can write to
chmod 0700 "$work/munge-key"
dd if=/dev/urandom of="$work/munge-key/munge.key" bs=1024 count=1 status=none
chmod 0600 "$work/munge-key/munge.key"
socket=$work/munge-socket/munge.socket.2
munged --foreground --socket="$socket" --key-file="$work/munge-key/munge.key" \
  --pid-file="$work/munge-key/munged.pid" --seed-file="$work/munge-key/munged.seed" \
  --log-file="$work/log/munged.log" >>"$work/log/munged.log" 2>&1 &
echo $! >"$work/pids/munged.pid"

wait_for() { # seconds description command...: poll every 0.2 s
  local limit=$1 what=$2 i
  shift 2
  for ((i = 0; i < limit * 5; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "slurm-smoke: timed out after $limit s waiting for $what" >&2
  return 1
}
munge_works() { munge -n -S "$socket" | unmunge -S "$socket"; }
wait_for 10 "munged" munge_works

listening=" $(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | while read -r _ addr _ st _; do
  if [[ $st == 0A ]]; then echo $((16#${addr##*:})); fi
done | tr '\n' ' ') "
free_port() { # a port in 20000..39999 that nothing listens on and that is not "$1"
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    [[ $listening != *" $p "* && $p != "${1:-}" ]] && { echo "$p"; return; }
  done
}
ctld_port=$(free_port)
slurmd_port=$(free_port "$ctld_port")
host=$(hostname -s 2>/dev/null || uname -n)
host=${host%%.*}
node=fleetsim-smoke
export SLURM_CONF=$work/etc/slurm.conf
# CPUs=8 with config_overrides: the node claims 8 CPUs whatever the machine
# has, so the example's --cpus-per-task=4 fits on a 2-core runner.
cat >"$SLURM_CONF" <<EOF
ClusterName=fleetsim-smoke
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool/%n
SlurmctldPidFile=$work/state/slurmctld.pid
SlurmdPidFile=$work/spool/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerParameters=batch_sched_delay=0,kill_invalid_depend
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=600
NodeName=$node NodeHostname=$host NodeAddr=127.0.0.1 CPUs=8 RealMemory=1024 State=UNKNOWN
PartitionName=smoke Nodes=$node Default=YES MaxTime=30 State=UP
EOF
slurmctld -D -c -f "$SLURM_CONF" >>"$work/log/slurmctld.log" 2>&1 &
echo $! >"$work/pids/slurmctld.pid"
wait_for 30 "slurmctld to answer" scontrol ping
slurmd -D -N "$node" -f "$SLURM_CONF" >>"$work/log/slurmd.log" 2>&1 &
echo $! >"$work/pids/slurmd.pid"
node_idle() { [[ $(sinfo -h -n "$node" -o %T) == idle ]]; }
wait_for 30 "node $node to be idle" node_idle
say "cluster up in $(elapsed "$t") (slurmctld on port $ctld_port, slurmd on $slurmd_port, files in $work)"

# --- 4. The README's submit block, as written ---------------------------------
t=$EPOCHREALTIME
out=$(
  set -e
  cd "$run"
  PATH=$run/bin:$PATH
  eval "$(<submit.sh)" # sets jid
  # shellcheck disable=SC2154
  echo "array-job $jid"
)
array_id=$(sed -n 's/^array-job \([0-9]*\)$/\1/p' <<<"$out")
merge_id=$(grep -v '^array-job' <<<"$out" | grep -o '[0-9][0-9]*$' | tail -n 1)
if [[ -z $array_id || -z $merge_id ]]; then
  echo "slurm-smoke: could not read the job ids from the submit block's output: $out" >&2
  exit 1
fi
say "submitted array job $array_id and merge job $merge_id (afterok:$array_id)"
settled() { # nothing left in the queue but jobs that can never run (a failed dependency)
  ! squeue -h -j "$array_id,$merge_id" -o %r | grep -qvx DependencyNeverSatisfied
}
wait_for 120 "jobs $array_id and $merge_id to finish" settled
array_show=$(scontrol show job "$array_id")
total=$(grep -o 'JobState=[A-Z_]*' <<<"$array_show" | grep -c '') || true
completed=$(grep -o 'JobState=COMPLETED' <<<"$array_show" | grep -c '') || true
merge_state=$(scontrol show job "$merge_id" | grep -o 'JobState=[A-Z_]*')
say "$completed of $total array tasks COMPLETED; merge $merge_state; $(elapsed "$t") from submission"
if ((total == 0 || completed != total)) || [[ -n $tasks && $total != "$tasks" ]]; then
  echo "slurm-smoke: want ${tasks:-every} array task(s) COMPLETED, got $completed of $total" >&2
  exit 1
fi
[[ $merge_state == JobState=COMPLETED ]] || { echo "slurm-smoke: merge job ended $merge_state" >&2; exit 1; }

# --- 5. Merged = unsharded ----------------------------------------------------
compared=0 names=''
outputs() { (cd "$1" && ls -1 ./*.csv report.html results.json charts/* 2>/dev/null | sed 's|^\./||'); }
for side in "$work/direct" "$run/$merged"; do
  [[ -f $side/report.html && -f $side/results.json && -d $side/charts ]] \
    || { echo "slurm-smoke: $side has no report.html, results.json or charts/" >&2; exit 1; }
done
for name in $( { outputs "$work/direct"; outputs "$run/$merged"; } | sort -u); do
  [[ $name != perf.csv ]] || continue
  for side in "$work/direct" "$run/$merged"; do
    [[ -f $side/$name ]] || { echo "slurm-smoke: $name is in one output but not in $side" >&2; exit 1; }
  done
  cmp "$work/direct/$name" "$run/$merged/$name" || exit 1
  compared=$((compared + 1))
  [[ $name == charts/* ]] || names+="$name "
done
((compared > 0)) || { echo "slurm-smoke: no files to compare" >&2; exit 1; }
say "merged = unsharded, byte for byte: $compared files (${names% } and charts/)"
say "OK in $(elapsed "$start")"
