# Runtime image for clusters without a package index (image mode).
#
# It holds exactly what a step's install prologue would put on
# python:3.11.7-slim-bookworm: the runtime pins of components/runtime.py, then kfp
# without its dependencies (the step only runs kfp's executor). A test keeps
# these pins equal to runtime.py.
#
#   docker build -t REGISTRY/kfp-tabular-runtime:0.1.0 .
#   docker push REGISTRY/kfp-tabular-runtime:0.1.0
#   python compile.py --image REGISTRY/kfp-tabular-runtime:0.1.0   # writes build/image-yaml/
FROM python:3.11.7-slim-bookworm

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1

RUN python3 -m pip install --no-warn-script-location \
        'joblib==1.6.0' \
        'numpy==2.4.6' \
        'pandas==3.1.1' \
        'pyarrow==26.0.1' \
        'python-dateutil==4.0.0' \
        'scikit-learn==1.9.1' \
        'scipy==1.17.1' \
        'six==1.17.0' \
        'threadpoolctl==3.8.0' \
        'tzdata==2026.6' \
 && python3 -m pip install --no-warn-script-location --no-deps 'kfp==2.17.0' \
 && _KFP_RUNTIME=true python3 -c "import sklearn, pandas, pyarrow, joblib, kfp.dsl.executor_main"
