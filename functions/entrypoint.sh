#!/bin/sh
# The image's entry point. `serve` runs the API as a plain HTTP server (uvicorn on port 8000, API_KEY honoured)
# for hosts without Lambda: `docker run -p 8000:8000 IMAGE serve [uvicorn options]`. Anything else is a Lambda
# handler name (the CMD, or a function's ImageConfig.Command), handed unchanged to the base image's entry point.
set -eu
if [ "${1:-}" = serve ]; then
  shift
  cd "${LAMBDA_TASK_ROOT:-/var/task}"
  # 0.0.0.0 inside the container only: `docker run -p 127.0.0.1:8000:8000` decides who can reach it.
  exec python3 -m uvicorn functions.api.app:get_app --factory \
    --host "${SERVE_HOST:-0.0.0.0}" --port "${PORT:-8000}" "$@"
fi
exec "${LAMBDA_ENTRYPOINT:-/lambda-entrypoint.sh}" "$@"
