#!/usr/bin/env bash
# Perplexity and CPU throughput of quantscope-cli against llama.cpp's
# llama-perplexity on the same GGUF and text, measured alternately in one run
# so both see the same machine. llama.cpp is not part of QuantScope: build it
# yourself and pass its binary.
#
#   tests/bench/compare_llamacpp_ppl.sh LLAMA_PERPLEXITY MODEL.gguf TEXT [CHUNKS] [REPEATS]
#
# Prints a table (tokens/s per run, PPL) and the ratio of medians.
set -euo pipefail
llama="$1"; model="$2"; text="$3"; chunks="${4:-20}"; repeats="${5:-3}"
cli="${QS_CLI:-$(dirname "$0")/../../build/app/quantscope-cli}"
threads="${QS_THREADS:-$(nproc)}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT

printf '%-8s %-16s %12s %12s\n' run tool tokens/s ppl
for r in $(seq 1 "$repeats"); do
  "$llama" -m "$model" -f "$text" -c 512 -t "$threads" --chunks "$chunks" >"$tmp/l.log" 2>&1
  l_ppl=$(grep -o 'Final estimate: PPL = [0-9.]*' "$tmp/l.log" | awk '{print $NF}')
  l_tps=$(grep -o 'prompt eval time = *[0-9.]* ms / *[0-9]* tokens' "$tmp/l.log" |
          awk '{for(i=1;i<=NF;i++){if($i=="=")ms=$(i+1); if($i=="/")n=$(i+1)}} END{printf "%.1f", n/(ms/1000)}')
  echo "$l_tps" >>"$tmp/l.tps"
  printf '%-8s %-16s %12s %12s\n' "$r" llama-perplexity "$l_tps" "$l_ppl"
  "$cli" eval "$model" --text "$text" --ctx 512 --threads "$threads" --limit-chunks "$chunks" \
    2>/dev/null >"$tmp/q.json"
  q_tps=$(python3 -c "import json,sys; print('%.1f' % json.load(open(sys.argv[1]))['tokens_per_second'])" "$tmp/q.json")
  q_ppl=$(python3 -c "import json,sys; print('%.4f' % json.load(open(sys.argv[1]))['ppl'])" "$tmp/q.json")
  echo "$q_tps" >>"$tmp/q.tps"
  printf '%-8s %-16s %12s %12s\n' "$r" quantscope-cli "$q_tps" "$q_ppl"
done
median() { sort -g "$1" | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
lm=$(median "$tmp/l.tps"); qm=$(median "$tmp/q.tps")
printf '\nmedian tokens/s: llama-perplexity %s, quantscope-cli %s, llama.cpp / quantscope = %.2fx\n' \
  "$lm" "$qm" "$(echo "$lm $qm" | awk '{print $1/$2}')"
