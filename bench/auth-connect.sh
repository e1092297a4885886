#!/usr/bin/env bash
# Connect rate with auth: 10,000 subscribers (2 generator processes) against RevenProx with
# auth_mode none, jwt HS256 and jwt ES256, the token in ?auth= (the same token for every
# connection: what a reconnect storm looks like, answered from the token cache after the
# first). Prints one line per run, REPEATS runs (default 3).
#   BIN=build-release/src/cli/revenprox bench/auth-connect.sh
set -euo pipefail
cd "$(dirname "$0")/.."
REPEATS="${REPEATS:-3}"
BIN=${BIN:-build/src/cli/revenprox}
GEN=build/bench/revenprox-bench
SECRET='bench-secret-of-at-least-32-bytes-long'
HS=$(python3 -c "
import base64,hmac,hashlib,json
b=lambda x: base64.urlsafe_b64encode(x).rstrip(b'=').decode()
si=b(json.dumps({'alg':'HS256','typ':'JWT'}).encode())+'.'+b(json.dumps({'exp':4102444800,'read':['#']}).encode())
print(si+'.'+b(hmac.new(b'$SECRET',si.encode(),hashlib.sha256).digest()))")
D=$(mktemp -d)
openssl ecparam -name prime256v1 -genkey -noout -out $D/k.pem 2>/dev/null
openssl ec -in $D/k.pem -pubout -out $D/pub.pem 2>/dev/null
ES=$(node -e "
const c=require('crypto');const fs=require('fs');
const b=(o)=>Buffer.from(JSON.stringify(o)).toString('base64url');
const si=b({alg:'ES256',typ:'JWT'})+'.'+b({exp:4102444800,read:['#']});
console.log(si+'.'+c.sign('sha256',Buffer.from(si),{key:fs.readFileSync('$D/k.pem'),dsaEncoding:'ieee-p1363'}).toString('base64url'))")
run() {
  local name=$1 q=$2; shift 2
  $BIN serve --listen 127.0.0.1:18990 --workers 2 "$@" 2>/dev/null & local pid=$!
  sleep 0.5
  $GEN sub --sub-url "http://127.0.0.1:18990/events/t{topic}$q" --conns 10000 --procs 2 \
     --source-ips 127.0.0.1-127.0.0.20 --duration 1 --server-pid $pid --json --timeout 60 2>/dev/null | tail -1 |
     python3 -c "import json,sys; d=json.loads(sys.stdin.read()); print('$name', 'connect/s', round(d['connect_rate']), 'failed', d['fail_connect'])"
  kill $pid; wait $pid 2>/dev/null || true
}
for _ in $(seq "$REPEATS"); do
run none ""
run hs256 "?auth=$HS" --auth-mode jwt --auth-jwt-secret "$SECRET"
run es256 "?auth=$ES" --auth-mode jwt --auth-jwt-key-file $D/pub.pem
done
rm -rf $D
