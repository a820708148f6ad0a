# The Lambda image: pinned runtime dependencies in their own cached layer, then the code and the served model.
# Python 3.13 on Amazon Linux 2023 (glibc 2.34), supported by Lambda to mid-2029. The base is pinned by tag and
# digest, the pair as published in a public repository's Dockerfile. Dependabot updates this first FROM (it does
# not read ARGs); the scheduled CI run passes --build-arg BASE_IMAGE=public.ecr.aws/lambda/python:3.13 to build on
# the moving tag, and records the digest it resolved. The pins resolve for this platform in tests/test_image_runtime.py.
# An ARG used by a later FROM must come before the first FROM; by default it names the pinned stage.
ARG BASE_IMAGE=pinned-base
FROM public.ecr.aws/lambda/python:3.13.2025.12.15.13@sha256:995c3cd4acfc0681c21cf04fe9754560e30a5d9c5b011b8c405ad1927ca4fdb6 AS pinned-base
FROM ${BASE_IMAGE}

COPY functions/requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir --only-binary=:all: --target "${LAMBDA_TASK_ROOT}" -r /tmp/requirements.txt

COPY functions/ ${LAMBDA_TASK_ROOT}/functions/
COPY model/ ${LAMBDA_TASK_ROOT}/model/

# Lambda runs the CMD through functions/entrypoint.sh, which hands any handler name to the base image's
# /lambda-entrypoint.sh; `docker run -p 8000:8000 IMAGE serve` runs the same API as a plain HTTP server instead.
# The scoring API; the pre-traffic hook runs the same image with ImageConfig.Command functions.api.pretraffic.handler.
EXPOSE 8000
ENTRYPOINT ["/bin/sh", "/var/task/functions/entrypoint.sh"]
CMD ["functions.api.app.handler"]
