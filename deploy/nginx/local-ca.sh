#!/usr/bin/env bash
# A local certificate authority and the certificates it signs, for Vigil over TLS on one
# machine (deploy/local/run.sh --tls, the tests). Not for production: use your own CA or ACME.
#
#   deploy/nginx/local-ca.sh DIR NAME HOST...
#
# Makes DIR/ca.pem and DIR/ca.key once (kept for later certificates), then DIR/NAME.pem and
# DIR/NAME.key: a server certificate for every HOST (names and IP addresses). Prints the CA's
# path: clients trust that file.
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,9p' "$0" >&2; exit 2; }
dir=$1 name=$2
shift 2
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
[[ "$name" =~ ^[A-Za-z0-9_.-]+$ ]] || { echo "local-ca: NAME is letters, digits, . _ -" >&2; exit 2; }

if [ ! -f "$dir/ca.pem" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 825 \
    -subj "/CN=Vigil local CA" -keyout "$dir/ca.key" -out "$dir/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
  chmod 600 "$dir/ca.key"
fi

san=()
for host in "$@"; do
  if [[ "$host" =~ ^[0-9.]+$ || "$host" == *:* ]]; then san+=("IP:$host"); else san+=("DNS:$host"); fi
done
ext=$(mktemp)
trap 'rm -f "$ext" "$dir/$name.csr"' EXIT
printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' \
  "$(IFS=,; echo "${san[*]}")" >"$ext"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -subj "/CN=$1" \
  -keyout "$dir/$name.key" -out "$dir/$name.csr" 2>/dev/null
openssl x509 -req -sha256 -days 825 -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
  -CAcreateserial -extfile "$ext" -out "$dir/$name.pem" 2>/dev/null
chmod 600 "$dir/$name.key"
echo "$dir/ca.pem"
