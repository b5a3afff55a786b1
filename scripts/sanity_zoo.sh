#!/usr/bin/env bash
# The weight randomization test over the zoo's main models (docs/sanity_checks.md): MNIST 500 and CIFAR-10 200 test
# images, one run per attribution method, stored beside each card (--write) and summarized in docs/sanity/.
# Usage: EXPLAINLAB_THREADS=1 bash scripts/sanity_zoo.sh [data dir, default ../shared/data] [datasets, default "mnist cifar10"]
set -euo pipefail
data=${1:-../shared/data}
datasets=${2:-mnist cifar10}
mkdir -p docs/sanity
mnist=(natural l1 pgd_at trades egat egat_saliency_l0.2 atex sgt asgt ig_norm_scratch ig_sum_norm_scratch)
cifar=(natural pgd_at egat egat_saliency)
run() {  # dataset images method models... [flags]; the output file is docs/sanity/<dataset>_<$out or method>.json
  local dataset=$1 images=$2 method=$3; shift 3
  .venv/bin/explainlab sanity-check --models "$@" --images "$images" --method "$method" --data-dir "$data" \
    --write --json | .venv/bin/python -c 'import json, sys; d = json.load(sys.stdin)
for m in d["models"]: m.pop("per_image")
json.dump(d, sys.stdout, indent=1)' > "docs/sanity/${dataset}_${out:-$method}.json"
}
if [[ " $datasets " == *" mnist "* ]]; then
  mnist_ids=("${mnist[@]/#/mnist-small_cnn-}"); mnist_ids=("${mnist_ids[@]/%/-s0}")
  for method in saliency gradcam captum_guided_backprop input_x_gradient integrated_gradients smoothgrad; do
    run mnist 500 "$method" "${mnist_ids[@]}"
  done
  out=saliency_independent run mnist 500 saliency "${mnist_ids[@]}" --order independent
fi
if [[ " $datasets " == *" cifar10 "* ]]; then
  cifar_ids=("${cifar[@]/#/cifar10-resnet20-}"); cifar_ids=("${cifar_ids[@]/%/-s0}")
  for method in saliency gradcam captum_guided_backprop integrated_gradients; do
    run cifar10 200 "$method" "${cifar_ids[@]}"
  done
fi
