#!/bin/sh
# SPDX-License-Identifier: MIT
# loopback.sh - the suites again, every call through the wire (suites.sh).
exec sh "$(dirname "$0")/suites.sh" loopback
