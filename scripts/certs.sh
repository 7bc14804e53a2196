#!/usr/bin/env bash
# npm run certs [-- --dir DIR] [NODE...]
#
# A development CA and one certificate per node, signed by it, with openssl
# (Debian's): DIR/ca.crt, DIR/ca.key, DIR/<node>.crt, DIR/<node>.key. Each
# node certificate is good for TLS server and client use (a node is both: it
# serves HTTPS and dials wss:// peer links), with the node's name, localhost
# and 127.0.0.1 as subject alternative names. An existing CA in DIR is kept,
# so that adding a node later signs it with the same one. The default nodes
# are those of `npm start` (c1, c2, coordinator, p1..p5) and of compose
# (coordinator-1, -2, participant-1..5, chaos).
#
# For development and tests only: keys are P-256, unencrypted and readable by
# every user (the compose containers run as `node`, not as their owner).
set -euo pipefail

dir=certs
if [[ "${1:-}" == "--dir" ]]; then dir="$2"; shift 2; fi
nodes=("$@")
if [[ ${#nodes[@]} -eq 0 ]]; then
  nodes=(c1 c2 coordinator p1 p2 p3 p4 p5 coordinator-1 coordinator-2 participant-1 participant-2 participant-3 participant-4 participant-5 chaos)
fi
command -v openssl >/dev/null || { echo "certs: openssl is not installed (Debian: apt-get install openssl)" >&2; exit 1; }
mkdir -p "$dir"

if [[ ! -f "$dir/ca.key" || ! -f "$dir/ca.crt" ]]; then
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout "$dir/ca.key" -out "$dir/ca.crt" \
    -days 825 -subj "/CN=txn-commit-service development CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  echo "certs: made the CA $dir/ca.crt"
fi

for node in "${nodes[@]}"; do
  [[ "$node" =~ ^[A-Za-z0-9][A-Za-z0-9.-]*$ ]] || { echo "certs: bad node name: $node" >&2; exit 1; }
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout "$dir/$node.key" -out "$dir/$node.csr" -subj "/CN=$node" 2>/dev/null
  openssl x509 -req -in "$dir/$node.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 825 -out "$dir/$node.crt" \
    -extfile <(printf 'subjectAltName=DNS:%s,DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n' "$node") 2>/dev/null
  rm -f "$dir/$node.csr"
  chmod 644 "$dir/$node.key"
done
echo "certs: ${#nodes[@]} node certificates in $dir (${nodes[*]})"
