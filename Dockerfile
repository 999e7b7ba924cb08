# Runtime image for clusters without a package index (image mode).
#
# It holds exactly what a step's install prologue would put on
# python:3.11.7-slim-bookworm: the runtime pins of components/runtime.py, the
# storage and report pins that export_model and evaluate_model add, then kfp
# without its dependencies (the step only runs kfp's executor). A test keeps
# these pins equal to runtime.py.
#
#   docker build -t REGISTRY/kfp-tabular-runtime:0.1.0 .
#   docker push REGISTRY/kfp-tabular-runtime:0.1.0
#   python compile.py --image REGISTRY/kfp-tabular-runtime:0.1.0   # writes build/image-yaml/
FROM python:3.11.7-slim-bookworm

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1

RUN python3 -m pip install --no-warn-script-location \
        'cloudpickle==3.1.3' \
        'joblib==1.6.0' \
        'narwhals==2.29.0' \
        'numpy==2.4.6' \
        'pandas==3.1.1' \
        'pyarrow==26.0.1' \
        'python-dateutil==2.9.0.post0' \
        'scikit-learn==1.9.1' \
        'scipy==1.17.1' \
        'six==1.17.0' \
        'threadpoolctl==3.8.0' \
        'tzdata==2026.6' \
        'adlfs==2026.8.0' \
        'aiobotocore==3.10.0' \
        'aiohappyeyeballs==2.7.1' \
        'aiohttp==3.14.5' \
        'aioitertools==0.13.0' \
        'aiosignal==1.4.0' \
        'attrs==26.1.0' \
        'azure-core==1.41.0' \
        'azure-identity==1.27.0' \
        'azure-storage-blob==12.31.1' \
        'botocore==1.43.117' \
        'certifi==2026.10.19.post1' \
        'cffi==2.1.1' \
        'charset-normalizer==3.5.2' \
        'cryptography==50.0.2' \
        'decorator==5.3.1' \
        'frozenlist==1.8.0' \
        'fsspec==2026.7.0' \
        'gcsfs==2026.7.0' \
        'google-api-core==2.44.0' \
        'google-auth-oauthlib==1.5.0' \
        'google-auth==2.63.0' \
        'google-cloud-core==2.8.0' \
        'google-cloud-storage-control==1.17.0' \
        'google-cloud-storage==3.17.1' \
        'google-crc32c==1.9.0' \
        'google-resumable-media==2.11.0' \
        'googleapis-common-protos==1.76.0' \
        'grpc-google-iam-v1==0.14.6' \
        'grpcio-status==1.85.3' \
        'grpcio==1.85.3' \
        'idna==3.20' \
        'isodate==0.7.2' \
        'jmespath==1.1.0' \
        'msal-extensions==1.3.1' \
        'msal==1.39.0' \
        'multidict==7.2.1' \
        'oauthlib==4.0.1' \
        'opentelemetry-api==1.45.2' \
        'propcache==0.5.4' \
        'proto-plus==1.29.0' \
        'protobuf==6.33.6' \
        'pyasn1==0.6.5' \
        'pyasn1_modules==0.4.2' \
        'pycparser==3.12' \
        'PyJWT==2.15.1' \
        'requests-oauthlib==2.0.0' \
        'requests==2.33.0' \
        's3fs==2026.7.0' \
        'typing_extensions==4.16.0' \
        'urllib3==2.7.0' \
        'wrapt==2.5.2' \
        'yarl==1.25.1' \
 && python3 -m pip install --no-warn-script-location --no-deps 'kfp==2.17.0' \
 && _KFP_RUNTIME=true python3 -c "import sklearn, pandas, pyarrow, joblib, s3fs, gcsfs, adlfs, kfp.dsl.executor_main"
