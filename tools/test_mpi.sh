#!/usr/bin/env bash
# The MPI tests: optim built with the package trait MPI, run under Open MPI's mpirun on this host.
#
#   bash tools/test_mpi.sh            installs Open MPI if missing (tools/setup.sh --mpi), builds
#                                     into .build-mpi, runs every case; exit 0 when all pass
#
# What it checks (each case one mpirun with a --timeout, so that nothing can hang):
# - the saved weights of `mpirun -np 2` and `-np 3` (and 4) are byte for byte those of one process,
#   for linear, logistic, softmax regression and an MLP, with SGD, Adam and LBFGS;
# - each rank parses only its part of a CSV or libsvm file: given a copy garbled outside its part,
#   it still trains to the one-process weights on the true file;
# - one rank that meets a bad file: exit 1, one message naming the rank and the file;
#   every rank meeting the same bad file: exit 1, one message;
# - a stop under mpirun (SIGUSR1, which mpirun forwards; and Ctrl-C, which reaches the ranks as
#   SIGTERM): one checkpoint from rank 0, and resuming it under another rank count ends with the
#   weights of an uninterrupted one-process run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh --mpi
started=$(date +%s)
swift build --traits MPI --scratch-path .build-mpi --product optim >&2
optim="$PWD/.build-mpi/debug/optim"
work="$(mktemp -d /tmp/optim-mpi-test.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# Root (CI) needs both variables; shared memory only (no TCP listeners); never hang.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader OMPI_MCA_pml=ob1
mpi=(mpirun -q --oversubscribe --timeout 120 -x SWIFT_BACKTRACE=enable=no)
failures=0
pass() { echo "ok: $*"; }
fail() { echo "FAILED: $*"; failures=$((failures + 1)); }

# Bitwise equal to one process.
cases=(
    "--task linear --optimizer adam --lr 0.01 --batch-size 4096 --epochs 3"
    "--task linear --outputs 3 --loss huber --optimizer sgd --lr 0.05 --momentum 0.9 --batch-size 2000 --epochs 2"
    "--task logistic --optimizer sgd --lr 0.1 --batch-size 1000 --epochs 2"
    "--task logistic --optimizer lbfgs --epochs 3"
    "--task multiclass --outputs 4 --optimizer lbfgs --epochs 2"
    "--task multiclass --outputs 3 --optimizer adam --lr 0.01 --batch-size 3000 --epochs 2"
    "--task nonlinear --model mlp --hidden 16 --optimizer adam --lr 0.01 --batch-size 2048 --epochs 2"
    "--task nonlinear --model mlp --hidden 12 --hidden 6 --optimizer lbfgs --epochs 2"
)
for args in "${cases[@]}"; do
    # shellcheck disable=SC2086
    "$optim" train --rows 50000 --features 12 $args --save "$work/one.safetensors" -q > /dev/null 2> "$work/err"
    for np in 2 3 4; do
        rm -f "$work/ranks.safetensors"
        # shellcheck disable=SC2086
        if "${mpi[@]}" -np $np "$optim" train --rows 50000 --features 12 $args --save "$work/ranks.safetensors" -q > /dev/null 2> "$work/err" \
            && cmp -s "$work/one.safetensors" "$work/ranks.safetensors"; then
            pass "np $np bitwise equal to one process: $args"
        else
            fail "np $np differs from one process: $args: $(cat "$work/err")"
        fi
    done
done

# Over TCP (loopback), as between hosts: the same bytes.
# shellcheck disable=SC2086
if OMPI_MCA_btl=self,tcp "${mpi[@]}" -np 3 --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo "$optim" train --rows 50000 --features 12 \
        ${cases[0]} --save "$work/ranks.safetensors" -q > /dev/null 2> "$work/err" \
    && "$optim" train --rows 50000 --features 12 ${cases[0]} --save "$work/one.safetensors" -q > /dev/null 2>&1 \
    && cmp -s "$work/one.safetensors" "$work/ranks.safetensors"; then
    pass "np 3 over TCP: bitwise equal to one process"
else
    fail "np 3 over TCP: $(cat "$work/err")"
fi

# A file with the defaults (held out at random, shuffled, standardized: each rank copies only
# the rows it reads), and with SWA's averaged weights scored on the held-out rows.
awk 'BEGIN { srand(1); print "a,b,c,y"; for (i = 0; i < 3000; i++) { a = rand(); b = rand(); c = rand(); printf "%f,%f,%f,%f\n", a, b, c, 2 * a - b + c / 2 } }' > "$work/good.csv"
for args in "" "--optimizer sgd --lr 0.05 --batch-size 100 --epochs 4 --swa-start 2"; do
    # shellcheck disable=SC2086
    "$optim" train --data "$work/good.csv" --target y $args --save "$work/one.safetensors" > "$work/one.out" 2> "$work/err"
    for np in 2 3; do
        # shellcheck disable=SC2086
        if "${mpi[@]}" -np $np "$optim" train --data "$work/good.csv" --target y $args --save "$work/ranks.safetensors" > "$work/ranks.out" 2> "$work/err" \
            && cmp -s "$work/one.safetensors" "$work/ranks.safetensors" \
            && diff <(grep -E "^(final|averaged)" "$work/one.out") <(grep -E "^(final|averaged)" "$work/ranks.out") > /dev/null; then
            pass "np $np: a CSV file${args:+ with $args}: the one-process weights and metrics"
        else
            fail "np $np: a CSV file${args:+ with $args}: $(cat "$work/err")"
        fi
    done
done

# Each rank parses only its byte range of a CSV: rank r gets a copy whose every other line holds
# other numbers (the same bytes' lengths, so the same cuts), and the weights are still those of
# one process on the true file. Text labels (numbers among them), a weight column, a skipped row.
awk 'BEGIN { srand(2); print "a,b,c,w,kind"; for (i = 0; i < 4000; i++) { a = rand(); b = 10 * rand(); c = rand() - 0.5;
    k = a + c > 0.6 ? "red" : b > 5 ? "green" : 7; printf i == 77 ? "%f,,%f,1,%s\n" : "%f,%f,%f,%d,%s\n", a, b, c, 1 + i % 3, k } }' > "$work/classes.csv"
cat > "$work/garble.py" <<'EOF_PY'
import os, sys
path, ranks = sys.argv[1], int(sys.argv[2])
data = open(path, "rb").read()
start = data.index(b"\n") + 1 if path.endswith(".csv") else 0  # after a CSV's header
size = len(data) - start
def cut(i):
    if i == 0: return start
    if i == ranks: return len(data)
    at = data.find(b"\n", start + size // ranks * i + (size % ranks) * i // ranks)
    return len(data) if at < 0 else at + 1
shift = bytes.maketrans(b"0123456789", b"3456789012")
for r in range(ranks):
    lo, hi = cut(r), cut(r + 1)
    folder = os.path.join(os.path.dirname(path), f"parts{ranks}.{r}")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, os.path.basename(path)), "wb") as out:
        out.write(data[:start] + data[start:lo].translate(shift) + data[lo:hi] + data[hi:].translate(shift))
EOF_PY
# parts_case FILE "RANK COUNTS" ARGS...: one process on FILE, then each rank on its garbled copy.
# (Each rank's copy has the same name, in a folder of its own: the saved metadata names the file.)
python="$PWD/.build/python-tools/bin/python"  # tools/setup.sh --tests makes it; else the system's
[ -x "$python" ] || python=python3
parts_case() {
    local file=$1 counts=$2
    shift 2
    (cd "$work" && "$optim" train --data "$file" "$@" --save "$work/one-parts.safetensors" > "$work/one-parts.out" 2> "$work/err")
    for np in $counts; do
        "$python" "$work/garble.py" "$work/$file" "$np"
        rm -f "$work/ranks.safetensors"
        if "${mpi[@]}" -np "$np" sh -c "cd \"$work/parts$np.\$OMPI_COMM_WORLD_RANK\" && exec \"$optim\" train --data $file $* --save \"$work/ranks.safetensors\"" \
                > "$work/ranks.out" 2> "$work/err" \
            && cmp -s "$work/one-parts.safetensors" "$work/ranks.safetensors" \
            && diff <(grep -E "^final" "$work/one-parts.out") <(grep -E "^final" "$work/ranks.out") > /dev/null; then
            pass "np $np: each rank reads only its part of $file (the rest garbled), $*: the one-process weights and metrics"
        else
            fail "np $np: ranks reading their parts of $file, $*: $(cat "$work/err")"
        fi
    done
}
csv_args=(--target kind --skip-incomplete-rows --sample-weight w --model softmax --optimizer adam --lr 0.05 --batch-size 500 --epochs 3)
parts_case classes.csv "2 3 4" "${csv_args[@]}"
parts_case classes.csv "2 3 4" "${csv_args[@]}" --no-shuffle --no-standardize

# The same for a libsvm file (each rank expands its part to dense rows; comment lines, a width
# from --features).
awk 'BEGIN { srand(5); for (i = 0; i < 3000; i++) { s = 0; line = ""; for (j = 1; j <= 20; j++) if (rand() < 0.4) {
    v = rand(); s += (j % 3 - 1) * v; line = line sprintf(" %d:%.4f", j, v) }; if (i % 500 == 7) print "# a comment";
    printf "%d%s\n", (s > 0 ? 1 : 0), line } }' > "$work/rows.svm"
parts_case rows.svm "2 3" --validation 0.1
parts_case rows.svm "2 3" --features 25 --optimizer adam --lr 0.05 --batch-size 256 --epochs 3 --no-shuffle

# evaluate: each rank scores its share; the same report and predictions as one process.
"$optim" evaluate --weights "$work/one.safetensors" --data "$work/good.csv" --predictions "$work/one.csv" > "$work/one.out"
for np in 2 3; do
    rm -f "$work/ranks.csv"
    if "${mpi[@]}" -np $np "$optim" evaluate --weights "$work/one.safetensors" --data "$work/good.csv" --predictions "$work/ranks.csv" \
            > "$work/ranks.out" 2> "$work/err" \
        && diff <(sed 's#ranks.csv#one.csv#' "$work/ranks.out") "$work/one.out" > /dev/null && cmp -s "$work/one.csv" "$work/ranks.csv"; then
        pass "np $np: evaluate gives the one-process report and predictions"
    else
        fail "np $np: evaluate: $(cat "$work/err"; diff "$work/ranks.out" "$work/one.out")"
    fi
done

# A bad row in the file only rank 1 reads: exit 1, one line, naming rank 1 and its file.
cp "$work/good.csv" "$work/bad.csv"
sed -i '1500s/^.*$/0.5,0.25/' "$work/bad.csv"
cat > "$work/per-rank.sh" <<EOF
#!/usr/bin/env bash
if [ "\$OMPI_COMM_WORLD_RANK" = 1 ]; then data="$work/bad.csv"; else data="$work/good.csv"; fi
exec "$optim" train --data "\$data" --target y --optimizer adam --epochs 2 -q
EOF
chmod +x "$work/per-rank.sh"
set +e
"${mpi[@]}" -np 3 "$work/per-rank.sh" > /dev/null 2> "$work/err"
code=$?
set -e
lines=$(grep -c . "$work/err" || true)
if [ "$code" = 1 ] && [ "$lines" = 1 ] && grep -q "rank 1: .*bad.csv, line 1500" "$work/err"; then
    pass "a bad file on rank 1: exit 1, one message: $(cat "$work/err")"
else
    fail "a bad file on rank 1: exit $code, $lines line(s): $(cat "$work/err")"
fi
set +e
"${mpi[@]}" -np 3 "$optim" train --data "$work/bad.csv" --target y -q > /dev/null 2> "$work/err"
code=$?
set -e
lines=$(grep -c . "$work/err" || true)
if [ "$code" = 1 ] && [ "$lines" = 1 ] && grep -q "bad.csv" "$work/err"; then
    pass "a bad file on every rank: exit 1, one message"
else
    fail "a bad file on every rank: exit $code, $lines line(s): $(cat "$work/err")"
fi

# Stopped under mpirun, resumed under another rank count: the uninterrupted weights.
long=(--rows 100000 --features 8 --optimizer adam --lr 0.001 --batch-size 256 --epochs 400 --tol 0)
"$optim" train "${long[@]}" --save "$work/whole.safetensors" -q > /dev/null
for stop in USR1 INT; do
    rm -f "$work/ckpt" "$work/resumed.safetensors"
    "${mpi[@]}" -np 2 "$optim" train "${long[@]}" --checkpoint "$work/ckpt" > "$work/out" 2> "$work/err" &
    launcher=$!
    for _ in $(seq 1 600); do grep -q "^epoch 2/" "$work/out" 2>/dev/null && break; sleep 0.05; done
    kill -s "$stop" "$launcher"
    set +e
    wait "$launcher"
    code=$?
    set -e
    # SIGUSR1 reaches the ranks, which exit 130; Ctrl-C becomes SIGTERM, and mpirun exits 1.
    if [ "$code" != 0 ] && [ -f "$work/ckpt" ] && grep -q "interrupted" "$work/err" \
        && "${mpi[@]}" -np 3 "$optim" train "${long[@]}" --resume "$work/ckpt" --save "$work/resumed.safetensors" -q > /dev/null \
        && cmp -s "$work/whole.safetensors" "$work/resumed.safetensors"; then
        pass "SIG$stop under np 2 (exit $code), resumed under np 3: the uninterrupted weights"
    else
        fail "SIG$stop under np 2 (exit $code) and resume under np 3: $(cat "$work/err")"
    fi
done

echo "MPI tests: $failures failure(s) in $(( $(date +%s) - started )) s (build included)"
[ "$failures" = 0 ]
