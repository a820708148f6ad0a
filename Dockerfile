# The Lambda image: pinned runtime dependencies in their own cached layer, then the code and the served model.
# Python 3.11 runs on Amazon Linux 2 (glibc 2.26): every wheel must be manylinux2014 (tests/test_taskroot.py).
FROM public.ecr.aws/lambda/python:3.11.2026.02.28.00

COPY functions/requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir --only-binary=:all: --target "${LAMBDA_TASK_ROOT}" -r /tmp/requirements.txt

COPY functions/ ${LAMBDA_TASK_ROOT}/functions/
COPY model/ ${LAMBDA_TASK_ROOT}/model/

CMD ["functions.app.handler"]
