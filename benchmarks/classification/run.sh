#!/bin/sh
# The classification benchmark of the benchmarks page (benchmarks/benchmarks.ipynb) on five seeds,
# run by hand from the repository root: python3 tasks.py venv, then  sh benchmarks/classification/run.sh
# Peaks classification (5 classes, width 16, alpha = 1e-6): Adam's 5000 full-batch steps set the targets,
# then VarPro (damped, the library's default for the cross-entropy), VarPro with a line search and
# Gauss-Newton run 50 iterations, three times each (times are medians).  One BLAS thread, as for every
# timing of the course; about two minutes.  Every JSON file holds the command line that made it.
set -e
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
for seed in 0 1 2 3 4; do
  .venv/bin/python -m nnlib.bench compare --loss softmax --width 16 --n-classes 5 --reference-iter 5000 --lr 1e-2 \
    --solvers varpro varpro-gn gn --max-iter 50 --cg-max-iter 48 --repeat 3 --seed $seed --no-history --json \
    > "benchmarks/classification/seed$seed.json"
  echo "wrote seed$seed.json"
done
