#!/usr/bin/env bash
# make test: the .deb's contents, unpacked into a scratch root with dpkg -x (not installed):
# every file it must ship, its control fields, and the packaged binary's --version and check-config.
set -euo pipefail
DEB=$1
SCRATCH=$(mktemp -d /tmp/smpp-deb-XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT
dpkg-deb -x "$DEB" "$SCRATCH"
problems=()
for f in usr/bin/smpp-bridge usr/share/man/man1/smpp-bridge.1.gz usr/share/man/man1/smpp-bridge.run.1.gz usr/share/man/man1/smpp-bridge.ctl.1.gz \
         usr/share/bash-completion/completions/smpp-bridge usr/share/zsh/vendor-completions/_smpp-bridge usr/share/fish/vendor_completions.d/smpp-bridge.fish \
         lib/systemd/system/smpp-bridge.service lib/systemd/system/smpp-bridge-retention.service lib/systemd/system/smpp-bridge-retention.timer \
         usr/lib/sysusers.d/smpp-bridge.conf etc/smpp-bridge/bridge.toml usr/share/doc/smpp-bridge/operations.md.gz; do
  [ -s "$SCRATCH/$f" ] || problems+=("missing $f")
done
unit="$SCRATCH/lib/systemd/system/smpp-bridge.service"
for line in "Type=notify" "RestartPreventExitStatus=2" "ExecStart=/usr/bin/smpp-bridge run" "User=smpp-bridge"; do
  grep -q "^$line" "$unit" 2>/dev/null || problems+=("smpp-bridge.service: no $line")
done
grep -q "^u smpp-bridge " "$SCRATCH/usr/lib/sysusers.d/smpp-bridge.conf" 2>/dev/null || problems+=("sysusers.d: no smpp-bridge user")
# grep -c reads its input to the end: grep -q would stop early and, under pipefail, fail the pipe on SIGPIPE.
zcat "$SCRATCH/usr/share/man/man1/smpp-bridge.1.gz" 2>/dev/null | grep -c "smpp-bridge" >/dev/null || problems+=("the man page does not name the command")
grep -q "ctl" "$SCRATCH/usr/share/bash-completion/completions/smpp-bridge" 2>/dev/null || problems+=("bash completion lacks the ctl command")
control=$(dpkg-deb -f "$DEB" Package Version Architecture Depends)
for field in "Package: smpp-bridge" "Depends: .*libpq5" "Depends: .*libssl3" "Depends: .*libcurl4"; do
  grep -q "^$field" <<< "$control" || problems+=("control: no $field")
done
grep -q "^/etc/smpp-bridge/bridge.toml$" <(dpkg-deb -I "$DEB" conffiles) || problems+=("bridge.toml is not a conffile")
bin="$SCRATCH/usr/bin/smpp-bridge"
version=$("$bin" --version) || problems+=("--version failed")
deb_version=$(dpkg-deb -f "$DEB" Version)
case "$version" in smpp-bridge\ *) ;; *) problems+=("--version says: $version");; esac
[[ "$deb_version" == *".$(git rev-parse --short=7 HEAD)" ]] || problems+=("the package version $deb_version does not name the commit")
"$bin" check-config --config "$SCRATCH/etc/smpp-bridge/bridge.toml" >/dev/null || problems+=("check-config refuses the packaged example config")
# The Swift runtime is linked in: the binary needs nothing from a Swift toolchain.
if ldd "$bin" | grep -ci swift >/dev/null; then problems+=("the binary links a Swift library dynamically: $(ldd "$bin" | grep -i swift | tr '\n' ' ')"); fi
if [ ${#problems[@]} -gt 0 ]; then printf 'check-deb FAILED:\n'; printf '  %s\n' "${problems[@]}"; exit 1; fi
echo "check-deb: $(basename "$DEB"): $(dpkg-deb -c "$DEB" | wc -l) entries; $version; check-config ok"
