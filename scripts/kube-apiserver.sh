#!/usr/bin/env bash
# A real kube-apiserver 1.20.2 for Palisade's integration tests, built from Debian's `kubernetes` source package.
#
#   scripts/kube-apiserver.sh build        build and cache the binary (skipped when cached; needs root for apt)
#   scripts/kube-apiserver.sh start DIR    etcd + kube-apiserver on 127.0.0.1, free ports; writes DIR/kubeconfig, DIR/pids
#   scripts/kube-apiserver.sh stop DIR     stop both and remove DIR
#   scripts/kube-apiserver.sh env [DIR]    print shell exports (binary paths; KUBECONFIG when DIR is running)
#   scripts/kube-apiserver.sh sources      dry run: print the deb-src stanza the build would add (from apt's own config)
#
# Environment: PALISADE_CACHE (default ~/.cache/palisade) holds kube-apiserver-1.20.2 and the build tree.
# See scripts/kube-apiserver.md for why each step is there.
set -euo pipefail

readonly KUBE_VERSION=1.20.2
readonly DEB_VERSION=1.20.5+really1.20.2-1.1+deb12u1
readonly CACHE_DIR="${PALISADE_CACHE:-$HOME/.cache/palisade}"
readonly APISERVER_BIN="$CACHE_DIR/kube-apiserver-$KUBE_VERSION"
readonly BUILD_DIR="$CACHE_DIR/build-kubernetes-$KUBE_VERSION"
readonly MARKER=.palisade-kube-apiserver # marks a DIR this script created, so `stop` never removes anything else

say() { printf '%s\n' "kube-apiserver.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }
# Progress (dots, tool output) only when a person is watching.
is_tty() { [[ -t 1 ]]; }
progress() { if is_tty; then printf '%s' "$*"; fi; }

usage() {
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# Runs a noisy command; its output goes to the terminal, or to a log file that is shown on failure.
run_logged() {
  local log="$1"; shift
  if is_tty; then
    "$@"
  elif ! "$@" >>"$log" 2>&1; then
    say "command failed: $*"
    tail -n 40 "$log" >&2 || true
    return 1
  fi
}

# ---------------------------------------------------------------------------------------------------------------------
# build

# The machine's own Debian package source, read from its apt configuration only (one-line sources.list entries and
# deb822 .sources stanzas): prints "URI<TAB>SIGNED-BY" of the first enabled `deb` source for the release (SIGNED-BY
# may be empty). Fails when the configuration names none: no mirror is ever guessed.
# Environment: PALISADE_APT_DIR (default /etc/apt) to read another configuration, e.g. in a test.
apt_source() {
  local apt_dir="${PALISADE_APT_DIR:-/etc/apt}" codename="${1:-bookworm}" file
  local -a files=()
  [[ -f "$apt_dir/sources.list" ]] && files+=("$apt_dir/sources.list")
  for file in "$apt_dir"/sources.list.d/*.list "$apt_dir"/sources.list.d/*.sources; do
    [[ -f "$file" ]] && files+=("$file")
  done
  ((${#files[@]} > 0)) || return 1
  awk -v want="$codename" '
    function flush() {
      if (types ~ /(^| )deb( |$)/ && enabled != "no" && uri != "" && (" " suites " ") ~ (" " want " ")) { print uri "\t" signed; found = 1; exit }
      types = ""; uri = ""; suites = ""; signed = ""; enabled = ""
    }
    FNR == 1 { if (deb822) flush(); deb822 = (FILENAME ~ /\.sources$/) }
    deb822 && /^[ \t]*$/ { flush(); next }
    deb822 && /^#/ { next }
    deb822 && tolower($1) == "types:" { types = $0; sub(/^[^:]*:[ \t]*/, "", types) }
    deb822 && tolower($1) == "uris:" { uri = $2 }
    deb822 && tolower($1) == "suites:" { suites = $0; sub(/^[^:]*:[ \t]*/, "", suites) }
    deb822 && tolower($1) == "enabled:" { enabled = tolower($2) }
    deb822 && tolower($1) == "signed-by:" && NF == 2 { signed = $2 }
    !deb822 && $1 == "deb" {
      line = $0; opts = ""
      if (match(line, /\[[^]]*\]/)) { opts = substr(line, RSTART + 1, RLENGTH - 2); line = substr(line, 1, RSTART - 1) substr(line, RSTART + RLENGTH) }
      n = split(line, f, /[ \t]+/)
      if (n >= 3 && f[3] == want) {
        s = ""; m = split(opts, o, /[ \t]+/)
        for (i = 1; i <= m; i++) if (o[i] ~ /^signed-by=/) { s = o[i]; sub(/^signed-by=/, "", s) }
        print f[2] "\t" s; found = 1; exit
      }
    }
    END { if (!found && deb822) flush(); if (!found) exit 1 }
  ' "${files[@]}"
}

# The deb-src stanza the build adds: the same source and key as the machine's own `deb` entry for the release.
deb_src_stanza() {
  local codename source uri signed_by
  codename=$(. /etc/os-release 2>/dev/null && printf '%s' "${VERSION_CODENAME:-}") || true
  codename="${codename:-bookworm}"
  source=$(apt_source "$codename") || die "no enabled 'deb' source for $codename in the apt configuration (${PALISADE_APT_DIR:-/etc/apt}); add one, then run the build again"
  uri="${source%%$'\t'*}"
  signed_by="${source#*$'\t'}"
  printf 'Types: deb-src\nURIs: %s\nSuites: %s %s-updates\nComponents: main\n' "$uri" "$codename" "$codename"
  if [[ -n "$signed_by" ]]; then printf 'Signed-By: %s\n' "$signed_by"; fi
}

# Adds deb-src (from the machine's own apt source, see deb_src_stanza) unless some deb-src is already configured.
enable_deb_src() {
  local apt_dir="${PALISADE_APT_DIR:-/etc/apt}"
  if grep -rqsE '^(Types:.*deb-src|deb-src )' "$apt_dir/sources.list" "$apt_dir/sources.list.d/"; then
    return 0
  fi
  local stanza
  stanza=$(deb_src_stanza)
  say "enabling Debian source packages from the apt configuration's own source"
  printf '%s\n' "$stanza" >"$apt_dir/sources.list.d/palisade-deb-src.sources"
}

# The vendored reflect2 1.0.1 crashes (SIGSEGV in mapiternext) under Go >= 1.18 on the first custom-resource create;
# swap in Debian's reflect2 1.0.2 and json-iterator 1.1.12, as upstream Kubernetes later did.
fix_vendored_reflect2() {
  local src="$1" debs="$BUILD_DIR/debs" log="$2"
  rm -rf "$debs" && mkdir -p "$debs"
  (cd "$debs" && run_logged "$log" apt-get download golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev)
  local deb
  for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$debs/root"; done
  local pkg
  for pkg in github.com/modern-go/reflect2 github.com/json-iterator/go; do
    local from="$debs/root/usr/share/gocode/src/$pkg" to="$src/vendor/$pkg"
    [[ -d "$from" && -d "$to" ]] || die "cannot replace vendored $pkg ($from -> $to)"
    find "$to" -maxdepth 1 -type f \( -name '*.go' -o -name '*.s' \) -delete
    find "$from" -maxdepth 1 -type f \( -name '*.go' -o -name '*.s' \) ! -name '*_test.go' -exec cp {} "$to/" \;
  done
  say "replaced vendored reflect2 and json-iterator with Debian's"
}

cmd_build() {
  if [[ -x "$APISERVER_BIN" ]]; then
    say "cached: $APISERVER_BIN (delete it to rebuild)"
    return 0
  fi
  [[ $(id -u) -eq 0 ]] || die "building needs root (apt-get); no cached binary at $APISERVER_BIN"
  mkdir -p "$BUILD_DIR"
  # Several test files may ask for the binary at once: one builds, the others wait and then find it cached.
  exec 9>"$CACHE_DIR/build.lock"
  if ! flock -n 9; then
    say "another build is running; waiting for it"
    flock 9
  fi
  if [[ -x "$APISERVER_BIN" ]]; then
    say "cached: $APISERVER_BIN"
    return 0
  fi
  local log="$BUILD_DIR/build.log"
  : >"$log"
  say "building kube-apiserver $KUBE_VERSION (12-15 min on 2 cores); details in $log"

  enable_deb_src
  say "apt-get update and install of the build tools"
  run_logged "$log" apt-get update
  run_logged "$log" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    golang-go etcd-server rsync make openssl dpkg-dev

  local src="$BUILD_DIR/src"
  rm -rf "$src"
  say "fetching source package kubernetes=$DEB_VERSION"
  (cd "$BUILD_DIR" && run_logged "$log" apt-get source --download-only "kubernetes=$DEB_VERSION")
  (cd "$BUILD_DIR" && run_logged "$log" dpkg-source -x "kubernetes_${DEB_VERSION#*:}.dsc" src)
  fix_vendored_reflect2 "$src" "$log"

  say "make WHAT=cmd/kube-apiserver (GOPATH mode)"
  local home="$BUILD_DIR/home"
  mkdir -p "$home"
  (cd "$src" && run_logged "$log" env HOME="$home" CGO_ENABLED=0 GOPROXY=off GOFLAGS= \
    make WHAT=cmd/kube-apiserver)
  local out="$src/_output/bin/kube-apiserver"
  [[ -x "$out" ]] || die "make finished but $out is missing; see $log"
  cp "$out" "$APISERVER_BIN.tmp" && mv "$APISERVER_BIN.tmp" "$APISERVER_BIN"
  if [[ "${PALISADE_KEEP_BUILD:-}" != 1 ]]; then
    rm -rf "$src" "$home" "$BUILD_DIR/debs"
  fi
  say "built: $APISERVER_BIN ($("$APISERVER_BIN" --version 2>/dev/null || echo 'version unknown'))"
}

# ---------------------------------------------------------------------------------------------------------------------
# start / stop

etcd_bin() {
  command -v etcd 2>/dev/null && return 0
  [[ -x /usr/bin/etcd ]] && { echo /usr/bin/etcd; return 0; }
  return 1
}

# Prints N free TCP ports on 127.0.0.1, held open together so they differ.
free_ports() {
  node -e '
    const net = require("node:net");
    const n = Number(process.argv[1]);
    const servers = Array.from({ length: n }, () => net.createServer());
    Promise.all(servers.map((s) => new Promise((ok) => s.listen(0, "127.0.0.1", () => ok(s.address().port)))))
      .then((ports) => { console.log(ports.join(" ")); servers.forEach((s) => s.close()); });
  ' "$1"
}

alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

# Reads DIR/pids ("name pid" lines) into the globals ETCD_PID and APISERVER_PID.
read_pids() {
  ETCD_PID="" APISERVER_PID=""
  [[ -f "$1/pids" ]] || return 0
  local name pid
  while read -r name pid; do
    case "$name" in
      etcd) ETCD_PID="$pid" ;;
      kube-apiserver) APISERVER_PID="$pid" ;;
    esac
  done <"$1/pids"
}

kill_pid() {
  local pid="$1" i
  alive "$pid" || return 0
  kill "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    alive "$pid" || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}

ready() { # url token
  curl -sfk --max-time 2 -H "Authorization: Bearer $2" "$1/readyz" >/dev/null 2>&1
}

cmd_start() {
  local dir="${1:-}"
  [[ -n "$dir" ]] || die "usage: start DIR"
  [[ -x "$APISERVER_BIN" ]] || die "no kube-apiserver at $APISERVER_BIN; run: $0 build"
  local etcd
  if ! etcd=$(etcd_bin); then
    [[ $(id -u) -eq 0 ]] || die "etcd is not installed (apt-get install etcd-server) and we are not root"
    say "installing etcd-server"
    local log
    log=$(mktemp)
    run_logged "$log" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends etcd-server \
      || { run_logged "$log" apt-get update && run_logged "$log" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends etcd-server; }
    rm -f "$log"
    etcd=$(etcd_bin) || die "etcd still missing after installing etcd-server"
  fi
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)

  if [[ -f "$dir/$MARKER" ]]; then
    read_pids "$dir"
    local url="" token=""
    if [[ -f "$dir/kubeconfig" ]]; then
      url=$(awk '$1 == "server:" {print $2}' "$dir/kubeconfig")
      token=$(awk '$1 == "token:" {print $2}' "$dir/kubeconfig")
    fi
    if alive "$ETCD_PID" && alive "$APISERVER_PID" && [[ -n "$url" ]] && ready "$url" "$token"; then
      say "already running in $dir (KUBECONFIG=$dir/kubeconfig)"
      return 0
    fi
    say "stale state in $dir; cleaning up"
    kill_pid "$APISERVER_PID"
    kill_pid "$ETCD_PID"
  elif [[ -n "$(ls -A "$dir")" ]]; then
    die "$dir is not empty and was not made by this script; give a new or empty directory"
  fi
  find "$dir" -mindepth 1 -delete
  touch "$dir/$MARKER"

  local etcd_port peer_port api_port
  read -r etcd_port peer_port api_port < <(free_ports 3)
  local token
  token=$(openssl rand -hex 16)
  printf '%s,admin,admin-uid,system:masters\n' "$token" >"$dir/tokens.csv"
  openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null
  openssl rsa -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null
  mkdir -p "$dir/certs"

  # setsid + own log files + </dev/null: the servers outlive this script and hold none of its caller's pipes.
  setsid "$etcd" --name palisade --data-dir "$dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "palisade=http://127.0.0.1:$peer_port" \
    </dev/null >"$dir/etcd.log" 2>&1 &
  local etcd_pid=$!
  printf 'etcd %s\n' "$etcd_pid" >"$dir/pids"

  local i
  progress "waiting for etcd on 127.0.0.1:$etcd_port "
  for ((i = 0; i < 100; i++)); do
    curl -sf --max-time 1 "http://127.0.0.1:$etcd_port/health" >/dev/null 2>&1 && break
    alive "$etcd_pid" || { tail -n 20 "$dir/etcd.log" >&2; die "etcd exited; log: $dir/etcd.log"; }
    progress .
    sleep 0.1
  done
  progress $'\n'

  setsid "$APISERVER_BIN" --bind-address=127.0.0.1 --secure-port="$api_port" --cert-dir="$dir/certs" \
    --etcd-servers="http://127.0.0.1:$etcd_port" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$dir/sa.pub" --service-account-signing-key-file="$dir/sa.key" \
    --service-cluster-ip-range=10.96.0.0/16 --token-auth-file="$dir/tokens.csv" --authorization-mode=RBAC \
    --disable-admission-plugins=ServiceAccount --allow-privileged=true \
    </dev/null >"$dir/kube-apiserver.log" 2>&1 &
  local api_pid=$!
  printf 'kube-apiserver %s\n' "$api_pid" >>"$dir/pids"

  local url="https://127.0.0.1:$api_port"
  progress "waiting for kube-apiserver on $url "
  for ((i = 0; i < 600; i++)); do
    ready "$url" "$token" && break
    if ! alive "$api_pid"; then
      progress $'\n'
      tail -n 20 "$dir/kube-apiserver.log" >&2
      kill_pid "$etcd_pid"
      die "kube-apiserver exited; log: $dir/kube-apiserver.log"
    fi
    progress .
    sleep 0.1
  done
  progress $'\n'
  if ! ready "$url" "$token"; then
    kill_pid "$api_pid"
    kill_pid "$etcd_pid"
    die "kube-apiserver not ready after 60 s; log: $dir/kube-apiserver.log"
  fi

  # The serving cert is self-signed by the server at startup: trust exactly that file.
  cat >"$dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: palisade
    cluster:
      server: $url
      certificate-authority: $dir/certs/apiserver.crt
users:
  - name: admin
    user:
      token: $token
contexts:
  - name: palisade
    context:
      cluster: palisade
      user: admin
current-context: palisade
EOF
  say "ready: $url (KUBECONFIG=$dir/kubeconfig)"
}

cmd_stop() {
  local dir="${1:-}"
  [[ -n "$dir" ]] || die "usage: stop DIR"
  if [[ ! -d "$dir" ]]; then
    say "nothing to stop: $dir does not exist"
    return 0
  fi
  [[ -f "$dir/$MARKER" ]] || die "$dir was not made by '$0 start'; not touching it"
  read_pids "$dir"
  kill_pid "$APISERVER_PID"
  kill_pid "$ETCD_PID"
  rm -rf "$dir"
  say "stopped and removed $dir"
}

cmd_env() {
  local dir="${1:-}"
  printf 'export PALISADE_KUBE_APISERVER=%q\n' "$APISERVER_BIN"
  local etcd
  if etcd=$(etcd_bin); then printf 'export PALISADE_ETCD=%q\n' "$etcd"; fi
  if [[ -n "$dir" ]]; then
    [[ -f "$dir/kubeconfig" ]] || die "no kubeconfig in $dir; run: $0 start $dir"
    printf 'export KUBECONFIG=%q\n' "$(cd "$dir" && pwd)/kubeconfig"
  fi
}

case "${1:-}" in
  build) cmd_build ;;
  start) cmd_start "${2:-}" ;;
  stop) cmd_stop "${2:-}" ;;
  env) cmd_env "${2:-}" ;;
  sources) deb_src_stanza ;;
  *) usage ;;
esac
