#!/bin/sh
# Exit 0 when the app answers on its port.
exec curl -fsS -o /dev/null --max-time 5 "http://127.0.0.1:${APP_PORT:-8080}/health"
