#!/bin/sh
# SPDX-License-Identifier: MIT
# appliance_trust.sh - placeholder until its suite lands.
echo "0 passed, 0 failed"
