#!/bin/sh
# SPDX-License-Identifier: MIT
# make-cert.sh - make or inspect the trust link's certificates with openssl(1).
#
#   make-cert.sh server CN DIR [DAYS]   DIR/server.key (0600), DIR/server.pem
#   make-cert.sh client CN DIR [DAYS]   DIR/CN.key (0600), DIR/CN.pem
#   make-cert.sh show FILE              subject, validity, SHA-256 fingerprint
#
# What "hsmsim-admin appliance init" and "client cert create" make, with
# the profiles of hsmsim-cert.cnf.  Exit 2 on bad arguments, 1 on failure.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
conf=$here/hsmsim-cert.cnf

usage() {
    echo "usage: make-cert.sh server|client CN DIR [DAYS] | show FILE" >&2
    exit 2
}

show() {
    [ -f "$1" ] || { echo "make-cert.sh: $1: no such file" >&2; exit 1; }
    openssl x509 -in "$1" -noout -subject -startdate -enddate \
        -fingerprint -sha256
}

[ $# -ge 1 ] || usage
case $1 in
    show)
        [ $# -eq 2 ] || usage
        show "$2"
        exit 0 ;;
    server|client) ;;
    *) usage ;;
esac
[ $# -eq 3 ] || [ $# -eq 4 ] || usage
profile=$1 cn=$2 dir=$3 days=${4:-3650}
case $cn in ""|*/*|.*) echo "make-cert.sh: bad CN '$cn'" >&2; exit 2 ;; esac
case $days in ""|*[!0-9]*) echo "make-cert.sh: bad DAYS '$days'" >&2; exit 2 ;; esac
base=$cn
[ "$profile" = server ] && base=server
mkdir -p "$dir"
key=$dir/$base.key
pem=$dir/$base.pem
if [ -e "$key" ] || [ -e "$pem" ]; then
    echo "make-cert.sh: $key or $pem exists" >&2
    exit 1
fi
# The key is created 0600 before a byte of it is written.
(umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$key" 2>/dev/null)
openssl req -new -x509 -config "$conf" -extensions "$profile" -key "$key" \
    -subj "/CN=$cn" -days "$days" -sha256 -out "$pem"
chmod 644 "$pem"
show "$pem"
