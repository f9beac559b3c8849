#!/bin/sh
# SPDX-License-Identifier: MIT
# network.sh - the suites again, the module a client of hsmsimd (suites.sh).
exec sh "$(dirname "$0")/suites.sh" network
