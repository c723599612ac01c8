#!/bin/sh
# The MNIST-1D benchmarks of the benchmarks page (benchmarks/benchmarks.ipynb), run by hand
# from the repository root: python3 tasks.py venv, then  sh benchmarks/mnist1d/run.sh
# Every JSON file holds the command line that made it (key "command").  One BLAS thread,
# as for every timing of the course; about 40 minutes on one core of the course's machine.
set -e
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
run() { out=$1; shift; .venv/bin/python -m nnlib.bench "$@" --json > "benchmarks/mnist1d/$out.json"; echo "wrote $out.json"; }
# The published table with the paper's recipe: Adam, learning rate 1e-2, batches of 100, 8000 steps.
for model in linear mlp cnn resnet; do
  run "table_$model" mnist1d --model $model --solver adam --lr 1e-2 --batch-size 100 --max-iter 8000 --seeds 0 1 2 --target-accuracy 0.936
done
for model in linear mlp cnn; do
  run "table_${model}_shuffled" mnist1d --model $model --shuffle --solver adam --lr 1e-2 --batch-size 100 --max-iter 8000 --seeds 0 1 2
done
# The race on the CNN: settings chosen on 500 held-out training examples, then three seeds each.
# The CNN's W has 1260 entries, so VarPro solves for it by Newton-CG and (the library's rule,
# --varpro-jacobian auto) without a reduced Jacobian: the full or Kaufman Jacobian needs a
# Newton-CG solve per product, 3 iterations took 560 s with it against 7 s without.
run race_cnn mnist1d-race --model cnn --varpro-jacobian auto --seeds 0 1 2 --lr-grid 1e-3 3e-3 1e-2 3e-2 1e-1 --reg-grid 0 1e-4 1e-3 --target-accuracy 0.936
# Time to 93.6% alone (runs stop at the target): Adam, the only solver of the race that reaches it,
# on the CNN, and on the ResNet of the case study.
run time_cnn_adam mnist1d --model cnn --solver adam --lr 1e-2 --batch-size 100 --max-iter 8000 --seeds 0 1 2 --target-accuracy 0.936 --stop-at-target
run time_resnet_adam mnist1d --model resnet --solver adam --lr 1e-2 --batch-size 100 --max-iter 8000 --seeds 0 1 2 --target-accuracy 0.936 --stop-at-target
