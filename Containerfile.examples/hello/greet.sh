#!/bin/sh
echo "$GREETING ($(cat /app/build-info), running as PID $$ on $(hostname))"
